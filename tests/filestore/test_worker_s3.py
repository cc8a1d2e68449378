"""Many hosts through the object store: a worker whose MEDIA_ROOT is not the web's trains from the store,
uploads its checkpoints, and a re-run on a host with an empty disk resumes from the store's checkpoint."""
from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from datasets.models import Dataset
from jobs import services
from jobs.models import Job
from tests.conftest import wait_for
from tests.filestore.conftest import bucket_keys

pytestmark = [pytest.mark.slow, pytest.mark.worker]


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_job_on_another_host_reads_and_writes_only_the_store_and_resumes_from_its_checkpoint(
        user, api, client, criteo_csv, s3_store, settings, tmp_path, start_worker):
    web, host_b, host_c = tmp_path / "web-media", tmp_path / "host-b", tmp_path / "host-c"
    settings.MEDIA_ROOT, settings.WORKER_CACHE_DIR = web, web / "cache"

    with open(criteo_csv, "rb") as fh:
        created = api.post("/api/datasets/", {"file": fh, "name": "criteo 6k", "kind": "ctr"}, format="multipart")
    assert created.status_code == 201, created.content
    dataset = Dataset.objects.get(pk=created.json()["id"])
    assert dataset.columnar_path and {dataset.file_path, dataset.columnar_path} <= set(bucket_keys("datasets/"))
    shutil.rmtree(web / "datasets")  # after publication the web's copies are gone: a worker cannot lean on them

    name = "cpu@pytest-host"
    first = start_worker(name, env={**s3_store, "MEDIA_ROOT": str(host_b), "WORKER_CACHE_DIR": str(host_b / "cache")})
    submitted = api.post("/api/jobs/", {"dataset": dataset.pk, "algorithm": "deepfm",
                                        "params": {"epochs": 4, "batch_size": 64, "patience": 50}}, format="json")
    assert submitted.status_code == 201, submitted.content
    job = Job.objects.get(pk=submitted.json()["id"])
    checkpoint_key = f"jobs/{job.pk}/checkpoint.pt"
    wait_for(lambda: checkpoint_key in bucket_keys(f"jobs/{job.pk}/"), 90, message="the first checkpoint in the store")
    first.kill()
    killed = Job.objects.get(pk=job.pk)
    assert killed.status == "running" and killed.attempts == 1, killed.log_tail
    cached = [p.name for p in files_under(host_b / "cache")]
    assert cached and all(n.startswith(dataset.sha256) for n in cached)  # staged from the store, keyed by checksum
    assert not (host_b / "datasets").exists()  # the worker never had (or looked for) the web's dataset folder

    # The same worker name on a host with an empty disk: it re-queues its orphan and resumes from the store.
    start_worker(name, env={**s3_store, "MEDIA_ROOT": str(host_c), "WORKER_CACHE_DIR": str(host_c / "cache")})
    done = wait_for(lambda: (j := Job.objects.get(pk=job.pk)).is_terminal and j, 120, message="the resumed job")
    assert done.status == "succeeded", f"{done.error}\n{done.log_tail}"
    assert done.attempts == 2 and "fetched checkpoint.pt, job.log from the object store" in done.log_tail
    assert "resumed from epoch" in done.log_tail and done.summary["resumed_from"] >= 1
    assert "attempt 1 on" in done.log_tail and "re-queued" in done.log_tail  # the log carried over, in order
    assert done.log_tail.index("attempt 1 on") < done.log_tail.index("re-queued") < done.log_tail.index("attempt 2 on")
    assert len(done.curves["history"]) == 4 and 0.55 < done.metrics["auc"] <= 1.0
    stored = set(bucket_keys(f"jobs/{job.pk}/"))
    assert {f"jobs/{job.pk}/model.pt", f"jobs/{job.pk}/job.log", checkpoint_key} <= stored
    assert not any("/encoded/" in k for k in stored)
    for host in (host_b, host_c):  # no host wrote into the web's folder or recorded a path inside it
        assert not any(str(web) in p.read_text(errors="replace") for p in files_under(host) if p.suffix == ".log")
    assert not (web / "jobs").exists() and not (web / "datasets").exists()

    # The web serves the model from the store: its owner gets a short-lived presigned link.
    client.force_login(user)
    response = client.get(f"/jobs/{job.pk}/model/")
    assert response.status_code == 302 and "X-Amz-Signature" in response["Location"]
    with urllib.request.urlopen(response["Location"], timeout=10) as fetched:
        assert fetched.read() == (host_c / "jobs" / str(job.pk) / "model.pt").read_bytes()

    services.delete_job(done)
    assert bucket_keys(f"jobs/{job.pk}/") == []
    assert api.delete(f"/api/datasets/{dataset.pk}/").status_code == 204
    assert bucket_keys("datasets/") == []
