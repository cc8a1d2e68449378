"""Uplift inside the product: registration, upload through the API, jobs run by the job runner, job page,
planner JSON and CSV export, comparison page."""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from datasets.kinds import get_kind
from datasets.services import create_dataset
from jobs import services
from jobs.charts import comparison_charts, job_charts, kind_panel
from jobs.registry import algorithms_for_kind
from jobs.runner import execute_job
from mlcore.paths import shared_data_dir
from uplift.synthetic import make_chain_uplift

pytestmark = pytest.mark.django_db
HILLSTROM = "hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
FAST = {"epochs": 2, "batch_size": 256, "n_bootstrap": 20, "tower_hidden": "32", "embedding_dim": 8}


@pytest.fixture
def synthetic_dataset(user, tmp_path):
    frame = make_chain_uplift(2400, n_features=10, n_treatments=2, seed=3, effect_scale=1.5)
    frame.insert(0, "user_id", [f"u{i:05d}" for i in range(len(frame))])
    path = tmp_path / "chain.csv"
    frame.to_csv(path, index=False)
    return create_dataset(owner=user, source_file=path, filename=path.name, name="generated chain", kind="uplift")


def run_job(user, dataset, algorithm, **params):
    job = services.submit_job(owner=user, dataset=dataset, algorithm=algorithm, params=params)
    assert execute_job(job.pk, "pytest", 1) == "succeeded", job.__class__.objects.get(pk=job.pk).error
    job.refresh_from_db()
    return job


def test_uplift_kind_algorithms_and_charts_are_registered():
    assert get_kind("uplift").label.startswith("Uplift")
    assert {a.key for a in algorithms_for_kind("uplift")} == {"ecup", "s_learner", "t_learner", "tarnet", "dragonnet",
                                                             "gbm_two_model"}


def test_hillstrom_upload_through_the_api_infers_roles(api, tmp_path):
    source = shared_data_dir() / HILLSTROM
    if not source.exists():
        pytest.skip(f"shared Hillstrom data not found under {shared_data_dir()}")
    path = tmp_path / "hillstrom_2k.csv"
    pd.read_csv(source, nrows=2000).to_csv(path, index=False)
    with open(path, "rb") as fh:
        response = api.post("/api/datasets/", {"file": fh, "kind": "uplift", "name": "Hillstrom 2k"}, format="multipart")
    assert response.status_code == 201, response.json()
    roles = {c["name"]: c["role"] for c in response.json()["columns"]}
    assert roles["segment"] == "treatment" and roles["visit"] == "visit" and roles["conversion"] == "conversion"
    assert roles["spend"] == "revenue" and roles["history_segment"] == "categorical"


def test_uplift_upload_without_a_treatment_is_refused_with_the_reason(api, tmp_path):
    path = tmp_path / "no_arm.csv"
    path.write_text("f0,click,conversion\n" + "".join(f"{i / 10},{i % 2},0\n" for i in range(50)))
    with open(path, "rb") as fh:
        response = api.post("/api/datasets/", {"file": fh, "kind": "uplift"}, format="multipart")
    assert response.status_code == 400
    assert any("No treatment column" in e for e in response.json()["errors"])


def test_new_job_form_lists_uplift_algorithms_with_their_params(client, user, synthetic_dataset):
    client.force_login(user)
    page = client.get(f"/jobs/new/?dataset={synthetic_dataset.pk}&algorithm=ecup").content.decode()
    assert "ECUP" in page and "Gradient-boosted two-model" in page
    assert "id_param__attention_heads" in page and "id_param__n_bootstrap" in page


