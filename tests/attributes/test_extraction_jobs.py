"""Attribute jobs through the job runner: stored values with evidence, review, labels on the next run."""
from __future__ import annotations

import pytest

from attributes.models import ExtractedValue
from attributes.services import review_labels, review_value

from .conftest import run_attribute_job

pytestmark = pytest.mark.django_db
Status = ExtractedValue.Status


def test_text_similarity_job_stores_predictions_with_evidence(extraction_job, attributes_dataset):
    job = extraction_job
    values = ExtractedValue.objects.filter(job=job)
    predicted = values.filter(status=Status.PREDICTED)
    assert job.summary["extracted_rows"] == values.count()
    assert predicted.count() == job.summary["predicted_values"] > 0
    assert values.filter(status=Status.FROM_LABELS).count() > 0
    assert set(predicted.values_list("split", flat=True)) == {"test", "unlabelled"}
    stated = predicted.filter(stated=True).first()
    assert stated.evidence_field == "title" and stated.title == stated.evidence_text
    assert stated.evidence_text[stated.evidence_start:stated.evidence_end].lower() == stated.value.lower()
    inferred = predicted.filter(stated=False).first()
    assert inferred is None or inferred.evidence_start is None
    # every one of the 15 unlabelled products is a row source, with its title and category
    unlabelled = set(predicted.filter(split="unlabelled").values_list("product_id", flat=True))
    assert unlabelled and all(v.category for v in predicted[:20])
    assert "micro_f1_std" in job.metrics and job.curves["per_attribute"]
    facets = job.curves["extraction"]  # menus and coverage read these instead of scanning the rows
    assert facets["attributes"] == sorted(set(values.values_list("attribute", flat=True)))
    assert sum(facets["categories"].values()) == values.values("product_id").distinct().count()
    # held-out test products are measured, not reviewed: the queue holds the unlabelled ones
    from attributes.selectors import review_queryset

    assert set(review_queryset(job).values_list("split", flat=True)) == {"unlabelled"}


def test_accepted_values_are_labels_on_the_next_run_and_rejected_ones_are_not(extraction_job, user):
    job = extraction_job
    accepted = ExtractedValue.objects.filter(job=job, status=Status.PREDICTED, split="unlabelled").first()
    review_value(accepted, user=user, decision="accept")
    label = ExtractedValue.objects.filter(job=job, status=Status.FROM_LABELS).last()
    # a reviewer rejects a value the file states (e.g. a wrong label): it must leave the labels
    ExtractedValue.objects.filter(pk=label.pk).update(status=Status.REJECTED)
    frames = review_labels(job.dataset)
    assert len(frames["accepted_labels"]) == 1 and len(frames["rejected_labels"]) == 1

    second = run_attribute_job(user, job.dataset, n_splits=1)
    labels = ExtractedValue.objects.filter(job=second, status=Status.FROM_LABELS)
    assert labels.filter(product_id=accepted.product_id, attribute=accepted.attribute, value=accepted.value).exists()
    assert not labels.filter(product_id=label.product_id, attribute=label.attribute, value=label.value).exists()
    assert second.summary["labels"] == job.summary["labels"]  # one label gained, one lost
