"""Jobs through the REST API and the pages: validation errors, permissions, lists, comparison."""
from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from jobs.models import Job

pytestmark = pytest.mark.django_db


def finished_job(owner, dataset, algorithm, auc):
    return Job.objects.create(
        owner=owner, dataset=dataset, kind="ctr", algorithm=algorithm, status="succeeded", progress=1.0,
        metrics={"auc": auc, "logloss": 0.6}, summary={"samples_per_s": 1000.0, "params_count": 10, "best_epoch": 2},
        curves={"roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.7, 1]},
                "history": [{"epoch": 1, "train_loss": 0.7, "valid_auc": 0.6}, {"epoch": 2, "train_loss": 0.6, "valid_auc": 0.62}],
                "calibration": {"mean_pred": [0.2, 0.6], "frac_pos": [0.25, 0.55], "count": [10, 10]}},
    )


def test_api_creates_a_job_and_reports_bad_hyperparameters(api, ctr_dataset, echo_algorithm, monkeypatch):
    from jobs import services

    monkeypatch.setattr(services, "enqueue_job", lambda job_id: None)
    bad = api.post("/api/jobs/", {"dataset": ctr_dataset.pk, "algorithm": "test_echo", "params": {"steps": -1}}, format="json")
    assert bad.status_code == 400 and "at least 1" in bad.json()["errors"]["steps"] and Job.objects.count() == 0
    ok = api.post("/api/jobs/", {"dataset": ctr_dataset.pk, "algorithm": "test_echo", "params": {"steps": 2}}, format="json")
    assert ok.status_code == 201 and ok.json()["status"] == "queued" and ok.json()["params"]["steps"] == 2


def test_algorithm_catalogue_lists_hyperparameters(api):
    catalogue = {a["key"]: a for a in api.get("/api/algorithms/").json()}
    assert {"lr", "deepfm", "dcnv2"} <= set(catalogue)
    epochs = next(p for p in catalogue["deepfm"]["params"] if p["name"] == "epochs")
    assert epochs["type"] == "int" and epochs["min"] == 1 and epochs["default"] >= 1


def test_other_users_cannot_see_or_cancel_a_job(api, user, other_user, ctr_dataset):
    job = finished_job(user, ctr_dataset, "lr", 0.6)
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get(f"/api/jobs/{job.pk}/").status_code == 404
    assert other.post(f"/api/jobs/{job.pk}/cancel/").status_code == 404
    assert other.get("/api/jobs/").json()["results"] == []
    assert other.post("/api/jobs/", {"dataset": ctr_dataset.pk, "algorithm": "lr"}, format="json").status_code == 400
    assert api.get(f"/api/jobs/{job.pk}/metrics/").json()["metrics"]["auc"] == 0.6
    assert api.get(f"/api/jobs/{job.pk}/curves/").json()["roc"]["tpr"] == [0, 0.7, 1]


def test_api_cancels_a_queued_job(api, user, ctr_dataset):
    job = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="lr")
    body = api.post(f"/api/jobs/{job.pk}/cancel/").json()
    assert body["status"] == "cancelled"


def test_pages_render_with_live_parts(client, user, ctr_dataset):
    client.force_login(user)
    job = finished_job(user, ctr_dataset, "deepfm", 0.64)
    running = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="lr", status="running",
                                 progress=0.4, phase="epoch 2/5")
    listing = client.get(reverse("jobs:list") + "?status=running")
    assert listing.status_code == 200 and b"epoch 2/5" in listing.content and b'hx-trigger="every 2s"' in listing.content
    rows = client.get(reverse("jobs:list"), HTTP_HX_REQUEST="true")
    assert b"<tr" in rows.content and b"<html" not in rows.content
    live = client.get(reverse("jobs:detail", args=[running.pk]))
    assert b'hx-trigger="every 1s"' in live.content and b"Cancel" in live.content
    done = client.get(reverse("jobs:detail", args=[job.pk]))
    assert b'data-figure="roc"' in done.content and b"vendor/plotly.min.js" in done.content
    assert b'hx-trigger' not in done.content.split(b'id="live"')[1][:200]
    form = client.get(reverse("jobs:new") + f"?dataset={ctr_dataset.pk}&algorithm=deepfm")
    assert form.status_code == 200 and b'name="param__hidden_units"' in form.content