def test_ecup_job_page_planner_and_export(client, user, synthetic_dataset):
    job = run_job(user, synthetic_dataset, "ecup", **FAST)
    assert (job.workdir / "heldout_scores.parquet").exists()
    scores = pd.read_parquet(job.workdir / "heldout_scores.parquet")
    assert len(scores) == job.summary["n_test"]
    assert {"row", "user_id", "arm", "click", "conversion", "uplift_ctr_1", "uplift_ctcvr_2"} <= set(scores.columns)
    ids = {c.rstrip() for c in scores["user_id"]}
    assert all(f"u{r:05d}" in ids for r in scores["row"])  # row positions point at the right users

    assert len(job.curves["ctr"]["1"]["uplift_band"]["low"]) == 101
    charts = job_charts(job)
    assert any(t.get("fill") == "toself" for c in charts if c["id"] == "uplift-ctr" for t in c["data"])
    chart_ids = {c["id"] for c in charts}
    assert {"uplift-ctr", "qini-ctr", "uplift-ctcvr", "qini-ctcvr", "deciles-ctr", "true-ctr", "learning"} <= chart_ids
    assert kind_panel(job) == "uplift/_job_panel.html"
    client.force_login(user)
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'id="uplift-matrix"' in page and "Normalised AUUC (scikit-uplift)" in page and "AUUC (causalml)" in page
    assert f"/uplift/jobs/{job.pk}/planner/" in page

    assert (job.workdir / "planner.json").exists()  # the worker built the planner curves, not the page
    plan = client.get(f"/uplift/jobs/{job.pk}/planner.json").json()
    assert set(plan["plans"]) == {"1:ctr", "1:ctcvr", "2:ctr", "2:ctcvr"}
    clicks = plan["plans"]["1:ctr"]["outcomes"]["clicks"]
    assert len(clicks["model"]) == 101 and clicks["model"][0] == 0
    assert clicks["model_low"][50] <= clicks["model"][50] <= clicks["model_high"][50]
    assert np.isclose(clicks["model"][-1], clicks["random"][-1])  # everyone targeted: model = random
    planner_page = client.get(f"/uplift/jobs/{job.pk}/planner/").content.decode()
    assert 'id="plan-share"' in planner_page and "held-out" in planner_page

    response = client.get(f"/uplift/jobs/{job.pk}/planner/users.csv?arm=2&task=ctcvr&share=0.25")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == round(0.25 * len(scores))
    assert list(rows[0]) == ["row", "user_id", "uplift_ctr_2", "uplift_ctcvr_2"]
    exported = [float(r["uplift_ctcvr_2"]) for r in rows]
    assert exported == sorted(exported, reverse=True)
    assert min(exported) >= np.quantile(scores["uplift_ctcvr_2"], 0.75) - 1e-6
    assert client.get(f"/uplift/jobs/{job.pk}/planner/users.csv?arm=7").status_code == 400


def test_baseline_run_and_comparison_page(client, user, synthetic_dataset):
    first = run_job(user, synthetic_dataset, "gbm_two_model", max_iter=20, n_bootstrap=20)
    second = run_job(user, synthetic_dataset, "s_learner", **FAST)
    assert "sklift_qini_ctr" in first.metrics and "spearman_true_ctr_arm1" in second.metrics
    ids = {c["id"] for c in comparison_charts([first, second])}
    assert {"cmp-qini-ctr-1", "cmp-uplift-ctcvr-2"} <= ids
    client.force_login(user)
    page = client.get(f"/jobs/compare/?ids={first.pk}&ids={second.pk}").content.decode()
    assert "chart-cmp-qini-ctr-1" in page and "sklift_qini_ctr" in page
    assert "different test rows" not in page  # same seed and split fractions
    second.params["seed"] = 1
    assert "different test rows" in comparison_charts([first, second])[0]["layout"]["title"]["text"]


def test_planner_is_built_on_first_view_when_the_worker_left_none(client, user, synthetic_dataset):
    job = run_job(user, synthetic_dataset, "gbm_two_model", max_iter=5, n_bootstrap=10)
    (job.workdir / "planner.json").unlink()
    client.force_login(user)
    plan = client.get(f"/uplift/jobs/{job.pk}/planner.json").json()
    assert plan["population"] == synthetic_dataset.n_rows and (job.workdir / "planner.json").exists()


def test_planner_is_refused_for_other_users_and_unfinished_jobs(client, other_user, user, synthetic_dataset):
    job = services.submit_job(owner=user, dataset=synthetic_dataset, algorithm="ecup", params=FAST)
    client.force_login(user)
    assert client.get(f"/uplift/jobs/{job.pk}/planner/").status_code == 404  # still queued
    client.force_login(other_user)
    assert client.get(f"/uplift/jobs/{job.pk}/planner.json").status_code == 404


