"""REST endpoints for chunked, resumable uploads (see ``datasets.upload_sessions``).

``POST /api/uploads/`` {filename, size} → the session (id, offset 0); ``PUT /api/uploads/<id>/`` with
a raw body and ``Content-Range: bytes START-END/TOTAL`` appends a chunk; ``GET`` tells the received
offset (resume from there); ``POST /api/uploads/<id>/complete/`` with the dataset fields creates the
dataset (201, or 202 when a worker profiles it); ``DELETE`` abandons the upload. Owner only.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser, JSONParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import upload_sessions
from .api import DatasetSerializer, created_response
from .kinds import kind_choices
from .models import UploadSession
from .profiling import DatasetError


class UploadSessionSerializer(serializers.ModelSerializer):
    offset = serializers.IntegerField(source="received", read_only=True, help_text="Bytes received so far.")

    class Meta:
        model = UploadSession
        fields = ["id", "filename", "size", "offset", "created_at", "updated_at"]
        read_only_fields = fields


class UploadStartSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1, help_text="Total bytes of the file.")


class UploadCompleteSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=(), default="ctr")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    delimiter = serializers.ChoiceField(choices=["", ",", ";", "\t", "|"], required=False, allow_blank=True, default="")
    label_column = serializers.CharField(required=False, allow_blank=True, default="")
    roles = serializers.DictField(child=serializers.CharField(), required=False, default=dict,
                                  help_text="column name -> role, taken as confirmed")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices()


class UploadErrorSerializer(serializers.Serializer):
    errors = serializers.ListField(required=False, child=serializers.CharField())
    offset = serializers.IntegerField(required=False)
    detail = serializers.CharField(required=False, help_text="a request refused before it reached the view "
                                   "(a body that does not parse, a NUL character)")


class RawChunkParser(BaseParser):
    """Declares the chunk body type; the view streams the body itself (never into memory)."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


def _error(exc: upload_sessions.UploadError) -> Response:
    body = {"errors": [exc.message]}
    if exc.offset is not None:
        body["offset"] = exc.offset
    return Response(body, status=exc.status)


def _own_session(request: Request, pk) -> UploadSession:
    return get_object_or_404(UploadSession.objects.filter(owner=request.user), pk=pk)


class UploadListView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=UploadStartSerializer, responses={201: UploadSessionSerializer, 400: UploadErrorSerializer,
                                                            413: UploadErrorSerializer})
    def post(self, request: Request) -> Response:
        """Start a chunked upload of a file of ``size`` bytes."""
        body = UploadStartSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": [f"{k}: {' '.join(map(str, v))}" for k, v in body.errors.items()]}, status=400)
        try:
            session = upload_sessions.start_upload(owner=request.user, **body.validated_data)
        except upload_sessions.UploadError as exc:
            return _error(exc)
        return Response(UploadSessionSerializer(session).data, status=201)


class UploadDetailView(APIView):
    parser_classes = [RawChunkParser]

    @extend_schema(responses={200: UploadSessionSerializer})
    def get(self, request: Request, pk) -> Response:
        """The received offset: after a failed chunk, resume from here."""
        return Response(UploadSessionSerializer(_own_session(request, pk)).data)

    @extend_schema(request={"application/octet-stream": bytes},
                   parameters=[OpenApiParameter("Content-Range", str, OpenApiParameter.HEADER, required=True,
                                                description="bytes START-END/TOTAL (END inclusive)")],
                   responses={200: UploadSessionSerializer, 400: UploadErrorSerializer, 409: UploadErrorSerializer,
                              413: UploadErrorSerializer, 416: UploadErrorSerializer})
    def put(self, request: Request, pk) -> Response:
        """Append one chunk at the received offset."""
        session = _own_session(request, pk)
        raw = request._request
        length = raw.META.get("CONTENT_LENGTH")
        try:
            upload_sessions.append_chunk(session, raw.META.get("HTTP_CONTENT_RANGE"), raw,
                                         int(length) if length and length.isdigit() else None)
        except upload_sessions.UploadError as exc:
            return _error(exc)
        return Response(UploadSessionSerializer(session).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk) -> Response:
        """Abandon the upload and delete what was received."""
        upload_sessions.abort_upload(_own_session(request, pk))
        return Response(status=204)


class UploadCompleteView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=UploadCompleteSerializer, responses={201: DatasetSerializer, 202: DatasetSerializer,
                                                               400: UploadErrorSerializer, 409: UploadErrorSerializer})
    def post(self, request: Request, pk) -> Response:
        """Create the dataset from the received file (the same ingest as a single-request upload)."""
        session = _own_session(request, pk)
        body = UploadCompleteSerializer(data=request.data)
        if not body.is_valid():
            return Response({"errors": [f"{k}: {' '.join(map(str, v))}" for k, v in body.errors.items()]}, status=400)
        v = body.validated_data
        roles = dict(v["roles"])
        if v["label_column"]:
            roles[v["label_column"]] = "label"
        try:
            dataset = upload_sessions.complete_upload(
                session, name=v["name"], kind=v["kind"], description=v["description"],
                delimiter=v["delimiter"] or None, role_overrides=roles or None)
        except upload_sessions.UploadError as exc:
            return _error(exc)
        except DatasetError as exc:
            return Response({"errors": exc.messages}, status=400)
        return created_response(dataset, request)


urlpatterns = [
    path("", UploadListView.as_view(), name="upload-list"),
    path("<uuid:pk>/", UploadDetailView.as_view(), name="upload-detail"),
    path("<uuid:pk>/complete/", UploadCompleteView.as_view(), name="upload-complete"),
]
