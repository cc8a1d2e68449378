"""The build-sequences job: an analyst's own event log (here the real Taobao sample, with its
pv/fav/cart/buy action per event) becomes a behaviour-sequence CTR dataset that DIN then trains on."""
from __future__ import annotations

import pytest

from datasets.models import Dataset
from datasets.services import create_dataset
from jobs import services
from jobs.leaderboard import leaderboard
from jobs.models import Job
from jobs.runner import execute_job


def run(job: Job) -> Job:
    assert execute_job(job.pk, "pytest", 1) == "succeeded", Job.objects.get(pk=job.pk).log_tail
    job.refresh_from_db()
    return job


def test_an_uploaded_event_log_becomes_a_sequence_dataset_that_trains(transactional_db, client, user, taobao_log):
    path, log = taobao_log
    with path.open("rb") as handle:
        events = create_dataset(owner=user, source_file=handle, filename=path.name, name="my events",
                                role_overrides={"category": "categorical", "action": "categorical"})
    roles = events.roles
    assert (roles["user_id"], roles["item_id"], roles["timestamp"], roles["label"]) == ("user_id", "item_id",
                                                                                         "timestamp", "label")
    job = run(services.submit_job(owner=user, dataset=events, algorithm="build_sequences",
                                  params={"max_len": 20, "split": "time"}))
    built = Dataset.objects.get(pk=job.summary["built_dataset_id"])
    assert built.kind == "ctr" and built.source == Dataset.Source.DERIVED and built.owner == user
    assert built.n_rows == len(log) == job.summary["rows"] and job.summary["event_fields"] == ["action"]
    built_roles = built.roles
    assert [built_roles[c] for c in ("hist_item_id", "hist_category", "hist_time", "hist_label", "hist_action")] == \
        ["sequence"] * 5
    assert "action" not in built_roles  # the target's action is its label: it never becomes a feature
    assert job.metrics == {} and leaderboard([job]) == ([], [])  # no held-out metrics for a data job
    client.force_login(user)
    form = client.get(f"/jobs/new/?dataset={events.pk}&algorithm=build_sequences", HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and b"id_param__max_len" in form.content and b"id_param__feedback" in form.content
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'id="built-dataset"' in page and built.get_absolute_url() in page and "Held-out test metrics" not in page

    din = run(services.submit_job(owner=user, dataset=built, algorithm="din",
                                  params={"epochs": 1, "batch_size": 256, "embedding_dim": 8, "max_len": 20,
                                          "hidden_units": "32", "attention_units": "16", "split_method": "column"}))
    assert 0.5 < din.metrics["auc"] <= 1 and din.summary["n_test"] == job.summary["n_test"]


def test_building_needs_who_what_when_and_the_label(transactional_db, user, taobao_log):
    path, _ = taobao_log
    with path.open("rb") as handle:
        events = create_dataset(owner=user, source_file=handle, filename=path.name, name="no time",
                                role_overrides={"timestamp": "numeric"})
    with pytest.raises(services.JobError) as refused:
        services.submit_job(owner=user, dataset=events, algorithm="build_sequences", params={})
    assert "timestamp" in str(refused.value.errors) and not Job.objects.exists()
    with path.open("rb") as handle:
        good = create_dataset(owner=user, source_file=handle, filename=path.name, name="with time")
    with pytest.raises(services.JobError) as refused:  # an impossible setting is refused before a job exists
        services.submit_job(owner=user, dataset=good, algorithm="build_sequences", params={"max_len": 0})
    assert "max_len" in refused.value.errors