def test_scoring_new_users_returns_uplift_per_arm(client, user, synthetic_dataset, tmp_path):
    job = run_job(user, synthetic_dataset, "gbm_two_model", max_iter=10, n_bootstrap=10)
    new = make_chain_uplift(300, n_features=10, n_treatments=2, seed=99)
    new = new[[f"f{j}" for j in range(10)]]  # features only: no treatment, no outcomes
    new.insert(0, "user_id", [f"new{i}" for i in range(len(new))])
    path = tmp_path / "new_users.csv"
    new.to_csv(path, index=False)
    client.force_login(user)
    with open(path, "rb") as fh:
        response = client.post(f"/uplift/jobs/{job.pk}/score/", {"file": fh})
    assert response.status_code == 302  # to the scoring job's page: the rows are scored on a worker
    from jobs.models import Job

    scoring = Job.objects.get(kind="scoring", params__source_job=job.pk)
    assert response["Location"] == scoring.get_absolute_url()
    assert execute_job(scoring.pk, "pytest", 1) == "succeeded", Job.objects.get(pk=scoring.pk).log_tail
    response = client.get(f"/registry/scoring/{scoring.pk}/predictions.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    scored = pd.read_csv(io.StringIO(b"".join(response.streaming_content).decode()))
    assert len(scored) == 300 and scored["user_id"].tolist() == new["user_id"].tolist()
    assert {"uplift_ctr__1", "uplift_ctr__2", "uplift_ctcvr__1", "uplift_ctcvr__2", "best_arm_ctr"} <= set(scored)
    # the same model on the same rows through the pipeline's own prediction path
    from uplift.pipeline import load_model, predict_uplift
    import torch
    model, encoder = load_model(job.workdir / "model.pkl")
    frame = new.assign(click=0, conversion=0, treatment=0)
    expected = predict_uplift(model, encoder.transform(frame), torch.device("cpu"))["uplift_ctr"][:, 2]
    assert np.allclose(scored["uplift_ctr__2"], expected, atol=1e-6)

    path.write_text("f0,f1\n0.1,0.2\n")
    with open(path, "rb") as fh:
        response = client.post(f"/uplift/jobs/{job.pk}/score/", {"file": fh})
    assert response.status_code == 400 and "missing column(s) `f2`" in response.content.decode()


def test_metric_matrix_rows_columns_and_intervals(user, synthetic_dataset):
    from uplift.selectors import metric_matrix

    job = run_job(user, synthetic_dataset, "gbm_two_model", max_iter=5, n_bootstrap=10)
    matrix = metric_matrix(job)
    assert [(r["task"], r["arm"]) for r in matrix["rows"]] == [
        ("ctr", "1"), ("ctr", "2"), ("ctr", "mean over arms"), ("ctcvr", "1"), ("ctcvr", "2"),
        ("ctcvr", "mean over arms")]
    assert [c["key"] for c in matrix["columns"]][:2] == ["sklift_auuc", "sklift_qini"]
    assert "scikit-uplift" in matrix["columns"][0]["definition"]
    first = matrix["rows"][0]["cells"][1]
    assert first["key"] == "sklift_qini_ctr_arm1" and first["value"] == job.metrics["sklift_qini_ctr_arm1"]
    assert first["low"] == job.metrics["sklift_qini_ctr_arm1_low"]
    job.metrics = {k: v for k, v in job.metrics.items() if not k.startswith("spearman_true")}  # as on real data
    assert "spearman_true" not in [c["key"] for c in metric_matrix(job)["columns"]]


def test_planner_users_csv_escapes_formula_like_user_ids(client, user, tmp_path):
    """Issue 11: user ids such as ``=HYPERLINK(...)`` were written verbatim; uplift scores stay numbers."""
    from jobs.models import Job
    from uplift.pipeline import SCORES_FILE

    path = tmp_path / "u.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(20)))
    dataset = create_dataset(owner=user, source_file=path, filename="u.csv", name="u")
    job = Job.objects.create(owner=user, dataset=dataset, kind="uplift", algorithm="ecup", status="succeeded",
                             summary={"arms": {"0": "control", "1": "email"}})
    job.workdir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"row": [0, 1, 2], "user_id": ["=cmd|' /C calc'!A0", "@u2", "u3"],
                  "uplift_ctr_1": [0.3, -0.2, 0.1]}).to_parquet(job.workdir / SCORES_FILE, index=False)
    client.force_login(user)
    response = client.get(f"/uplift/jobs/{job.pk}/planner/users.csv", {"arm": 1, "task": "ctr", "share": 1})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["user_id"] for r in rows] == ["'=cmd|' /C calc'!A0", "u3", "'@u2"]
    assert [float(r["uplift_ctr_1"]) for r in rows] == [0.3, 0.1, -0.2]


def test_planner_revenue_has_a_unit(user, tmp_path, settings):
    """Issue 11: revenue had no unit. The currency setting wins; else the dataset's revenue column names it."""
    from jobs.models import Job
    from uplift.selectors import revenue_unit

    path = tmp_path / "r.csv"
    path.write_text("treatment,visit,conversion,spend,region\n" + "".join(
        f"{i % 2},{i % 3 == 0:d},{i % 5 == 0:d},{i * 1.5},r{i % 4}\n" for i in range(40)))
    dataset = create_dataset(owner=user, source_file=path, filename="r.csv", name="r", kind="uplift",
                             role_overrides={"spend": "revenue"})
    job = Job.objects.create(owner=user, dataset=dataset, kind="uplift", algorithm="ecup", status="succeeded")
    settings.REVENUE_CURRENCY = ""
    assert revenue_unit(job) == "units of `spend`"
    settings.REVENUE_CURRENCY = "EUR"
    assert revenue_unit(job) == "EUR"
