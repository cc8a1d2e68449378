"""Untrained heuristic references every CTR job reports beside its model.

Computed on the job's own held-out test rows from its own training rows, with no learning, so a
model's AUC can be read against what a lookup table already gets (issue 15: on a time cut of
MovieLens the user's past like-rate alone, untrained, scored AUC 0.8108, level with DIN):

- ``item_ctr``: the item's training click rate, smoothed towards the global rate with
  ``prior`` pseudo-rows (an unseen item gets the global rate);
- ``user_like_rate``: the user's past like-rate. When rows carry the feedback on past behaviours
  (a ``hist_label``-style sequence), it is the smoothed mean of the row's own history, which holds
  only earlier events; otherwise the user's click rate over the training rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlcore.metrics import binary_report

FEEDBACK_NAMES = ("hist_label", "hist_click", "hist_clk", "hist_feedback", "hist_rating_label")
PRIOR = 10.0


def _smoothed(clicks: pd.Series, rows: pd.Series, mean: float, prior: float) -> pd.Series:
    return (clicks + prior * mean) / (rows + prior)


def _keyed_rate(train_keys: pd.Series, train_y: np.ndarray, test_keys: pd.Series, mean: float,
                prior: float) -> np.ndarray:
    grouped = pd.DataFrame({"k": train_keys.astype(str).to_numpy(), "y": train_y}).groupby("k")["y"]
    rate = _smoothed(grouped.sum(), grouped.count(), mean, prior)
    return test_keys.astype(str).map(rate).fillna(mean).to_numpy(dtype=np.float64)


def _history_rate(cells: pd.Series, mean: float, prior: float, sep: str) -> np.ndarray:
    """Smoothed mean of each row's past feedback (``"1|0|1"``); the global rate for empty ones."""
    cells = cells.reset_index(drop=True)
    if cells.map(lambda c: isinstance(c, (list, tuple, np.ndarray))).any():  # Parquet list cells
        text, tokens = cells, cells.explode()
    else:
        text = cells.fillna("").astype(str)
        tokens = text.str.split(sep, regex=False).explode()
    values = pd.to_numeric(tokens, errors="coerce")  # one row per behaviour
    sums = (values > 0).groupby(level=0).sum().reindex(text.index, fill_value=0).to_numpy(dtype=np.float64)
    counts = values.notna().groupby(level=0).sum().reindex(text.index, fill_value=0).to_numpy(dtype=np.float64)
    return (sums + prior * mean) / (counts + prior)


def heuristic_references(train: pd.DataFrame, test: pd.DataFrame, roles: dict[str, str], *,
                         sep: str = "|", prior: float = PRIOR) -> dict[str, dict[str, float]]:
    """``{"item_ctr": {"auc", "logloss", "gauc"?}, "user_like_rate": {...}}`` on ``test``.

    A reference is left out when its column is missing; ``gauc`` needs a user id column.
    """
    label = next((c for c, r in roles.items() if r == "label"), None)
    if label is None or train.empty or test.empty:
        return {}
    y_train = (pd.to_numeric(train[label], errors="coerce").fillna(0) > 0).to_numpy(dtype=np.float64)
    y_test = (pd.to_numeric(test[label], errors="coerce").fillna(0) > 0).to_numpy(dtype=np.float64)
    if not 0 < y_test.sum() < len(y_test):
        return {}
    mean = float(y_train.mean())
    user = next((c for c, r in roles.items() if r == "user_id"), None)
    item = next((c for c, r in roles.items() if r == "item_id"), None)
    feedback = next((c for c, r in roles.items() if r == "sequence" and c.lower() in FEEDBACK_NAMES), None)
    users = test[user].astype(str).to_numpy() if user else None
    scores: dict[str, np.ndarray] = {}
    if item:
        scores["item_ctr"] = _keyed_rate(train[item], y_train, test[item], mean, prior)
    if feedback:
        scores["user_like_rate"] = _history_rate(test[feedback], mean, prior, sep)
    elif user:
        scores["user_like_rate"] = _keyed_rate(train[user], y_train, test[user], mean, prior)
    out = {}
    for name, score in scores.items():
        report = binary_report(y_test, np.clip(score, 1e-6, 1 - 1e-6), users)
        out[name] = {k: float(v) for k, v in report.items()
                     if k in ("auc", "logloss", "gauc") and np.isfinite(v)}
    return out
