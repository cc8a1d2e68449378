"""Metrics against scikit-learn, batching, and the trainer's early stopping and checkpoint resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch import nn

from mlcore.api import Cancelled
from mlcore.batching import iter_batches
from mlcore.metrics import auc, calibration, gauc, logloss, roc_curve
from mlcore.trainer import TrainConfig, fit


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    score = np.round(0.3 * y + rng.random(5000), 2)  # rounding creates many ties
    return y, score


def test_auc_matches_sklearn_including_ties(scored):
    y, s = scored
    assert auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


def test_auc_needs_both_classes():
    with pytest.raises(ValueError):
        auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_logloss_matches_sklearn(scored):
    y, s = scored
    p = np.clip(s / s.max(), 0.01, 0.99)
    assert logloss(y, p) == pytest.approx(skm.log_loss(y, p), rel=1e-9)


def test_roc_curve_spans_corners_and_integrates_to_auc(scored):
    y, s = scored
    curve = roc_curve(y, s, max_points=10_000)
    assert (curve["fpr"][0], curve["tpr"][0]) == (0, 0) and (curve["fpr"][-1], curve["tpr"][-1]) == (1, 1)
    assert np.trapezoid(curve["tpr"], curve["fpr"]) == pytest.approx(auc(y, s), abs=1e-9)
    thin = roc_curve(y, s, max_points=50)
    assert len(thin["fpr"]) <= 52 and thin["fpr"][-1] == 1


def test_gauc_is_impression_weighted_mean_of_user_auc():
    y = np.array([1, 0, 0, 1, 1, 0, 1, 1])
    s = np.array([.9, .2, .5, .4, .3, .1, .8, .7])
    u = np.array([1, 1, 1, 2, 2, 2, 3, 3])  # user 3 has only clicks: left out
    a1 = skm.roc_auc_score(y[:3], s[:3])
    a2 = skm.roc_auc_score(y[3:6], s[3:6])
    assert gauc(y, s, u) == pytest.approx((3 * a1 + 3 * a2) / 6)


def test_calibration_bins_average_predictions_and_outcomes():
    cal = calibration([0, 1, 1, 0], [0.05, 0.15, 0.95, 0.91], bins=10)
    assert cal["count"] == [1, 1, 2] and cal["frac_pos"] == [0.0, 1.0, 0.5]


def test_batches_cover_every_row_once_per_epoch():
    table = {"x": torch.arange(1003), "label": torch.zeros(1003)}
    seen = torch.cat([b["x"] for b in iter_batches(table, 100, shuffle=True, generator=torch.Generator().manual_seed(1))])
    assert sorted(seen.tolist()) == list(range(1003))


def _problem(n=600):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).float()
    return {"x": x[:400], "label": y[:400]}, {"x": x[400:], "label": y[400:]}


def _loss(model, batch):
    return nn.functional.binary_cross_entropy_with_logits(model(batch["x"]).squeeze(-1), batch["label"])


def _evaluate(model, table):
    prob = torch.sigmoid(model(table["x"]).squeeze(-1)).numpy()
    return {"auc": auc(table["label"].numpy(), prob), "logloss": logloss(table["label"].numpy(), prob)}


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    train, valid = _problem()
    config = TrainConfig(epochs=5, batch_size=32, lr=0.01, patience=10, seed=3)
    torch.manual_seed(0)
    straight = nn.Linear(5, 1)
    fit(straight, train, valid, loss_fn=_loss, evaluate=_evaluate, config=config, device=torch.device("cpu"))

    torch.manual_seed(0)
    resumed = nn.Linear(5, 1)
    calls = {"n": 0}
    def stop_in_epoch_3():
        calls["n"] += 1
        if calls["n"] == 2 * 13 + 5:  # 13 batches per epoch: dies inside epoch 3
            raise Cancelled()
    with pytest.raises(Cancelled):
        fit(resumed, train, valid, loss_fn=_loss, evaluate=_evaluate, config=config, device=torch.device("cpu"),
            workdir=tmp_path, check_cancelled=stop_in_epoch_3)
    torch.manual_seed(123)
    fresh = nn.Linear(5, 1)  # a new process: the weights come from the checkpoint
    messages = []
    result = fit(fresh, train, valid, loss_fn=_loss, evaluate=_evaluate, config=config, device=torch.device("cpu"),
                 workdir=tmp_path, log=messages.append)
    assert result.resumed_from == 2 and "resumed from epoch 2 checkpoint" in messages
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    for a, b in zip(straight.parameters(), fresh.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_early_stopping_restores_the_best_epoch():
    train, valid = _problem()
    valid = {"x": valid["x"], "label": 1 - valid["label"]}  # validation gets worse as training improves
    model = nn.Linear(5, 1)
    result = fit(model, train, valid, loss_fn=_loss, evaluate=_evaluate,
                 config=TrainConfig(epochs=20, batch_size=32, lr=0.05, patience=2), device=torch.device("cpu"))
    assert result.stopped_early and len(result.history) < 20
    with torch.no_grad():
        assert _evaluate(model, valid)["auc"] == pytest.approx(result.best_valid["auc"])
    assert result.best_valid["auc"] == max(h["valid_auc"] for h in result.history)


def test_cancelled_propagates_at_the_next_batch():
    train, valid = _problem()
    calls = []

    def cancel_at_third_batch():
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled()
    with pytest.raises(Cancelled):
        fit(nn.Linear(5, 1), train, valid, loss_fn=_loss, evaluate=_evaluate, config=TrainConfig(epochs=3, batch_size=32),
            device=torch.device("cpu"), check_cancelled=cancel_at_third_batch)
    assert len(calls) == 3
