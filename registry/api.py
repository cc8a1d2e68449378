"""REST endpoints: scoring jobs (create, list, detail, predictions download), the model registry
(names, versions, promote, set production) and export downloads (TorchScript, ONNX, card, encoder)."""
from __future__ import annotations

from django.db import transaction
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from datasets.models import Dataset
from datasets.selectors import datasets_visible_to
from jobs.models import Job
from jobs.selectors import jobs_visible_to

from . import export as E
from . import selectors, services
from .downloads import predictions_csv_chunks
from .models import ModelVersion


class RegistryErrorSerializer(serializers.Serializer):
    errors = serializers.DictField(required=False, child=serializers.CharField(), help_text="field -> what to fix")
    detail = serializers.CharField(required=False, help_text="a request refused before it reached the view "
                                   "(a body that does not parse, a NUL character)")


class DriftRowSerializer(serializers.Serializer):
    metric = serializers.CharField()
    training = serializers.FloatField(allow_null=True, help_text="The source run's held-out value.")
    new_rows = serializers.FloatField(allow_null=True, help_text="The same metric on the scored rows' labels.")


class ScoringJobSerializer(serializers.ModelSerializer):
    source_job = serializers.IntegerField(source="params.source_job", read_only=True)
    model_version = serializers.CharField(source="summary.model_version", read_only=True, default="")
    predictions_dataset = serializers.IntegerField(source="summary.predictions_dataset_id", read_only=True,
                                                   allow_null=True, default=None)
    rows_scored = serializers.IntegerField(source="summary.rows_scored", read_only=True, allow_null=True, default=None)
    scoring_rows_per_s = serializers.FloatField(source="summary.scoring_rows_per_s", read_only=True, allow_null=True,
                                                default=None)
    drift = DriftRowSerializer(source="summary.drift", many=True, read_only=True, default=list)
    labelled_metrics = serializers.DictField(source="summary.labelled_metrics", child=serializers.FloatField(),
                                             read_only=True, default=dict)

    class Meta:
        model = Job
        fields = ["id", "name", "dataset", "status", "progress", "phase", "created_at", "finished_at", "error",
                  "source_job", "model_version", "predictions_dataset", "rows_scored", "scoring_rows_per_s", "drift",
                  "labelled_metrics", "log_tail"]
        read_only_fields = fields


class ScoringJobCreateSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(help_text="Dataset of new rows (same columns as the training data; labels optional).")
    source_job = serializers.IntegerField(required=False, help_text="A finished run whose model scores the rows ...")
    model = serializers.CharField(required=False, help_text="... or a registered model name (its production version).")
    model_version = serializers.IntegerField(required=False, min_value=1, help_text="A version of `model` instead of production.")
    chunk_rows = serializers.IntegerField(required=False, default=services.DEFAULT_CHUNK_ROWS)
    name = serializers.CharField(required=False, allow_blank=True, default="")


def invalid(body: serializers.Serializer) -> Response:
    """400 with one message per field of a request body that did not validate."""
    return Response({"errors": {k: " ".join(map(str, v)) for k, v in body.errors.items()}}, status=400)


SCORING_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Scoring job id")


