"""The job list's rows, formatted in Python: the same text the template filters gave."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.urls import reverse

from jobs.leaderboard import headline_fields
from jobs.models import Job
from jobs.rows import job_rows, url_for_ids

pytestmark = pytest.mark.django_db


def test_url_for_ids_reverses_like_reverse():
    for pk in (1, 42, 2_147_483_646):
        assert url_for_ids("jobs:detail")(pk) == reverse("jobs:detail", args=[pk])


def test_row_cells_read_as_on_the_page(user, ctr_dataset):
    metrics = {"auc": 0.712345, "logloss": 0.4}
    job = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="deepfm", status="running",
                             progress=0.456, phase="epoch 2/5", metrics=metrics, **headline_fields(metrics))
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc))
    plain = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="lr", status="succeeded")
    first, second = job_rows(Job.objects.filter(pk__in=[job.pk, plain.pk]).select_related("dataset").order_by("pk"))
    assert (first.url, first.dataset_url) == (reverse("jobs:detail", args=[job.pk]), ctr_dataset.get_absolute_url())
    assert (first.name, first.progress_pct, first.headline_value, first.created) == (
        f"deepfm #{job.pk}", "46", "0.7123", "2026-03-04 05:06")
    assert not first.comparable and second.comparable and second.headline_value == "" and second.device == "—"


def test_job_list_page_links_each_job_and_its_dataset(client, user, ctr_dataset):
    job = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="lr", status="succeeded")
    client.force_login(user)
    page = client.get(reverse("jobs:list")).content.decode()
    assert f'<a href="{job.get_absolute_url()}">lr #{job.pk}</a>' in page
    assert f'<a href="{ctr_dataset.get_absolute_url()}">{ctr_dataset.name}</a>' in page
    assert f'<input type="checkbox" name="ids" value="{job.pk}">' in page
