"""The OpenAPI schema class: every operation documents the error answers the API really gives.

DRF answers 401 without credentials (token auth) and 403 for a forbidden action, 404 for an object
that is not yours or does not exist (and for a page number past the end), 400 for a body or
parameter it refuses. Views declare their own success codes and their specific errors (409,
413...) with ``@extend_schema``; this class adds the common ones they leave out, so the schema
matches what schemathesis observes (tests/ctrsite/test_api_contract.py).
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetail(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")


class ValidationErrors(serializers.Serializer):
    """400/409 bodies: ``errors`` maps a field to a message (or lists messages); DRF's own field errors
    come as ``{field: [messages]}``."""

    errors = serializers.JSONField(required=False, help_text="field -> message, or a list of messages")


DETAIL = OpenApiResponse(ErrorDetail, description="Not found, not yours, or not allowed")


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        extra = {"401": (ErrorDetail, "No or invalid credentials (send `Authorization: Token <key>`)"),
                 "403": (ErrorDetail, "Authenticated but not allowed")}
        if "{" in self.path or self._is_list_view():
            extra["404"] = (ErrorDetail, "No such object (or not yours), or a page past the end")
        # any request can be refused: a body that does not parse, a NUL in a parameter (ctrsite/middleware.py)
        extra["400"] = (ValidationErrors, "The request was refused; the body says which field to fix")
        for code, (serializer, description) in extra.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(OpenApiResponse(serializer, description=description), code,
                                                              direction=direction)
        return responses
