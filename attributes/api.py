"""REST endpoints for extracted values: filtered keyset pages and review decisions."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

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


@api_view(["GET"])
def job_values(request: Request, pk: int) -> Response:
    """A job's values with the browser's filters (category, attribute, value, status, min_confidence, q).

    Pages are keyset pages: pass the ``next`` cursor back as ``after``.
    """
    job = get_object_or_404(selectors.attribute_jobs_visible_to(request.user), pk=pk)
    filters = selectors.ValueFilters.from_query(request.query_params)
    after = parse_int(request.query_params.get("after"), 0)
    size = parse_int(request.query_params.get("size"), selectors.PAGE_SIZE, minimum=1, maximum=1000)
    rows, next_after = selectors.values_page(job, filters, after, size)
    return Response({"results": ExtractedValueSerializer(rows, many=True).data, "next": next_after})


@api_view(["POST"])
def review(request: Request, value_id: int) -> Response:
    """``{"decision": "accept" | "reject"}``; 409 with a message when an accept contradicts a label."""
    value = get_object_or_404(
        ExtractedValue.objects.filter(job__in=selectors.attribute_jobs_visible_to(request.user)), pk=value_id)
    try:
        services.review_value(value, user=request.user, decision=str(request.data.get("decision", "")))
    except services.ReviewError as exc:
        return Response({"errors": [str(exc)]}, status=409)
    return Response(ExtractedValueSerializer(value).data)


urlpatterns = [
    path("jobs/<int:pk>/values/", job_values, name="job-values"),
    path("values/<int:value_id>/review/", review, name="review"),
]
