"""Every CTR algorithm learns a planted rule: held-out AUC ≥ 0.7 in a few seconds.

These replace range checks (``0 <= auc <= 1``) that pass for a model that learns nothing. To see
them fail, run them with every model's forward replaced by a constant:
``CTRSTUDIO_CONSTANT_FORWARD=1 pytest tests/modeling/test_learnability.py`` (every test must fail).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

from mlcore.api import RunContext
from modeling.algorithms import CTR_ALGORITHMS
from modeling.distill import SUAN_ALGORITHMS
from modeling.nets import AWMoE, DCNv2, DeepFM, DIN, LR, QIN, TIN
from modeling.nets.suan import SUAN, LightSUAN
from modeling.sequences import sequence_roles

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ALGORITHMS = {a.key: a for a in CTR_ALGORITHMS + SUAN_ALGORITHMS}
NETS = {"lr": [LR], "deepfm": [DeepFM], "dcnv2": [DCNv2], "din": [DIN], "qin": [QIN], "tin": [TIN],
        "awmoe": [AWMoE], "suan": [SUAN], "lightsuan": [LightSUAN], "suan_distill": [SUAN, LightSUAN]}
MIN_AUC = 0.7


def constant_forward(monkeypatch, classes) -> None:
    """The control: ``forward`` returns 0 for every row (still differentiable, so training runs)."""
    def forward(self, batch, *args, **kwargs):
        rows = batch["label"].shape[0]
        anchor = sum(p.sum() for p in self.parameters()) * 0.0
        return torch.zeros(rows, device=anchor.device) + anchor
    for cls in classes:
        monkeypatch.setattr(cls, "forward", forward)


@pytest.fixture
def control(monkeypatch):
    """Replaces the nets' forward by a constant when CTRSTUDIO_CONSTANT_FORWARD is set."""
    def apply(key: str) -> None:
        if os.environ.get("CTRSTUDIO_CONSTANT_FORWARD"):
            constant_forward(monkeypatch, NETS[key])
    return apply


def tabular_frame(n=3000, seed=0) -> pd.DataFrame:
    """click = site is "a" or price above 11 (additive enough for LR), 5 % of labels flipped."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["a", "b", "c", "d"], n)
    price = rng.normal(10, 2, n)
    click = ((site == "a") | (price > 11)) ^ (rng.random(n) < 0.05)
    return pd.DataFrame({"click": click.astype(int), "site": site, "price": price,
                         "user": rng.integers(0, 50, n)})


def sequence_table(n_users=60, per_user=30, n_genres=4, seed=0) -> pd.DataFrame:
    """A built behaviour table (the layout of ``modeling.sequences.build_sequences``) where a user
    clicks an item exactly when its genre is the genre of their last behaviour (5 % of labels
    flipped): only the history tells, so a model must read it. One behaviour per row keeps this
    learnable in a few seconds by every net (with 1-4 behaviours and a different data seed DIN
    and LightSUAN sometimes stayed at 0.5 within 5 epochs)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for j in range(per_user):
            k = 1
            hist_items = rng.integers(0, 5 * n_genres, k)
            item = int(rng.integers(0, 5 * n_genres))
            label = int(item % n_genres in set(hist_items % n_genres)) ^ int(rng.random() < 0.05)
            times = np.sort(rng.integers(0, 1000, k)) + 1000 * j
            part = "test" if j >= per_user - 5 else "valid" if j >= per_user - 9 else "train"
            rows.append({"user_id": f"u{u}", "item_id": str(item), "timestamp": 1000 * j + 999, "label": label,
                         "genre": str(item % n_genres), "hist_item_id": "|".join(map(str, hist_items)),
                         "hist_genre": "|".join(str(h % n_genres) for h in hist_items),
                         "hist_time": "|".join(map(str, times)),
                         "hist_label": "|".join(str(int(b)) for b in rng.random(k) < 0.5),
                         "split": part, "hist_len": k})
    return pd.DataFrame(rows)


TABULAR_ROLES = {"click": "label", "site": "categorical", "price": "numeric", "user": "user_id"}
SMALL = {"lr": dict(lr=0.05), "deepfm": dict(hidden_units="32"), "dcnv2": dict(hidden_units="32", cross_layers=2),
         "din": dict(hidden_units="32", attention_units="16"), "qin": dict(num_layers=2),
         "tin": dict(hidden_units="32"), "awmoe": dict(),
         "suan": dict(embedding_dim=4, hidden_units="16"),
         "lightsuan": dict(embedding_dim=4, hidden_units="16", window=4),
         "suan_distill": dict(teacher_embedding_dim=4, student_embedding_dim=4, hidden_units="16", window=3)}


def train(key, frame, roles, tmp_path, **params):
    algo = ALGORITHMS[key]
    ctx = RunContext(params=algo.validate(params), roles=roles, workdir=tmp_path,
                     read_table=lambda columns=None: frame[columns] if columns else frame)
    return algo.run(ctx)


@pytest.fixture(scope="module")
def tabular():
    return tabular_frame()


@pytest.fixture(scope="module")
def sequences():
    return sequence_table()


@pytest.mark.parametrize("key", ["lr", "deepfm", "dcnv2"])
def test_tabular_model_learns_the_planted_rule(key, tabular, tmp_path, control):
    control(key)
    params = dict(epochs=4, patience=4, batch_size=128, lr=1e-2, **({} if key == "lr" else dict(embedding_dim=8)))
    result = train(key, tabular, TABULAR_ROLES, tmp_path, **{**params, **SMALL[key]})
    assert result.metrics["auc"] >= MIN_AUC, result.metrics["auc"]


@pytest.mark.parametrize("key", ["din", "qin", "tin", "awmoe", "suan", "lightsuan", "suan_distill"])
def test_sequence_model_learns_the_planted_rule(key, sequences, tmp_path, control):
    control(key)
    common = dict(epochs=5, patience=5, batch_size=64, lr=1e-2, max_len=4, min_count=1)
    if key in ("din", "qin", "tin", "awmoe"):
        common["embedding_dim"] = 8
    result = train(key, sequences, sequence_roles(["genre"]), tmp_path, **{**common, **SMALL[key]})
    assert result.metrics["n"] == 300
    assert result.metrics["auc"] >= MIN_AUC, result.metrics["auc"]
    if key == "suan_distill":
        assert result.metrics["teacher_auc"] >= MIN_AUC, result.metrics["teacher_auc"]
