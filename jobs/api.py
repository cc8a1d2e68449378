"""REST endpoints for jobs and the algorithm catalogue."""
from __future__ import annotations

from dataclasses import asdict

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from ctrsite.openapi import ValidationErrors
from ctrsite.pagination import NewestFirstCursorPagination
from datasets.selectors import datasets_visible_to
from mlcore.querystring import parse_int

from . import services
from .models import Job
from .registry import all_algorithms
from .selectors import JobFilters, job_list, jobs_visible_to


class StoredObjectField(serializers.DictField):
    """A JSON object the job stores, returned as stored (documented as an object, like ``DictField``).

    ``DictField`` rebuilds the object key by key through a child field, which for stored JSON gives
    the same object back: 50 list rows of ~30 keys each cost ~1,500 calls for nothing.
    """

    def to_representation(self, value):
        return value


class JobSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    params = StoredObjectField(read_only=True, help_text="Validated hyperparameters, defaults filled in.")
    metrics = StoredObjectField(read_only=True, help_text="Held-out metrics: name -> number.")
    summary = StoredObjectField(read_only=True, help_text="Run facts: parameter count, speed, split sizes...")

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
    dataset = serializers.IntegerField(min_value=1)
    algorithm = serializers.CharField(max_length=64)
    params = serializers.DictField(required=False, default=dict, help_text="hyperparameter name -> value")
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    device_preference = serializers.ChoiceField(choices=Job.DevicePreference.choices, default="auto")


class ParamSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "bool", "choice", "str"])
    default = serializers.JSONField(allow_null=True)
    help = serializers.CharField(allow_blank=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField())
    log = serializers.BooleanField()


class AlgorithmSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    required_roles = serializers.ListField(child=serializers.CharField())
    params = ParamSpecSerializer(many=True)


JobMetrics = inline_serializer("JobMetrics", {
    "status": serializers.ChoiceField(choices=Job.Status.values),
    "metrics": serializers.DictField(child=serializers.FloatField(allow_null=True), help_text="name -> held-out number"),
    "summary": serializers.DictField(help_text="run facts (parameter count, speed, device, split sizes...)"),
})
CONFLICT = OpenApiResponse(ValidationErrors, description="The job's status does not allow this (e.g. it is still running)")
ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Job id")


@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("status", str, enum=Job.Status.values, description="Only jobs in this state."),
        OpenApiParameter("kind", str, description="Only jobs of this dataset kind (ctr, uplift, attributes)."),
        OpenApiParameter("algorithm", str, description="Only jobs of this algorithm key."),
        OpenApiParameter("dataset", OpenApiTypes.INT, description="Only jobs on this dataset id."),
        OpenApiParameter("q", str, description="Search: part of the job's name or algorithm."),
    ]),
    retrieve=extend_schema(parameters=[ID]),
    destroy=extend_schema(parameters=[ID]),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Jobs you own (staff: all), newest first. Filter with ?status=&kind=&algorithm=&dataset=, search names
    and algorithms with ?q=; pages are cursor pages: follow ``next`` (``?cursor=…``), ``page_size`` up to 200."""

    serializer_class = JobSerializer
    pagination_class = NewestFirstCursorPagination
    queryset = Job.objects.none()  # the real one is per user (get_queryset); this tells the schema the model
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: the model is enough
            return Job.objects.none()
        if self.action == "list":
            return job_list(self.request.user, JobFilters.from_query(self.request.query_params), api=True)
        return jobs_visible_to(self.request.user).defer("dataset__columns", "dataset__preview")

    def get_serializer_class(self):
        return JobListSerializer if self.action == "list" else JobSerializer

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer, 400: ValidationErrors})
    def create(self, request: Request) -> Response:
        body = JobCreateSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": body.errors}, status=400)
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

    @extend_schema(request=None, responses=JobSerializer, parameters=[ID])
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        """Cancel a queued job now, or a running one at its next batch."""
        job = services.cancel_job(self.get_object())
        return Response(JobSerializer(job).data)

    @extend_schema(request=None, parameters=[ID],
                   responses={201: JobSerializer, 400: ValidationErrors, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk=None) -> Response:
        """Queue a new job with this finished, failed or cancelled job's dataset, algorithm and settings (409 while it runs)."""
        job = self.get_object()
        try:
            with transaction.atomic():
                new = services.rerun_job(job, owner=request.user)
        except services.JobConflict as exc:
            return Response({"errors": exc.errors}, status=409)
        except services.JobError as exc:
            return Response({"errors": exc.errors}, status=400)
        new.refresh_from_db()
        return Response(JobSerializer(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=JobMetrics, parameters=[ID])
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, pk=None) -> Response:
        """Held-out test metrics and run facts (parameters, throughput, device)."""
        job = self.get_object()
        return Response({"status": job.status, "metrics": job.metrics, "summary": job.summary})

    @extend_schema(parameters=[ID], responses=OpenApiResponse(
        OpenApiTypes.OBJECT, description="Chart series by name: `roc` {fpr, tpr}, `calibration`, `history` (one object "
                                         "per epoch), and a kind's own curves (uplift, extraction facets); empty until "
                                         "the job succeeds."))
    @action(detail=True, methods=["get"])
    def curves(self, request: Request, pk=None) -> Response:
        """ROC, calibration and per-epoch learning curves."""
        return Response(self.get_object().curves)


@extend_schema(responses=AlgorithmSerializer(many=True))
@api_view(["GET"])
def algorithm_list(request: Request) -> Response:
    """Every trainable algorithm with its hyperparameters (type, default, bounds)."""
    return Response([
        {"key": a.key, "kind": a.kind, "label": a.label, "description": a.description,
         "required_roles": list(a.required_roles), "params": [dict(asdict(p), choices=list(p.choices)) for p in a.params]}
        for a in all_algorithms()
    ])
