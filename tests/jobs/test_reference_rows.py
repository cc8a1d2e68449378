"""Leaderboards and job pages show untrained reference rows, clearly labelled."""
from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.leaderboard import reference_label, reference_rows
from jobs.models import Job

pytestmark = pytest.mark.django_db
REFERENCES = {"item_ctr": {"auc": 0.61, "logloss": 0.66, "gauc": 0.55},
              "user_like_rate": {"auc": 0.8108, "logloss": 0.52, "gauc": 0.5}}


def _run(owner, dataset, algorithm, auc, references=None, kind="ctr"):
    return Job.objects.create(owner=owner, dataset=dataset, kind=kind, algorithm=algorithm, status="succeeded",
                              progress=1.0, metrics={"auc": auc, "logloss": 0.5},
                              summary={"references": references} if references else {})


def test_the_leaderboard_adds_the_newest_runs_references_and_marks_reference_algorithms(user, ctr_dataset):
    _run(user, ctr_dataset, "din", 0.80, {"item_ctr": {"auc": 0.1}})
    newest = _run(user, ctr_dataset, "qin", 0.75, REFERENCES)
    rows = reference_rows(Job.objects.all())
    assert [r.label for r in rows] == ["Reference (untrained): item popularity",
                                       "Reference (untrained): user's past like-rate"]
    assert rows[1].metrics["auc"] == 0.8108 and rows[1].source == newest
    assert reference_label(Job(algorithm="s_learner")).startswith("Reference")
    assert reference_label(Job(algorithm="text_similarity")) == "Reference (untrained): text similarity"
    assert reference_label(Job(algorithm="ecup")) == ""


def test_uplift_leaderboards_get_a_random_row_with_qini_zero(user, ctr_dataset):
    _run(user, ctr_dataset, "ecup", 0.7, kind="uplift")
    (row,) = reference_rows(Job.objects.all())
    assert "random" in row.label and row.metrics["sklift_qini_ctr"] == 0.0


def test_dataset_page_and_job_page_show_the_reference_rows(client, user, ctr_dataset):
    client.force_login(user)
    client_in = client
    job = _run(user, ctr_dataset, "qin", 0.7530, REFERENCES)
    page = client_in.get(ctr_dataset.get_absolute_url()).content.decode()
    assert page.count('class="reference"') == 2 and "Reference (untrained): user&#x27;s past like-rate" in page
    assert "0.8108" in page  # the like-rate's AUC, above QIN's 0.7530: the table shows it
    detail = client_in.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert 'id="references"' in detail and "Reference (untrained): item popularity" in detail and "0.8108" in detail
