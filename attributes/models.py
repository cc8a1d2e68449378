"""What an attribute job extracted, one row per (product, attribute, value), and its review state."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class ExtractedValue(models.Model):
    """A value a job predicted for a product (or a known label, kept for coverage and review).

    ``status`` is the provenance: ``from_labels`` (the uploaded file stated it), ``predicted``
    (the model, not yet reviewed), ``accepted`` / ``rejected`` (an analyst decided). Accepted
    values are labels on the next run of the dataset; rejected ones are kept out of it.
    """

    class Status(models.TextChoices):
        PREDICTED = "predicted", "Predicted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        FROM_LABELS = "from_labels", "From labels"

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="extracted_values")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="extracted_values")
    product_id = models.CharField(max_length=200)
    title = models.TextField(blank=True)
    category = models.CharField(max_length=200, blank=True)
    attribute = models.CharField(max_length=200)
    value = models.CharField(max_length=500)
    confidence = models.FloatField(help_text="The model's score; 1 for labels.")
    stated = models.BooleanField(default=False, help_text="The value is written in the title or description.")
    evidence_field = models.CharField(max_length=16, blank=True, help_text="title, description or empty (inferred).")
    evidence_start = models.IntegerField(null=True, blank=True)
    evidence_end = models.IntegerField(null=True, blank=True)
    evidence_text = models.TextField(blank=True, help_text="The title or description the span points into.")
    is_new_value = models.BooleanField(default=False, help_text="No training product carried this value.")
    split = models.CharField(max_length=16, blank=True, help_text="test, unlabelled, ... as the job saw the product.")
    correct = models.BooleanField(null=True, blank=True, help_text="Matches a held-out label (test products only).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREDICTED)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # the value browser's keyset pages (id order) with and without its filters
            models.Index(fields=["job", "id"], name="xv_job_id"),
            models.Index(fields=["job", "attribute", "id"], name="xv_job_attr_id"),
            models.Index(fields=["job", "attribute", "value", "id"], name="xv_job_attr_value_id"),
            models.Index(fields=["job", "status", "id"], name="xv_job_status_id"),
            models.Index(fields=["job", "category", "id"], name="xv_job_category_id"),
            # covers both coverage queries, so they read no table rows (at a million rows)
            models.Index(fields=["job", "category", "attribute", "product_id", "status", "value"],
                         name="xv_job_cells"),
            # the review queue: least confident first, skipping held-out test products, index-only
            models.Index(fields=["job", "status", "confidence", "id", "split"], name="xv_job_review_queue"),
            models.Index(fields=["job", "product_id"], name="xv_job_product"),
            models.Index(fields=["dataset", "product_id", "attribute"], name="xv_dataset_product_attr"),
            models.Index(fields=["dataset", "status"], name="xv_dataset_status"),
            models.Index(fields=["job", "reviewed_at"], name="xv_job_reviewed"),  # the coverage cache key
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.attribute} = {self.value} ({self.status})"

    @property
    def evidence_parts(self) -> tuple[str, str, str] | None:
        """(before, match, after) of the evidence text, for highlighting; None when inferred."""
        if self.evidence_start is None or self.evidence_end is None:
            return None
        text = self.evidence_text
        return text[:self.evidence_start], text[self.evidence_start:self.evidence_end], text[self.evidence_end:]
