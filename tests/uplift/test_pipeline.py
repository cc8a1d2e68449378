"""train_uplift end to end on generated data, the declared algorithms and their hyperparameters, and a
quality check that ECUP learns the true effects."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from mlcore.api import ParamError, RunContext
from mlcore.paths import shared_data_dir
from uplift import metrics as M
from uplift.algorithms import UPLIFT_ALGORITHMS
from uplift.pipeline import load_model, predict_uplift, train_uplift
from uplift.synthetic import make_chain_uplift, synthetic_roles

ALGORITHMS = {a.key: a for a in UPLIFT_ALGORITHMS}


def run(frame, roles, key, tmp_path, **raw):
    params = ALGORITHMS[key].validate(raw)
    logs = []
    ctx = RunContext(params=params, roles=roles, read_table=lambda columns=None: frame[columns] if columns else frame,
                     workdir=tmp_path, log=logs.append)
    return train_uplift(ctx, key), logs


@pytest.fixture(scope="module")
def small():
    return make_chain_uplift(5000, n_features=12, n_treatments=2, seed=21)


def test_every_model_is_declared_with_valid_defaults():
    assert set(ALGORITHMS) == {"ecup", "s_learner", "t_learner", "tarnet", "dragonnet", "gbm_two_model"}
    for algo in UPLIFT_ALGORITHMS:
        assert algo.kind == "uplift"
        params = algo.validate({})
        assert params["control"] == "" and params["n_bootstrap"] >= 10


@pytest.mark.parametrize("key, raw, bad", [
    ("ecup", {"epochs": 0}, "epochs"),
    ("ecup", {"dropout": 1.5}, "dropout"),
    ("ecup", {"interaction": "sum"}, "interaction"),
    ("ecup", {"monitor": "accuracy"}, "monitor"),
    ("gbm_two_model", {"learning_rate": 0}, "learning_rate"),
    ("tarnet", {"gate_gamma": 2}, "gate_gamma"),  # not a TARNet parameter
])
def test_impossible_hyperparameters_raise_param_error(key, raw, bad):
    with pytest.raises(ParamError) as info:
        ALGORITHMS[key].validate(raw)
    assert bad in info.value.errors


@pytest.mark.parametrize("key, raw, bad", [
    ("ecup", {"embedding_dim": 10, "attention_heads": 4}, "attention_heads"),
    ("ecup", {"tower_hidden": "128,-1"}, "tower_hidden"),
    ("tarnet", {"head_hidden": "wide"}, "head_hidden"),
    ("s_learner", {"valid_frac": 0.5, "test_frac": 0.45}, "test_frac"),
])
def test_inconsistent_hyperparameters_stop_the_run_with_param_error(key, raw, bad, small, tmp_path):
    with pytest.raises(ParamError) as info:
        run(small, synthetic_roles(small), key, tmp_path, **raw)
    assert bad in info.value.errors


def test_ecup_end_to_end_reports_every_metric_and_curve(small, tmp_path):
    # batch 128: 23 steps an epoch (batch 512 left 6, and the click AUC between 0.59 and 0.68 by seed)
    result, logs = run(small, synthetic_roles(small), "ecup", tmp_path, epochs=2, batch_size=128, n_bootstrap=50)
    m = result.metrics
    for task in ("ctr", "ctcvr"):
        assert m[f"auc_{task}"] > 0.6  # the generator's click and conversion depend on the features
        for k in (1, 2):
            name = f"{task}_arm{k}"
            assert m[f"sklift_qini_{name}_low"] <= m[f"sklift_qini_{name}"] <= m[f"sklift_qini_{name}_high"]
            assert m[f"sklift_auuc_{name}_low"] <= m[f"sklift_auuc_{name}"] <= m[f"sklift_auuc_{name}_high"]
            for key in ("causalml_auuc", "causalml_qini", "uplift_at_10", "uplift_at_20", "uplift_at_30",
                        "spearman_true"):
                assert f"{key}_{name}" in m
            arm = result.curves[task][str(k)]
            for curve in ("uplift", "uplift_perfect", "uplift_random", "qini", "qini_perfect", "qini_random",
                          "true_effect"):
                assert 2 <= len(arm[curve]["x"]) <= 200
            assert len(arm["deciles"]["uplift"]) == 10
    assert len(result.curves["history"]) == 2 and "valid_qini_ctcvr" in result.curves["history"][0]
    assert result.summary["arms"] == {"0": "0", "1": "1", "2": "2"} and result.summary["n_test"] == 1000
    json.dumps(result.curves), json.dumps(result.summary)
    model, encoder = load_model(result.artifact)
    scores = predict_uplift(model, encoder.transform(small.head(50)), torch.device("cpu"))
    assert scores["uplift_ctcvr"].shape == (50, 3) and np.all(scores["uplift_ctcvr"][:, 0] == 0)


def test_gbm_two_model_end_to_end(small, tmp_path):
    result, _ = run(small, synthetic_roles(small), "gbm_two_model", tmp_path, max_iter=30, n_bootstrap=20)
    assert "sklift_qini_ctcvr_arm2" in result.metrics and result.artifact.suffix == ".pkl"
    assert result.metrics["auc_ctr"] > 0.55
    model, encoder = load_model(result.artifact)
    assert predict_uplift(model, encoder.transform(small.head(20)), torch.device("cpu"))["p_ctr"].shape == (20, 3)


def test_named_arms_and_revenue_with_a_control_word(tmp_path):
    frame = make_chain_uplift(3000, n_treatments=2, seed=2)
    frame["treatment"] = frame["treatment"].map({0: "No coupon", 1: "Coupon 5", 2: "Coupon 10"})
    frame["spend"] = frame["conversion"] * 20.0
    frame = frame.rename(columns={"true_uplift_click_1": "true_uplift_click_Coupon 5"})
    roles = dict(synthetic_roles(frame), spend="revenue")
    result, _ = run(frame, roles, "s_learner", tmp_path, epochs=1, n_bootstrap=10)
    assert result.summary["control"] == "No coupon"
    assert result.summary["arms"] == {"0": "No coupon", "1": "Coupon 10", "2": "Coupon 5"}
    assert "spearman_true_ctr_arm2" in result.metrics and "spearman_true_ctr_arm1" not in result.metrics
    assert "causalml_auuc_revenue_arm1" in result.metrics


@pytest.mark.slow
def test_ecup_ranking_follows_the_true_effect(tmp_path):
    frame = make_chain_uplift(30_000, n_features=12, n_treatments=1, seed=5, effect_scale=1.5)
    result, _ = run(frame, synthetic_roles(frame), "ecup", tmp_path, epochs=4, batch_size=512, n_bootstrap=50,
                    test_frac=0.3, seed=1)
    m = result.metrics
    assert m["spearman_true_ctr_arm1"] > 0.3
    assert m["spearman_true_ctcvr_arm1"] > 0
    # a random ranking scores about zero; ECUP must beat it clearly and with a CI above zero
    rng = np.random.default_rng(0)
    y, w = frame["click"].to_numpy(), frame["treatment"].to_numpy()
    random_qini = M.sklift_qini_auc_score(y, rng.random(len(y)), w)
    assert m["sklift_qini_ctr_arm1"] > random_qini + 0.05
    assert m["sklift_qini_ctr_arm1_low"] > 0


@pytest.mark.slow
def test_hillstrom_trains_with_the_no_email_control(tmp_path):
    path = shared_data_dir() / "hillstrom" / "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
    if not path.exists():
        pytest.skip(f"shared Hillstrom data not found under {shared_data_dir()}")
    frame = pd.read_csv(path)
    roles = {"recency": "numeric", "history_segment": "categorical", "history": "numeric", "mens": "categorical",
             "womens": "categorical", "zip_code": "categorical", "newbie": "categorical", "channel": "categorical",
             "segment": "treatment", "visit": "visit", "conversion": "conversion", "spend": "revenue"}
    result, _ = run(frame, roles, "s_learner", tmp_path, epochs=2, n_bootstrap=50)
    assert result.summary["control"] == "No E-Mail"
    assert result.metrics["auc_ctr"] > 0.55
    assert result.metrics["sklift_qini_ctr"] > 0


def test_held_out_scores_are_written_for_the_planner(tmp_path):
    frame = make_chain_uplift(1500, n_treatments=2, seed=8)
    frame["customer"] = [f"c{i}" for i in range(len(frame))]
    roles = dict(synthetic_roles(frame), customer="user_id")
    result, _ = run(frame, roles, "gbm_two_model", tmp_path, max_iter=10, n_bootstrap=10)
    scores = pd.read_parquet(tmp_path / result.summary["scores_file"])
    assert len(scores) == result.summary["n_test"]
    assert (scores["user_id"] == frame["customer"].to_numpy()[scores["row"]]).all()
    assert (scores["click"] == frame["click"].to_numpy()[scores["row"]]).all()
    assert (scores["arm_index"] == frame["treatment"].to_numpy()[scores["row"]]).all()
    assert np.allclose(scores["true_uplift_ctr_2"], frame["true_uplift_click_2"].to_numpy()[scores["row"]])
    assert {"uplift_ctr_1", "uplift_ctr_2", "uplift_ctcvr_1", "uplift_ctcvr_2"} <= set(scores.columns)
    plan = json.loads((tmp_path / result.summary["plan_file"]).read_text())
    assert set(plan["plans"]) == {"1:ctr", "1:ctcvr", "2:ctr", "2:ctcvr"} and plan["population"] == len(frame)
    assert plan["n_heldout"] == len(scores) and plan["n_boot"] == 10
