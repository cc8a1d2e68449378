"""REST endpoints for extracted values: filtered keyset pages and review decisions."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from ctrsite.openapi import ValidationErrors
from mlcore.querystring import parse_int

from . import selectors, services
from .models import ExtractedValue


class ExtractedValueSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExtractedValue
        fields = ["id", "job", "product_id", "title", "category", "attribute", "value", "confidence", "stated",
                  "evidence_field", "evidence_start", "evidence_end", "is_new_value", "split", "correct", "status",
                  "reviewed_at"]
        read_only_fields = fields
        extra_kwargs = {"confidence": {"help_text": "Probability in [0, 1] that the value is right, calibrated on the "
                                                    "job's validation products (Platt scaling); 1 for values from labels."}}


ValuesPage = inline_serializer("ExtractedValuePage", {
    "results": ExtractedValueSerializer(many=True),
    "next": serializers.IntegerField(allow_null=True, help_text="Pass back as `after` for the next page; null on the last"),
})
class ReviewDecision(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
REVIEW_CONFLICT = inline_serializer("ReviewConflict", {"errors": serializers.ListField(child=serializers.CharField())})


@extend_schema(
    parameters=[
        OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Attribute-extraction job id"),
        OpenApiParameter("category", str), OpenApiParameter("attribute", str), OpenApiParameter("value", str),
        OpenApiParameter("status", str, enum=ExtractedValue.Status.values),
        OpenApiParameter("min_confidence", OpenApiTypes.NUMBER, description="Only values with confidence ≥ this (0 to 1)"),
        OpenApiParameter("q", str, description="Product id, or text in the title or value"),
        OpenApiParameter("after", OpenApiTypes.INT, description="Keyset cursor: the `next` of the previous page"),
        OpenApiParameter("size", OpenApiTypes.INT, description="Rows per page, 1 to 1000 (default 50)"),
    ],
    responses=ValuesPage,
)
@api_view(["GET"])
def job_values(request: Request, pk: int) -> Response:
    """A job's values with the browser's filters (category, attribute, value, status, min_confidence, q).

    Pages are keyset pages: pass the ``next`` cursor back as ``after``. Filters that do not parse are ignored.
    """
    job = get_object_or_404(selectors.attribute_jobs_visible_to(request.user), pk=pk)
    filters = selectors.ValueFilters.from_query(request.query_params)
    after = parse_int(request.query_params.get("after"), 0)
    size = parse_int(request.query_params.get("size"), selectors.PAGE_SIZE, minimum=1, maximum=1000)
    rows, next_after = selectors.values_page(job, filters, after, size)
    return Response({"results": ExtractedValueSerializer(rows, many=True).data, "next": next_after})


@extend_schema(
    parameters=[OpenApiParameter("value_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Extracted value id")],
    request=ReviewDecision,
    responses={200: ExtractedValueSerializer, 400: ValidationErrors,
               409: OpenApiResponse(REVIEW_CONFLICT, description="The accept contradicts a label")},
)
@api_view(["POST"])
def review(request: Request, value_id: int) -> Response:
    """``{"decision": "accept" | "reject"}``; 409 with a message when an accept contradicts a label."""
    value = get_object_or_404(
        ExtractedValue.objects.filter(job__in=selectors.attribute_jobs_visible_to(request.user)), pk=value_id)
    body = ReviewDecision(data=request.data)
    if not body.is_valid():
        return Response({"errors": body.errors}, status=400)
    try:
        services.review_value(value, user=request.user, decision=body.validated_data["decision"])
    except services.ReviewError as exc:
        return Response({"errors": [str(exc)]}, status=409)
    return Response(ExtractedValueSerializer(value).data)


urlpatterns = [
    path("jobs/<int:pk>/values/", job_values, name="job-values"),
    path("values/<int:value_id>/review/", review, name="review"),
]