@extend_schema_view(retrieve=extend_schema(parameters=[SCORING_ID]))
class ScoringJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scoring jobs you own (staff: all): score a dataset of new rows with a run or a registered model."""

    serializer_class = ScoringJobSerializer
    queryset = Job.objects.none()  # the real one is per user (get_queryset); this tells the schema the model
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return selectors.scoring_jobs_visible_to(self.request.user)

    @extend_schema(request=ScoringJobCreateSerializer, responses={201: ScoringJobSerializer, 400: RegistryErrorSerializer})
    def create(self, request: Request) -> Response:
        body = ScoringJobCreateSerializer(data=request.data)
        if not body.is_valid():
            return invalid(body)
        v = body.validated_data
        dataset = datasets_visible_to(request.user).filter(pk=v["dataset"]).first()
        if dataset is None:
            return Response({"errors": {"dataset": "No such dataset (or it is not yours)."}}, status=400)
        source = None
        if v.get("source_job"):
            source = jobs_visible_to(request.user).filter(pk=v["source_job"]).first()
            if source is None:
                return Response({"errors": {"source_job": "No such run (or it is not yours)."}}, status=400)
        try:
            with transaction.atomic():
                job = services.submit_scoring_job(owner=request.user, dataset=dataset, source_job=source,
                                                  model_name=v.get("model", ""), model_version=v.get("model_version"),
                                                  chunk_rows=v["chunk_rows"], name=v["name"])
        except services.RegistryError as exc:
            return Response({"errors": exc.errors}, status=400)
        job.refresh_from_db()
        return Response(ScoringJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[SCORING_ID, OpenApiParameter("file_format", str, enum=["csv", "parquet"], default="csv")],
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="the predictions"),
                              (200, "application/vnd.apache.parquet"): OpenApiResponse(OpenApiTypes.BINARY),
                              404: OpenApiResponse(description="the job has not finished")})
    @action(detail=True, methods=["get"])
    def predictions(self, request: Request, pk=None):
        """The predictions dataset of a finished scoring job, as CSV (streamed) or Parquet."""
        job = self.get_object()
        dataset = predictions_dataset(job, request.user)
        return predictions_response(dataset, request.query_params.get("file_format", "csv"))


def predictions_dataset(job: Job, user) -> Dataset:
    pk = (job.summary or {}).get("predictions_dataset_id")
    dataset = datasets_visible_to(user).filter(pk=pk).first() if pk else None
    if job.status != Job.Status.SUCCEEDED or dataset is None:
        raise Http404("This scoring job has no predictions (yet).")
    return dataset


def predictions_response(dataset: Dataset, fmt: str):
    """CSV streamed chunk by chunk from the columnar copy, or the stored Parquet file."""
    stem = dataset.original_filename.rsplit(".", 1)[0]
    if fmt == "parquet":
        return FileResponse(open(dataset.path, "rb"), as_attachment=True, filename=f"{stem}.parquet",
                            content_type="application/vnd.apache.parquet")
    if fmt != "csv":
        raise Http404("Formats: csv, parquet.")
    response = StreamingHttpResponse(predictions_csv_chunks(dataset), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    return response


class ModelVersionSerializer(serializers.ModelSerializer):
    job = serializers.IntegerField(source="job_id", read_only=True, help_text="The run that trained it.")
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    dataset = serializers.CharField(source="job.dataset.name", read_only=True, help_text="Its training data.")

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "version", "kind", "algorithm", "job", "dataset", "metrics", "schema", "notes",
                  "is_production", "created_by", "created_at"]
        read_only_fields = fields


class ModelNameSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    versions = serializers.IntegerField()
    latest = ModelVersionSerializer()
    production = ModelVersionSerializer(allow_null=True)


class PromoteSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="A succeeded CTR, uplift or attribute run.")
    name = serializers.CharField(max_length=100)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    production = serializers.BooleanField(required=False, default=False,
                                          help_text="Make it production now (the first version always is).")


class SetProductionSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


@extend_schema(responses=ModelNameSerializer(many=True))
@api_view(["GET"])
def model_list(request: Request) -> Response:
    """Every model name you can see, with its latest and production versions."""
    return Response(ModelNameSerializer(selectors.model_names(request.user), many=True).data)


@extend_schema(responses={200: ModelVersionSerializer(many=True)})
@api_view(["GET"])
def model_versions(request: Request, name: str) -> Response:
    """All versions of one model, newest first."""
    versions = selectors.versions_visible_to(request.user).filter(name=name).order_by("-version")
    if not versions:
        raise Http404(f"No model called {name!r}.")
    return Response(ModelVersionSerializer(versions, many=True).data)


@extend_schema(request=PromoteSerializer, responses={201: ModelVersionSerializer, 400: RegistryErrorSerializer})
@api_view(["POST"])
def promote(request: Request) -> Response:
    """Promote a succeeded run to the next version of a named model."""
    body = PromoteSerializer(data=request.data)
    if not body.is_valid():
        return invalid(body)
    v = body.validated_data
    job = jobs_visible_to(request.user).filter(pk=v["job"]).first()
    if job is None:
        return Response({"errors": {"job": "No such run (or it is not yours)."}}, status=400)
    try:
        version = services.promote_run(job=job, name=v["name"], user=request.user, notes=v["notes"],
                                       production=v["production"])
    except services.RegistryError as exc:
        return Response({"errors": exc.errors}, status=400)
    return Response(ModelVersionSerializer(version).data, status=201)


@extend_schema(request=SetProductionSerializer, responses={200: ModelVersionSerializer, 404: OpenApiResponse(description="no such version")})
@api_view(["POST"])
def set_production(request: Request, name: str) -> Response:
    """Make one version the production version of its name (the previous one steps down atomically)."""
    body = SetProductionSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    version = get_object_or_404(selectors.versions_visible_to(request.user), name=name,
                                version=body.validated_data["version"])
    return Response(ModelVersionSerializer(services.set_production(version)).data)


EXPORT_FILES = {"torchscript": (E.TORCHSCRIPT_FILE, "application/octet-stream"),
                "onnx": (E.ONNX_FILE, "application/octet-stream"),
                "card": (E.CARD_FILE, "application/json"), "card_md": (E.CARD_MD_FILE, "text/markdown"),
                "encoder": (E.ENCODER_FILE, "application/json")}


@extend_schema(parameters=[OpenApiParameter("artifact", str, enum=list(EXPORT_FILES), default="torchscript")],
               responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="TorchScript or ONNX"),
                          (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="model card or encoder"),
                          (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description="model card"),
                          400: RegistryErrorSerializer, 404: OpenApiResponse(description="not exported for this model")})
@api_view(["GET"])
def export_download(request: Request, name: str, version: int):
    """Exported files of a CTR model version (written on first request): TorchScript, ONNX, card, encoder."""
    chosen = get_object_or_404(selectors.versions_visible_to(request.user), name=name, version=version)
    which = request.query_params.get("artifact", "torchscript")
    if which not in EXPORT_FILES:
        return Response({"errors": {"artifact": f"choose one of {', '.join(EXPORT_FILES)}"}}, status=400)
    try:
        services.export_version(chosen)
    except services.RegistryError as exc:
        return Response({"errors": exc.errors}, status=400)
    filename, content_type = EXPORT_FILES[which]
    path = services.export_folder(chosen) / filename
    if not path.exists():
        raise Http404(f"No {which} export for this model; the model card says why.")
    return FileResponse(open(path, "rb"), as_attachment=True, content_type=content_type,
                        filename=f"{chosen.name}-v{chosen.version}-{filename}")


urlpatterns = [
    path("models/", model_list, name="models"),
    path("models/promote/", promote, name="promote"),
    path("models/<slug:name>/versions/", model_versions, name="versions"),
    path("models/<slug:name>/production/", set_production, name="set-production"),
    path("models/<slug:name>/versions/<int:version>/export/", export_download, name="export"),
]
