"""Bounded, column-light, cursor-paged lists: job list page and API, leaderboard, compare picker."""
from __future__ import annotations

import os
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jobs.leaderboard import TOP_N, headline_fields
from jobs.models import Job
from jobs.selectors import leaderboard_top

pytestmark = pytest.mark.django_db

BIG_CURVES = {"roc": {"fpr": [i / 500 for i in range(500)], "tpr": [i / 500 for i in range(500)]}}


def make_jobs(owner, dataset, n: int, *, status: str = "succeeded", algorithm: str = "deepfm") -> list[Job]:
    """``n`` finished runs with distinct AUCs (job i has AUC 0.5 + i/10,000) and heavy curves."""
    jobs = [Job(owner=owner, dataset=dataset, kind="ctr", algorithm=algorithm, status=status, name=f"run {i}",
                metrics={"auc": 0.5 + i / 10_000, "logloss": 0.6}, summary={"samples_per_s": 10.0},
                curves=BIG_CURVES, log_tail="x" * 5000, **headline_fields({"auc": 0.5 + i / 10_000, "logloss": 0.6}))
            for i in range(n)]
    return Job.objects.bulk_create(jobs)


def test_headline_columns_follow_the_metrics():
    assert headline_fields({"logloss": 0.4, "auc": 0.7, "auc_low": 0.6}) == {
        "headline_metric": "auc", "headline_value": 0.7, "headline_score": 0.7}
    assert headline_fields({"val_logloss": 0.4}) == {
        "headline_metric": "val_logloss", "headline_value": 0.4, "headline_score": -0.4}
    assert headline_fields({"n": 5}) == {"headline_metric": "", "headline_value": None, "headline_score": None}


def test_saving_a_job_fills_its_headline(user, ctr_dataset):
    job = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="lr")
    assert job.headline_metric == ""
    job.metrics = {"gauc": 0.61, "logloss": 0.5}
    job.save(update_fields=["metrics"])
    job.refresh_from_db()
    assert (job.headline_metric, job.headline_value) == ("gauc", 0.61)


def test_runner_stores_the_headline_of_a_finished_job(user, ctr_dataset, echo_algorithm):
    from jobs.runner import execute_job

    job = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="test_echo",
                             params={"steps": 1, "sleep": 0.0, "fail": "no"})
    assert execute_job(job.pk, "host-a", os.getpid()) == "succeeded"
    job.refresh_from_db()
    assert (job.headline_metric, job.headline_value, job.headline_score) == ("auc", 0.75, 0.75)


def test_job_list_page_shows_one_page_and_an_older_link_that_keeps_filters(client, user, ctr_dataset):
    client.force_login(user)
    make_jobs(user, ctr_dataset, 60)
    first = client.get(reverse("jobs:list"), {"status": "succeeded"}).content.decode()
    shown = re.findall(r'<tr data-job="(\d+)"', first)
    assert len(shown) == 50
    older = re.search(r'id="older-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "cursor=" in older and "status=succeeded" in older and 'id="newer-page"' not in first
    second = client.get(reverse("jobs:list") + older).content.decode()
    rest = re.findall(r'<tr data-job="(\d+)"', second)
    assert len(rest) == 10 and not set(rest) & set(shown) and 'id="newer-page"' in second
    ids = sorted(Job.objects.values_list("id", flat=True), reverse=True)
    assert [int(i) for i in shown + rest] == ids  # newest first, no gap or repeat


def test_job_list_search_matches_name_or_algorithm(client, user, ctr_dataset):
    client.force_login(user)
    make_jobs(user, ctr_dataset, 3, algorithm="deepfm")
    make_jobs(user, ctr_dataset, 2, algorithm="dcnv2")
    Job.objects.filter(pk=Job.objects.order_by("id").first().pk).update(name="my special run")
    by_algo = client.get(reverse("jobs:list"), {"q": "DCN"}).content.decode()
    assert len(re.findall(r'<tr data-job=', by_algo)) == 2
    by_name = client.get(reverse("jobs:list"), {"q": "special"}).content.decode()
    assert len(re.findall(r'<tr data-job=', by_name)) == 1 and 'value="special"' in by_name


def test_job_list_reads_no_curves_or_logs(client, user, ctr_dataset):
    client.force_login(user)
    make_jobs(user, ctr_dataset, 5)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("jobs:list"))
        client.get("/api/jobs/")
    selects = [q["sql"] for q in queries if "jobs_job" in q["sql"] and q["sql"].startswith("SELECT")]
    assert selects and not [s for s in selects if '"curves"' in s or '"log_tail"' in s or '"preview"' in s]


