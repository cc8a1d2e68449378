"""Re-run with the same settings (service, page button, API) and "New run like this" reopening the form
with the run's own dataset, algorithm and hyperparameters (issue 11)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from jobs import services
from jobs.models import Job

pytestmark = pytest.mark.django_db
SETTINGS = {"hidden_units": "64,32", "epochs": 3, "lr": 0.005, "embedding_dim": 8, "batch_norm": True}


@pytest.fixture
def failed_job(user, ctr_dataset):
    job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="deepfm", params=SETTINGS, name="my run",
                              device_preference="cpu")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="boom")
    job.refresh_from_db()
    return job


def test_rerun_job_copies_dataset_algorithm_settings_name_and_device(user, failed_job):
    new = services.rerun_job(failed_job, owner=user)
    assert new.pk != failed_job.pk and new.status == Job.Status.QUEUED
    assert (new.dataset_id, new.algorithm, new.params, new.name, new.device_preference) == (
        failed_job.dataset_id, "deepfm", failed_job.params, "my run", "cpu")


def test_rerun_of_a_running_job_is_a_conflict(user, failed_job):
    Job.objects.filter(pk=failed_job.pk).update(status=Job.Status.RUNNING)
    failed_job.refresh_from_db()
    with pytest.raises(services.JobConflict):
        services.rerun_job(failed_job, owner=user)


def test_api_rerun_answers_201_and_409(api, failed_job):
    response = api.post(f"/api/jobs/{failed_job.pk}/rerun/")
    assert response.status_code == 201 and response.json()["params"] == failed_job.params
    running = Job.objects.get(pk=response.json()["id"])
    assert api.post(f"/api/jobs/{running.pk}/rerun/").status_code == 409
    assert api.post("/api/jobs/999999/rerun/").status_code == 404


def test_failed_job_page_has_a_one_click_rerun(client, user, failed_job):
    client.force_login(user)
    page = client.get(failed_job.get_absolute_url()).content.decode()
    assert 'id="rerun-job"' in page and reverse("jobs:rerun", args=[failed_job.pk]) in page
    response = client.post(reverse("jobs:rerun", args=[failed_job.pk]))
    new = Job.objects.exclude(pk=failed_job.pk).get()
    assert response.status_code == 302 and response["Location"] == new.get_absolute_url()
    assert new.params == failed_job.params


def test_new_run_like_this_fills_the_form_with_the_runs_own_settings(client, user, failed_job):
    client.force_login(user)
    detail = client.get(failed_job.get_absolute_url()).content.decode()
    assert f"?like={failed_job.pk}" in detail
    form = client.get(reverse("jobs:new"), {"like": failed_job.pk}).context["form"]
    assert form.initial["dataset"] == str(failed_job.dataset_id) and form.initial["algorithm"] == "deepfm"
    assert form.initial["param__hidden_units"] == "64,32" and form.initial["param__lr"] == 0.005
    assert form.initial["param__batch_norm"] is True and form.initial["device_preference"] == "cpu"
    html = client.get(reverse("jobs:new"), {"like": failed_job.pk}).content.decode()
    assert 'value="64,32"' in html and 'value="0.005"' in html


def test_new_run_like_a_job_you_cannot_see_falls_back_to_defaults(client, other_user, failed_job):
    client.force_login(other_user)
    form = client.get(reverse("jobs:new"), {"like": failed_job.pk}).context["form"]
    assert "param__hidden_units" not in form.initial
