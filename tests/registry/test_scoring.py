"""Scoring jobs: columns checked before queuing, chunked scoring that matches the model, predictions as a dataset."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from jobs.models import Job
from registry import services

from .conftest import clicks_frame, new_products, run, save

pytestmark = pytest.mark.django_db


def test_ctr_scoring_job_streams_chunks_and_matches_the_trained_model(user, ctr_run, tmp_path):
    new = clicks_frame(2500, seed=7)
    new.loc[0, "site"] = "never-seen-site"  # goes to the OOV slot, not an error
    dataset = save(new, tmp_path / "new.csv", user, "rows", "new clicks")
    job = run(services.submit_scoring_job(owner=user, dataset=dataset, source_job=ctr_run, chunk_rows=1000))
    s = job.summary
    assert s["rows_scored"] == 2500 and s["prediction_rows"] == 2500
    from datasets.services import load_frame
    from datasets.models import Dataset

    predictions = Dataset.objects.get(pk=s["predictions_dataset_id"])
    assert predictions.kind == "predictions" and predictions.source == "derived" and predictions.n_rows == 2500
    scored = load_frame(predictions)
    assert scored["row"].tolist() == list(range(2500)) and scored["user"].tolist() == new["user"].tolist()
    # the same rows through the training pipeline's encoder and net, in one piece
    from modeling.algorithms import NET_FACTORIES
    from modeling.features import FeatureEncoder
    from mlcore.trainer import predict

    saved = torch.load(ctr_run.workdir / "model.pt", weights_only=False)
    encoder = FeatureEncoder.from_dict(saved["encoder"])
    net = NET_FACTORIES["deepfm"](encoder.schema, saved["params"])
    net.load_state_dict(saved["state_dict"])
    expected = predict(net, encoder.transform(new), torch.device("cpu"))
    assert np.allclose(scored["predicted_ctr"].to_numpy(), expected, atol=1e-6)
    # labels came along: AUC and log-loss on the new rows beside the training run's
    drift = {d["metric"]: d for d in s["drift"]}
    from mlcore.metrics import auc

    assert drift["auc"]["new_rows"] == pytest.approx(auc(new["click"].to_numpy(), expected), abs=1e-9)
    assert drift["auc"]["training"] == ctr_run.metrics["auc"]


def test_columns_are_checked_before_a_job_exists(user, ctr_run, tmp_path):
    bad = clicks_frame(50, seed=1).drop(columns=["site"]).assign(coupon="x", price="cheap")
    dataset = save(bad, tmp_path / "bad.csv", user, "rows", "bad")
    before = Job.objects.count()
    with pytest.raises(services.RegistryError) as err:
        services.submit_scoring_job(owner=user, dataset=dataset, source_job=ctr_run)
    message = err.value.errors["dataset"]
    assert "missing column(s) `site`" in message and "extra column(s) `coupon`" in message
    assert "`price` hold text" in message
    assert Job.objects.count() == before


def test_scoring_without_labels_reports_no_drift(user, ctr_run, tmp_path):
    dataset = save(clicks_frame(300, seed=2, with_label=False), tmp_path / "nolabel.csv", user, "rows", "no labels")
    job = run(services.submit_scoring_job(owner=user, dataset=dataset, source_job=ctr_run))
    assert job.summary["rows_scored"] == 300 and job.summary["drift"] == []


def test_uplift_scoring_job_gives_uplift_per_arm_and_task_and_qini_on_labelled_rows(user, uplift_run, tmp_path):
    from datasets.models import Dataset
    from datasets.services import load_frame
    from uplift.synthetic import make_chain_uplift
    from uplift.scoring import score_new_rows

    new = make_chain_uplift(900, n_features=10, n_treatments=2, seed=11, effect_scale=1.5)
    new = new[[c for c in new.columns if not c.startswith("true_")]]
    new.insert(0, "user_id", [f"n{i}" for i in range(len(new))])
    dataset = save(new, tmp_path / "new_users.csv", user, "rows", "new users")
    job = run(services.submit_scoring_job(owner=user, dataset=dataset, source_job=uplift_run, chunk_rows=1000))
    scored = load_frame(Dataset.objects.get(pk=job.summary["predictions_dataset_id"]))
    assert {"uplift_ctr__1", "uplift_ctr__2", "uplift_ctcvr__1", "uplift_ctcvr__2", "best_arm_ctcvr"} <= set(scored)
    expected = score_new_rows(uplift_run.workdir / "model.pt", new)
    assert np.allclose(scored["uplift_ctcvr__2"], expected["uplift_ctcvr__2"], atol=1e-6)
    metrics = {d["metric"] for d in job.summary["drift"]}
    assert {"sklift_qini_ctr", "sklift_auuc_ctcvr"} <= metrics


def test_hyperpave_scores_new_products_with_the_runs_threshold(user, attribute_run, tmp_path):
    from datasets.models import Dataset
    from datasets.services import load_frame

    dataset = save(new_products(), tmp_path / "new_products.csv", user, "rows", "new products")
    job = run(services.submit_scoring_job(owner=user, dataset=dataset, source_job=attribute_run))
    scored = load_frame(Dataset.objects.get(pk=job.summary["predictions_dataset_id"]))
    assert list(scored.columns[:4]) == ["product_id", "attribute", "value", "score"]
    got = {(r.product_id, r.attribute): r.value for r in scored.itertuples()}
    assert got.get(("new-1", "Brand")) == "Nike" and got.get(("new-2", "Flavor")) == "Chai"
    assert set(scored["product_id"]) <= {"new-1", "new-2", "new-3"}


def test_a_cancelled_scoring_job_stops_between_chunks_and_closes_its_file(user, ctr_run, tmp_path):
    from mlcore.api import Cancelled, RunContext
    from mlcore.columnar import ColumnarTable
    from registry.scoring_job import stream_scores
    from registry.serving import CTRScorer

    path = tmp_path / "rows.parquet"
    clicks_frame(5000, seed=3).to_parquet(path, index=False)
    calls = []

    def check_cancelled():
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled()

    ctx = RunContext(params={"chunk_rows": 1000}, roles={}, read_table=None, workdir=tmp_path,
                     check_cancelled=check_cancelled, table=ColumnarTable(path))
    scorer = CTRScorer(ctr_run.workdir / "model.pt", "deepfm", services.run_schema(ctr_run))
    with pytest.raises(Cancelled):
        stream_scores(ctx, scorer, tmp_path / "out.parquet")
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 2000  # two chunks scored, then it stopped
