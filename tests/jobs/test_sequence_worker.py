"""Sequence models end to end on a real Celery worker: upload the FuxiCTR Taobao sample through the
API (roles inferred, two corrected), submit DIN, QIN, TIN and AW-MoE, and read their held-out
metrics, model size and inference latency back from the jobs."""
from __future__ import annotations

import math

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Job
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker]

SMALL = {
    "din": {"hidden_units": "32,16", "attention_units": "16"},
    "qin": {"num_layers": 2, "num_row": 2},
    "tin": {"hidden_units": "32,16"},
    "awmoe": {"num_experts": 2, "expert_units": "16", "attention_units": "16", "gate_units": "8"},
}


def run_jobs(api, dataset_id: int, jobs: dict[str, dict], common: dict, timeout: float) -> dict[str, Job]:
    """Submit one job per algorithm through the API and wait until all have ended; each ended job by key."""
    ids = {}
    for key, params in jobs.items():
        response = api.post("/api/jobs/", {"dataset": dataset_id, "algorithm": key, "params": {**common, **params}},
                            format="json")
        assert response.status_code == 201, response.json()
        ids[key] = response.json()["id"]

    def all_finished():
        found = list(Job.objects.filter(pk__in=ids.values()))
        return all(j.is_terminal for j in found) and found

    wait_for(all_finished, timeout, interval=0.5, message=f"the jobs {', '.join(jobs)} to finish")
    return {key: Job.objects.get(pk=pk) for key, pk in ids.items()}


@pytest.fixture
def taobao_csv(shared_data, tmp_path):
    """The three 100-row Taobao parts in one CSV with a `split` column (train / valid / test)."""
    folder = shared_data / "ctr_tiny_fixtures" / "fuxictr_taobao_tiny"
    parts = [pd.read_csv(folder / f"{part}_sample.csv").assign(split=part) for part in ("train", "valid", "test")]
    path = tmp_path / "taobao_tiny.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def test_sequence_models_train_on_a_real_worker_from_an_uploaded_taobao_sample(api, taobao_csv, start_worker):
    upload = api.post("/api/datasets/", {"file": SimpleUploadedFile(taobao_csv.name, taobao_csv.read_bytes()),
                                          "name": "taobao tiny"}, format="multipart")
    assert upload.status_code == 201, upload.json()
    dataset_id = upload.json()["id"]
    roles = {c["name"]: c["role"] for c in upload.json()["columns"]}
    assert (roles["clk"], roles["userid"], roles["adgroup_id"], roles["click_sequence"], roles["split"]) == (
        "label", "user_id", "item_id", "sequence", "split")
    fixed = api.patch(f"/api/datasets/{dataset_id}/roles/",  # hashed ids read as numbers: the analyst corrects them
                      {"roles": {"brand": "categorical", "customer": "categorical"}}, format="json")
    assert fixed.status_code == 200, fixed.json()

    start_worker()
    common = {"epochs": 1, "batch_size": 32, "embedding_dim": 8, "max_len": 10, "min_count": 1}
    finished = run_jobs(api, dataset_id, SMALL, common, 120)
    for key, job in finished.items():
        assert job.status == "succeeded", f"{key}: {job.error}\n{job.log_tail}"
        m, s = job.metrics, job.summary
        assert math.isfinite(m["auc"]) and 0 <= m["auc"] <= 1 and math.isfinite(m["logloss"]) and m["logloss"] > 0, key
        assert m["gauc"] is not None and 0 <= m["gauc"] <= 1, key  # a user_id column was inferred
        assert m["n"] == 100 and s["n_train"] == 100 and s["n_valid"] == 100, key  # the split column was honoured
        assert s["params_count"] > 0 and s["samples_per_s"] > 0, key
        assert s["inference_batch_size"] == 32 and s["inference_ms_per_batch"] > 0 and s["inference_rows_per_s"] > 0, key
        assert "sequences" in job.log_tail, key
    assert finished["awmoe"].summary["gate_entropy"] is not None


def test_suan_lightsuan_and_distillation_train_on_a_real_worker_from_uploaded_movielens_sequences(
        api, movielens_csv, start_worker):
    """The upload infers every history column (items, genres, times and the user's past feedback) as a
    sequence; SUAN, LightSUAN, the distillation job and QIN then train on a real worker."""
    upload = api.post("/api/datasets/", {"file": SimpleUploadedFile(movielens_csv.name, movielens_csv.read_bytes()),
                                          "name": "movielens 30 users"}, format="multipart")
    assert upload.status_code == 201, upload.json()
    roles = {c["name"]: c["role"] for c in upload.json()["columns"]}
    assert [roles[c] for c in ("hist_item_id", "hist_genre", "hist_time", "hist_label")] == ["sequence"] * 4
    assert (roles["label"], roles["user_id"], roles["item_id"], roles["split"]) == ("label", "user_id", "item_id", "split")

    start_worker()
    common = {"epochs": 1, "batch_size": 256, "max_len": 20}
    grade = {"embedding_dim": 8, "n_layers": 1, "n_heads": 2, "hidden_units": "32"}
    jobs = {"suan": grade, "lightsuan": {**grade, "window": 4, "dilation": 4}, "qin": {"embedding_dim": 8, "num_layers": 2},
            "suan_distill": {"teacher_embedding_dim": 8, "teacher_n_layers": 1, "student_embedding_dim": 4,
                             "student_n_layers": 1}}
    finished = run_jobs(api, upload.json()["id"], jobs, common, 180)
    for key, job in finished.items():
        assert job.status == "succeeded", f"{key}: {job.error}\n{job.log_tail}"
        assert job.metrics["n"] == 90 and 0.5 < job.metrics["auc"] <= 1, key  # 30 users x 3 test ratings
        # GAUC reported (its quality is the learnability tests' business) and latency measured
        assert job.metrics.get("gauc") is not None and job.summary["inference_ms_per_batch"] > 0, key
    distilled = finished["suan_distill"].metrics
    assert distilled["teacher_auc"] > 0.5 and distilled["student_latency_ms"] > 0 and distilled["teacher_latency_ms"] > 0