def test_api_job_list_pages_by_cursor(api, user, ctr_dataset):
    make_jobs(user, ctr_dataset, 70)
    first = api.get("/api/jobs/").json()
    assert set(first) == {"next", "previous", "results"} and len(first["results"]) == 50
    assert "log_tail" not in first["results"][0] and first["results"][0]["headline_metric"] == "auc"
    assert "cursor=" in first["next"] and first["previous"] is None
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 20 and second["next"] is None
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert ids == sorted(Job.objects.values_list("id", flat=True), reverse=True)
    small = api.get("/api/jobs/", {"page_size": 5, "q": "run 1"}).json()
    assert len(small["results"]) == 5 and all("run 1" in r["name"] for r in small["results"])
    assert api.get("/api/jobs/", {"cursor": "garbage"}).status_code == 404
    detail = api.get(f"/api/jobs/{ids[0]}/").json()
    assert len(detail["log_tail"]) == 5000


def test_dataset_page_shows_the_top_runs_and_a_paged_full_leaderboard(client, user, ctr_dataset):
    client.force_login(user)
    make_jobs(user, ctr_dataset, TOP_N + 40)
    make_jobs(user, ctr_dataset, 3, status="failed")
    page = client.get(ctr_dataset.get_absolute_url()).content.decode()
    rows = re.findall(r'<tr data-job="(\d+)"', page)
    best = list(Job.objects.filter(status="succeeded").order_by("-headline_score").values_list("id", flat=True))
    assert [int(r) for r in rows] == best[:TOP_N]  # best AUC first, only the top N
    link = re.search(r'id="leaderboard-all" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    full = client.get(link).content.decode()
    assert [int(r) for r in re.findall(r'<tr data-job="(\d+)"', full)] == best[:50]
    more = re.search(r'id="older-page" href="([^"]+)"', full).group(1).replace("&amp;", "&")
    rest = client.get(reverse("jobs:leaderboard", args=[ctr_dataset.pk]) + more).content.decode()
    assert [int(r) for r in re.findall(r'<tr data-job="(\d+)"', rest)] == best[50:]


def test_leaderboard_ranks_a_loss_headline_ascending_and_shows_reference_rows(user, ctr_dataset):
    for loss in (0.7, 0.4, 0.5):
        Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="lr", status="succeeded",
                           metrics={"val_logloss": loss},
                           summary={"references": {"base_rate": {"val_logloss": 0.69}}})
    board = leaderboard_top(user, ctr_dataset.pk)
    assert board.metric == "val_logloss" and [j.metrics["val_logloss"] for j in board.runs] == [0.4, 0.5, 0.7]
    assert [(r.label, r.metrics["val_logloss"]) for r in board.references] == [("Reference (untrained): base_rate", 0.69)]
    assert not board.more


def test_leaderboard_hides_other_users_runs(user, other_user, ctr_dataset):
    make_jobs(other_user, ctr_dataset, 3)
    assert leaderboard_top(user, ctr_dataset.pk).runs == []


def test_compare_picker_is_bounded_and_paged(client, user, ctr_dataset):
    client.force_login(user)
    make_jobs(user, ctr_dataset, 60)
    page = client.get(reverse("jobs:compare"), {"dataset": ctr_dataset.pk}).content.decode()
    assert page.count('name="ids"') == 50 and 'id="older-page"' in page


def test_openapi_schema_documents_cursor_pages_and_search():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, row in (("/api/jobs/", "JobList"), ("/api/datasets/", "DatasetList")):
        operation = schema["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "page_size", "q"} <= names and "page" not in names
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        page = schema["components"]["schemas"][ref]
        assert set(page["properties"]) == {"next", "previous", "results"} and "count" not in page["properties"]
        assert page["properties"]["results"]["items"]["$ref"].endswith(f"/{row}")
