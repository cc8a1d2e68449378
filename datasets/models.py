"""A dataset an analyst uploaded: the file on disk and what profiling learned about it."""
from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse

from .profiling import label_rate


class Dataset(models.Model):
    class Status(models.TextChoices):
        PROFILING = "profiling", "Profiling"
        NEEDS_ROLES = "needs_roles", "Needs roles"
        READY = "ready", "Ready"
        INVALID = "invalid", "Invalid"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded"
        DEMO = "demo", "Demo (real public data)"
        SYNTHETIC = "synthetic", "Synthetic (generated)"
        DERIVED = "derived", "Built from another dataset"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, db_index=True, help_text="What the data is for: ctr, uplift or attributes.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UPLOAD)
    file_path = models.CharField(max_length=500, help_text="Path under MEDIA_ROOT; never served publicly.")
    original_filename = models.CharField(max_length=255)
    file_format = models.CharField(max_length=16)
    delimiter = models.CharField(max_length=4, blank=True)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    n_rows = models.BigIntegerField(default=0)
    columns = models.JSONField(default=list, help_text="One entry per column: name, dtype, role and statistics.")
    preview = models.JSONField(default=dict)
    columnar_path = models.CharField(
        max_length=500, blank=True,
        help_text="The typed Parquet copy every reader uses, under MEDIA_ROOT (blank: written on first use).")
    progress = models.FloatField(default=1.0, help_text="Share of the file profiled (0..1) while status is profiling.")
    requested_roles = models.JSONField(default=dict, blank=True,
                                       help_text="Roles the analyst gave at upload, applied when profiling ends.")
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [  # the dataset list and /api/datasets/ (newest first, keyset pages)
            models.Index(fields=["owner", "-created_at", "-id"], name="dataset_owner_created"),
            models.Index(fields=["-created_at", "-id"], name="dataset_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.n_rows:,} rows)"

    def get_absolute_url(self) -> str:
        return reverse("datasets:detail", args=[self.pk])

    @property
    def path(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.file_path

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def is_profiling(self) -> bool:
        return self.status == self.Status.PROFILING

    @property
    def is_synthetic(self) -> bool:
        return self.source == self.Source.SYNTHETIC

    @property
    def roles(self) -> dict[str, str]:
        return {c["name"]: c["role"] for c in self.columns}

    @property
    def label_rate(self) -> float | None:
        return label_rate(self.columns)

    def columns_with_role(self, role: str) -> list[str]:
        return [c["name"] for c in self.columns if c["role"] == role]


def upload_sessions_dir() -> Path:
    """Where unfinished chunked uploads live (setting DATASET_UPLOAD_SESSIONS_DIR)."""
    configured = settings.DATASET_UPLOAD_SESSIONS_DIR
    return Path(configured) if configured else Path(settings.MEDIA_ROOT) / "datasets" / "_uploads"


class UploadSession(models.Model):
    """A chunked, resumable upload in progress: bytes land in a staging file until it is complete.

    The received offset is the staging file's size on disk (the truth after a crash), not a counter.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_sessions")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="Total bytes the client announced.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"upload {self.id} ({self.filename}, {self.size:,} bytes)"

    @property
    def path(self) -> Path:
        return upload_sessions_dir() / f"{self.id.hex}.part"

    @property
    def received(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
