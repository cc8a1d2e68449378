"""REST endpoints for jobs and the algorithm catalogue."""
from __future__ import annotations

from dataclasses import asdict

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from ctrsite.pagination import NewestFirstCursorPagination
from datasets.selectors import datasets_visible_to

from . import services
from .models import Job
from .registry import all_algorithms
from .selectors import JobFilters, job_list, jobs_visible_to


class JobSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = ["id", "name", "kind", "algorithm", "params", "dataset", "dataset_name", "owner", "status", "progress",
                  "phase", "cancel_requested", "device_preference", "queue", "device", "celery_task_id", "worker",
                  "attempts", "created_at", "started_at", "finished_at", "duration_seconds", "metrics", "summary",
                  "headline_metric", "headline_value", "error", "log_tail"]
        read_only_fields = fields


class JobListSerializer(JobSerializer):
    """A row of the job list: everything but the log (read one job for its ``log_tail`` and ``/curves/``)."""

    class Meta(JobSerializer.Meta):
        fields = [f for f in JobSerializer.Meta.fields if f != "log_tail"]
        read_only_fields = fields


class JobCreateSerializer(serializers.Serializer):
    dataset = serializers.IntegerField()
    algorithm = serializers.CharField()
    params = serializers.DictField(required=False, default=dict)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    device_preference = serializers.ChoiceField(choices=Job.DevicePreference.values, default="auto")


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("status", str, enum=Job.Status.values, description="Only jobs in this state."),
    OpenApiParameter("kind", str, description="Only jobs of this dataset kind (ctr, uplift, attributes)."),
    OpenApiParameter("algorithm", str, description="Only jobs of this algorithm key."),
    OpenApiParameter("dataset", int, description="Only jobs on this dataset id."),
    OpenApiParameter("q", str, description="Search: part of the job's name or algorithm."),
]))
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Jobs you own (staff: all), newest first. Filter with ?status=&kind=&algorithm=&dataset=, search names
    and algorithms with ?q=; pages are cursor pages: follow ``next`` (``?cursor=…``), ``page_size`` up to 200."""

    serializer_class = JobSerializer
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: the model is enough
            return Job.objects.none()
        if self.action == "list":
            return job_list(self.request.user, JobFilters.from_query(self.request.query_params), api=True)
        return jobs_visible_to(self.request.user).defer("dataset__columns", "dataset__preview")

    def get_serializer_class(self):
        return JobListSerializer if self.action == "list" else JobSerializer

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request: Request) -> Response:
        body = JobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        dataset = datasets_visible_to(request.user).filter(pk=v["dataset"]).first()
        if dataset is None:
            return Response({"errors": {"dataset": "No such dataset (or it is not yours)."}}, status=400)
        try:
            with transaction.atomic():
                job = services.submit_job(owner=request.user, dataset=dataset, algorithm=v["algorithm"],
                                          params=v["params"], name=v["name"], device_preference=v["device_preference"])
        except services.JobError as exc:
            return Response({"errors": exc.errors}, status=400)
        job.refresh_from_db()  # the queue and task id were set when the transaction committed
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Job) -> None:
        services.delete_job(instance)

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        """Cancel a queued job now, or a running one at its next batch."""
        job = services.cancel_job(self.get_object())
        return Response(JobSerializer(job).data)

    @extend_schema(responses=serializers.DictField())
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk=None) -> Response:
        """Held-out test metrics and run facts (parameters, throughput, device)."""
        job = self.get_object()
        return Response({"status": job.status, "metrics": job.metrics, "summary": job.summary})

    @extend_schema(responses=serializers.DictField())
    @action(detail=True, methods=["get"])
    def curves(self, request: Request, pk=None) -> Response:
        """ROC, calibration and per-epoch learning curves."""
        return Response(self.get_object().curves)


@extend_schema(responses=serializers.ListField(child=serializers.DictField()))
@api_view(["GET"])
def algorithm_list(request: Request) -> Response:
    """Every trainable algorithm with its hyperparameters (type, default, bounds)."""
    return Response([
        {"key": a.key, "kind": a.kind, "label": a.label, "description": a.description,
         "required_roles": list(a.required_roles), "params": [dict(asdict(p), choices=list(p.choices)) for p in a.params]}
        for a in all_algorithms()
    ])
