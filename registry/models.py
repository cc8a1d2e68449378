"""The model registry: named, versioned models promoted from finished runs, one production version per name."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class ModelVersion(models.Model):
    """Version ``version`` of the model called ``name``: a frozen pointer to the run that trained it.

    ``metrics`` and ``schema`` are copied from the run when it is promoted (the run's held-out
    numbers and the columns it reads), so the registry reads them without loading the artifact.
    At most one version per name is ``is_production`` (a partial unique constraint).
    """

    name = models.SlugField(max_length=100, help_text="Letters, digits, - and _; versions share it.")
    version = models.PositiveIntegerField()
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="model_versions")
    kind = models.CharField(max_length=32)
    algorithm = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    schema = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    is_production = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_versions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_version_unique"),
            models.UniqueConstraint(fields=["name"], condition=Q(is_production=True), name="one_production_per_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}{' (production)' if self.is_production else ''}"

    def get_absolute_url(self) -> str:
        return reverse("registry:model", args=[self.name])

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"