def test_new_job_form_shows_field_errors(client, user, ctr_dataset):
    client.force_login(user)
    response = client.post(reverse("jobs:new"), {"dataset": ctr_dataset.pk, "algorithm": "deepfm", "submit": "1",
                                                 "device_preference": "auto", "param__epochs": "0"})
    assert response.status_code == 200 and b"must be at least 1" in response.content and Job.objects.count() == 0


def test_compare_page_overlays_two_runs(client, user, ctr_dataset):
    client.force_login(user)
    a = finished_job(user, ctr_dataset, "lr", 0.61)
    b = finished_job(user, ctr_dataset, "deepfm", 0.64)
    page = client.get(reverse("jobs:compare") + f"?ids={a.pk}&ids={b.pk}")
    content = page.content.decode()
    assert page.status_code == 200 and 'id="comparison"' in content and 'data-figure="roc"' in content
    assert 'class="num best">0.64' in content
    assert "inference ms / batch" in content and "inference rows/s" in content and "training samples/s" in content


def test_run_facts_show_size_speed_and_latency_with_units(client, user, ctr_dataset):
    client.force_login(user)
    job = finished_job(user, ctr_dataset, "din", 0.7)
    job.summary = {"params_count": 1234567, "samples_per_s": 45678.9, "inference_batch_size": 1024,
                   "inference_ms_per_batch": 3.456, "inference_ms_per_1k": 3.2, "inference_rows_per_s": 312500.0,
                   "best_epoch": 2, "arms": ["0", "1"], "metric_definitions": {"auuc": "long text " * 40}}
    job.save()
    content = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    facts = content.split('id="summary"')[1].split("</table>")[0]
    assert "Parameters" in facts and "1,234,567 (1.23 M)" in facts
    assert "45,679 samples/s" in facts
    assert "3.46 ms per batch of 1,024 rows · 3.20 ms per 1,000 rows · 312,500 rows/s" in facts
    assert "best_epoch" in facts and "inference_rows_per_s" not in facts
    assert "arms" in facts and "metric_definitions" not in facts  # mappings belong to a kind's panel
    b = finished_job(user, ctr_dataset, "lr", 0.6)  # an old run without latency shows a dash
    page = client.get(reverse("jobs:compare") + f"?ids={job.pk}&ids={b.pk}").content.decode()
    latency_row = page.split('id="row-inference_ms_per_batch"')[1].split("</tr>")[0]
    assert "3.46" in latency_row and "—" in latency_row


def test_static_plotly_is_served_locally(client, user):
    client.force_login(user)
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/plotly.min.js").endswith("plotly.min.js")
    assert finders.find("django_htmx/htmx-2.min.js")


@pytest.mark.django_db
def test_swagger_ui_is_local_and_links_back_to_the_app(client, user):
    client.force_login(user)
    page = client.get(reverse("api-docs")).content.decode()
    assert 'id="back-to-app"' in page and f'href="{reverse("home")}"' in page
    assert "swagger-ui" in page and "cdn" not in page.lower()


def test_new_job_form_explains_the_roles_a_sequence_model_needs(client, user, ctr_dataset, monkeypatch):
    from jobs import services

    monkeypatch.setattr(services, "enqueue_job", lambda job_id: None)
    client.force_login(user)
    form = client.get(reverse("jobs:new") + f"?dataset={ctr_dataset.pk}&algorithm=din", HTTP_HX_REQUEST="true")
    content = form.content.decode()
    assert 'id="algo-roles"' in content and "<strong>sequence</strong>" in content and "user_id, for GAUC" in content
    assert 'id="missing-roles"' in content and "has no column with the role sequence" in content
    assert ctr_dataset.get_absolute_url() in content and 'id="start-job" disabled' in content
    posted = client.post(reverse("jobs:new"), {"dataset": ctr_dataset.pk, "algorithm": "din", "submit": "1",
                                               "device_preference": "auto"})
    assert posted.status_code == 200 and b"needs a column with role sequence" in posted.content
    assert Job.objects.count() == 0
    tabular = client.get(reverse("jobs:new") + f"?dataset={ctr_dataset.pk}&algorithm=deepfm").content.decode()
    assert 'id="missing-roles"' not in tabular and 'id="start-job" disabled' not in tabular
