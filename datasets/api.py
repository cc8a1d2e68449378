"""REST endpoints for datasets: list, upload, detail, preview, roles, delete."""
from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view,
                                   inline_serializer)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ctrsite.openapi import ValidationErrors
from ctrsite.pagination import NewestFirstCursorPagination
from filestore import services as filestore

from . import services
from .kinds import kind_choices
from .models import Dataset
from .profiling import DatasetError
from .selectors import dataset_list, datasets_visible_to


class DatasetSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    label_rate = serializers.FloatField(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField(help_text="This dataset in the API: poll it while status is `profiling`.")

    page_url = serializers.CharField(source="get_absolute_url", read_only=True, help_text="The dataset's page.")

    def get_url(self, dataset: Dataset) -> str:
        request = self.context.get("request")
        path = reverse("dataset-detail", args=[dataset.pk])
        return request.build_absolute_uri(path) if request is not None else path

    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "owner", "description", "status", "source", "original_filename", "file_format",
                  "delimiter", "size_bytes", "sha256", "n_rows", "columns", "label_rate", "errors", "warnings",
                  "progress", "url", "page_url", "created_at", "validated_at"]
        read_only_fields = fields


class DatasetListSerializer(serializers.ModelSerializer):
    """A row of the dataset list: read one dataset for its ``columns`` statistics and ``label_rate``."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    n_columns = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "owner", "status", "source", "size_bytes", "n_rows", "n_columns", "created_at"]
        read_only_fields = fields


class DatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, .csv.gz or Parquet")
    name = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=(), default="ctr")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    delimiter = serializers.ChoiceField(choices=["", ",", ";", "\t", "|"], required=False, allow_blank=True, default="")
    label_column = serializers.CharField(required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices()


class RolesSerializer(serializers.Serializer):
    roles = serializers.DictField(child=serializers.CharField(), help_text="column name -> role")


def created_response(dataset: Dataset, request: Request) -> Response:
    """201 with the dataset when it was profiled in the request; 202 with its URL to poll when a worker profiles it."""
    body = DatasetSerializer(dataset, context={"request": request}).data
    return Response(body, status=202 if dataset.is_profiling else 201, headers={"Location": body["url"]})



ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Dataset id")
# what a download answers, by the stored file's format (the file as uploaded)
DOWNLOAD_TYPES = {"csv": "text/csv", "csv.gz": "application/gzip", "parquet": "application/vnd.apache.parquet"}


@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("kind", str, description="Only datasets of this kind (ctr, uplift, attributes)."),
        OpenApiParameter("q", str, description="Search: part of the dataset's name."),
    ]),
    retrieve=extend_schema(parameters=[ID]),
    destroy=extend_schema(parameters=[ID]),
)
class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Datasets you own (staff: all), newest first in cursor pages (follow ``next``). Upload with multipart
    POST; a failed upload keeps nothing."""

    serializer_class = DatasetSerializer
    queryset = Dataset.objects.none()  # the real one is per user (get_queryset); this tells the schema the model
    lookup_value_regex = r"[0-9]+"
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: the model is enough
            return Dataset.objects.none()
        if self.action == "list":
            params = self.request.query_params
            return dataset_list(self.request.user, kind=str(params.get("kind", "")), q=str(params.get("q", "")).strip())
        return datasets_visible_to(self.request.user)

    def get_serializer_class(self):
        return DatasetListSerializer if self.action == "list" else DatasetSerializer

    @extend_schema(request={"multipart/form-data": DatasetUploadSerializer},
                   responses={201: DatasetSerializer, 202: DatasetSerializer, 400: ValidationErrors,
                              413: OpenApiResponse(ValidationErrors, description="Over the upload size limit")})
    def create(self, request: Request) -> Response:
        payload = request.data  # parses the multipart body, streaming the file to disk
        upload_error = getattr(request._request, "upload_error", None)
        if upload_error:
            return Response({"errors": [upload_error]}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        data = DatasetUploadSerializer(data=payload)
        if not data.is_valid():
            return Response({"errors": [f"{k}: {' '.join(map(str, v))}" for k, v in data.errors.items()]}, status=400)
        v = data.validated_data
        try:
            dataset = services.create_dataset(
                owner=request.user, source_file=v["file"], filename=v["file"].name, name=v["name"], kind=v["kind"],
                description=v["description"], delimiter=v["delimiter"] or None,
                role_overrides={v["label_column"]: "label"} if v["label_column"] else None,
            )
        except DatasetError as exc:
            return Response({"errors": exc.messages}, status=400)
        return created_response(dataset, request)

    def perform_destroy(self, instance: Dataset) -> None:
        services.delete_dataset(instance)

    @extend_schema(parameters=[ID], responses=inline_serializer("Preview", {
        "columns": serializers.ListField(child=serializers.CharField()),
        "rows": serializers.ListField(child=serializers.ListField(child=serializers.JSONField(allow_null=True)))}))
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk=None) -> Response:
        """The first rows of the file, as read at upload."""
        return Response(self.get_object().preview)

    @extend_schema(methods=["GET"], parameters=[ID], responses=RolesSerializer)
    @extend_schema(methods=["PATCH"], parameters=[ID], request=RolesSerializer,
                   responses={200: DatasetSerializer, 400: ValidationErrors})
    @action(detail=True, methods=["get", "patch"])
    def roles(self, request: Request, pk=None) -> Response:
        """Read or correct column roles (label, categorical, numeric, sequence, ...)."""
        dataset = self.get_object()
        if request.method == "GET":
            return Response({"roles": dataset.roles})
        body = RolesSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": body.errors}, status=400)
        try:
            services.update_roles(dataset, body.validated_data["roles"])
        except DatasetError as exc:
            return Response({"errors": exc.messages}, status=400)
        return Response(DatasetSerializer(dataset).data)

    @extend_schema(parameters=[ID], responses={
        (200, media): OpenApiResponse(OpenApiTypes.BINARY, description="The file as uploaded")
        for media in [*DOWNLOAD_TYPES.values(), "application/octet-stream"]})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk=None) -> FileResponse:
        """The file as uploaded (CSV, gzip'd CSV or Parquet), with its own content type."""
        dataset = self.get_object()
        return filestore.download_response(dataset.file_path, dataset.original_filename, presign=False,
                                           content_type=DOWNLOAD_TYPES.get(dataset.file_format))
