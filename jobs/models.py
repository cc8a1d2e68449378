"""Training jobs and the workers that run them."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    class DevicePreference(models.TextChoices):
        AUTO = "auto", "GPU when a GPU worker is up, else CPU"
        CPU = "cpu", "CPU"
        GPU = "gpu", "GPU"

    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, db_index=True)
    algorithm = models.CharField(max_length=64, db_index=True)
    params = models.JSONField(default=dict, help_text="Validated hyperparameters, defaults filled in.")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="jobs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    phase = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    device_preference = models.CharField(max_length=8, choices=DevicePreference.choices, default=DevicePreference.AUTO)
    queue = models.CharField(max_length=32, blank=True)
    device = models.CharField(max_length=16, blank=True, help_text="cuda or cpu, as the worker found it.")
    celery_task_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the job's message was last sent.")
    worker = models.CharField(max_length=200, blank=True)
    worker_pid = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    curves = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.algorithm} on {self.dataset_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("jobs:detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        return self.name or f"{self.algorithm} #{self.pk}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def is_active(self) -> bool:
        return not self.is_terminal

    @property
    def workdir(self) -> Path:
        return Path(settings.MEDIA_ROOT) / "jobs" / str(self.pk)

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()


class Worker(models.Model):
    """A Celery worker process as last reported by its heartbeat."""

    hostname = models.CharField(max_length=200, unique=True)
    queues = models.JSONField(default=list)
    has_cuda = models.BooleanField(default=False)
    device_name = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    online = models.BooleanField(default=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} ({', '.join(self.queues)})"
