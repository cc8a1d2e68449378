"""The whole "use a trained model" workflow over HTTP alone (token auth), for CTR, ECUP and HyperPAVE,
plus the targeting planner endpoints. A worker's part (running queued jobs) is played in-process."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from rest_framework.test import APIClient

from jobs.models import Job
from jobs.runner import execute_job

from ..conftest import PASSWORD, USERNAME
from .conftest import FAST_CTR, FAST_UPLIFT, catalogue_table, clicks_frame, new_products

pytestmark = pytest.mark.django_db


@pytest.fixture
def http(user, client):
    token = client.post("/api/auth/token/", {"username": USERNAME, "password": PASSWORD}).json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def upload(http, frame: pd.DataFrame, kind: str, name: str) -> int:
    buffer = io.BytesIO(frame.to_csv(index=False).encode())
    buffer.name = f"{name}.csv"
    response = http.post("/api/datasets/", {"file": buffer, "kind": kind, "name": name}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def work() -> None:
    """What a worker would do: run every queued job to the end."""
    for job in Job.objects.filter(status=Job.Status.QUEUED).order_by("pk"):
        assert execute_job(job.pk, "pytest", 1) == "succeeded", Job.objects.get(pk=job.pk).log_tail


def train(http, dataset: int, algorithm: str, params: dict) -> dict:
    response = http.post("/api/jobs/", {"dataset": dataset, "algorithm": algorithm, "params": params}, format="json")
    assert response.status_code == 201, response.content
    work()
    job = http.get(f"/api/jobs/{response.json()['id']}/").json()
    assert job["status"] == "succeeded"
    return job


def score_by_name(http, dataset: int, model: str) -> dict:
    response = http.post("/api/scoring-jobs/", {"dataset": dataset, "model": model}, format="json")
    assert response.status_code == 201, response.content
    work()
    detail = http.get(f"/api/scoring-jobs/{response.json()['id']}/").json()
    assert detail["status"] == "succeeded" and detail["predictions_dataset"]
    return detail


def download(http, scoring_id: int) -> pd.DataFrame:
    response = http.get(f"/api/scoring-jobs/{scoring_id}/predictions/?file_format=csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    csv = pd.read_csv(io.StringIO(b"".join(response.streaming_content).decode()))
    parquet = http.get(f"/api/scoring-jobs/{scoring_id}/predictions/?file_format=parquet")
    assert parquet.status_code == 200
    assert len(pd.read_parquet(io.BytesIO(b"".join(parquet.streaming_content)))) == len(csv)
    return csv


def test_ctr_train_promote_score_by_name_and_download_over_http(http, user):
    data = upload(http, clicks_frame(1500), "ctr", "clicks")
    deepfm = train(http, data, "deepfm", FAST_CTR)
    response = http.post("/api/models/promote/", {"job": deepfm["id"], "name": "click-model", "notes": "first"},
                         format="json")
    assert response.status_code == 201 and response.json()["version"] == 1 and response.json()["is_production"]

    new = clicks_frame(700, seed=9, with_label=False)
    rows = upload(http, new, "rows", "tomorrow")
    detail = score_by_name(http, rows, "click-model")
    assert detail["source_job"] == deepfm["id"] and detail["rows_scored"] == 700 and detail["drift"] == []
    scored = download(http, detail["id"])
    assert scored["row"].tolist() == list(range(700)) and scored["predicted_ctr"].between(0, 1).all()
    assert scored["predicted_ctr"].nunique() > 10

    # a second version becomes production; scoring by name follows it
    lr = train(http, data, "lr", {"epochs": 2, "min_count": 1})
    assert http.post("/api/models/promote/", {"job": lr["id"], "name": "click-model"}, format="json").json()["version"] == 2
    switched = http.post("/api/models/click-model/production/", {"version": 2}, format="json")
    assert switched.status_code == 200 and switched.json()["is_production"]
    versions = http.get("/api/models/click-model/versions/").json()
    assert [(v["version"], v["is_production"]) for v in versions] == [(2, True), (1, False)]
    assert http.get("/api/models/").json()[0]["production"]["version"] == 2
    labelled = upload(http, clicks_frame(600, seed=4), "rows", "labelled")
    detail = score_by_name(http, labelled, "click-model")
    assert detail["source_job"] == lr["id"] and {d["metric"] for d in detail["drift"]} == {"auc", "logloss"}

    card = http.get("/api/models/click-model/versions/1/export/?artifact=card")
    assert card.status_code == 200
    import json

    body = json.loads(b"".join(card.streaming_content))
    assert body["algorithm"] == "deepfm" and body["exports"]["torchscript"] == "model.torchscript.pt"
    script = http.get("/api/models/click-model/versions/1/export/?artifact=torchscript")
    assert script.status_code == 200 and len(b"".join(script.streaming_content)) > 1000

    bad = upload(http, clicks_frame(50).drop(columns=["price"]).assign(extra=1), "rows", "bad")
    refused = http.post("/api/scoring-jobs/", {"dataset": bad, "model": "click-model"}, format="json")
    assert refused.status_code == 400
    assert "missing column(s) `price`" in refused.json()["errors"]["dataset"]
    assert "extra column(s) `extra`" in refused.json()["errors"]["dataset"]
    assert http.post("/api/scoring-jobs/", {"dataset": rows, "model": "no-such"}, format="json").status_code == 400


def test_ecup_scores_per_arm_and_task_and_planner_over_http(http, user):
    from uplift.synthetic import make_chain_uplift

    frame = make_chain_uplift(1600, n_features=10, n_treatments=2, seed=3, effect_scale=1.5)
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(len(frame))])
    data = upload(http, frame, "uplift", "chain")
    ecup = train(http, data, "ecup", FAST_UPLIFT)
    assert http.post("/api/models/promote/", {"job": ecup["id"], "name": "coupon-uplift"}, format="json").status_code == 201
    new = make_chain_uplift(500, n_features=10, n_treatments=2, seed=8)[[f"f{j}" for j in range(10)]]
    new.insert(0, "user_id", [f"n{i}" for i in range(len(new))])
    detail = score_by_name(http, upload(http, new, "rows", "new users"), "coupon-uplift")
    scored = download(http, detail["id"])
    assert scored["user_id"].tolist() == new["user_id"].tolist()
    assert {f"uplift_{t}__{a}" for t in ("ctr", "ctcvr") for a in ("1", "2")} <= set(scored.columns)

    plan = http.post(f"/api/uplift/jobs/{ecup['id']}/plan/", {"arm": 1, "task": "ctcvr", "share": 0.2}, format="json")
    assert plan.status_code == 200, plan.content
    body = plan.json()
    assert body["share"] == pytest.approx(0.2) and body["users"] == pytest.approx(0.2 * 1600)
    clicks = body["outcomes"]["clicks"]
    assert clicks["model_low"] <= clicks["model"] <= clicks["model_high"]
    profit = http.post(f"/api/uplift/jobs/{ecup['id']}/plan/", {"arm": 2, "task": "ctr", "cost": 0.1, "value": 20},
                       format="json").json()
    assert "profit" in profit and 0 <= profit["share"] <= 1
    assert http.post(f"/api/uplift/jobs/{ecup['id']}/plan/", {"arm": 7, "share": 0.1}, format="json").status_code == 400
    assert http.post(f"/api/uplift/jobs/{ecup['id']}/plan/", {"arm": 1}, format="json").status_code == 400
    users = http.get(f"/api/uplift/jobs/{ecup['id']}/plan/users/?arm=1&task=ctr&share=0.25")
    assert users.status_code == 200 and users["Content-Type"] == "text/csv"
    chosen = pd.read_csv(io.StringIO(users.content.decode()))
    assert len(chosen) == round(0.25 * ecup["summary"]["n_test"]) and chosen["uplift_ctr_1"].is_monotonic_decreasing


def test_hyperpave_scores_new_products_over_http(http, user):
    data = upload(http, catalogue_table(), "attributes", "catalogue")
    run = train(http, data, "hyperpave", {"max_epochs": 20, "hidden_dim": 16, "n_splits": 1, "split": "inductive",
                                          "holdout_share": 0.2})
    assert http.post("/api/models/promote/", {"job": run["id"], "name": "shop-attributes"}, format="json").status_code == 201
    detail = score_by_name(http, upload(http, new_products(), "rows", "new products"), "shop-attributes")
    scored = download(http, detail["id"])
    assert list(scored.columns[:4]) == ["product_id", "attribute", "value", "score"]
    got = {(r.product_id, r.attribute): r.value for r in scored.itertuples()}
    assert got[("new-1", "Brand")] == "Nike" and got[("new-2", "Brand")] == "Yogi"
