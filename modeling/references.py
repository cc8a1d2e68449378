"""Untrained heuristic references every CTR job reports beside its model.

Computed on the job's own held-out test rows from its own training rows, with no learning, so a
model's AUC can be read against what a lookup table already gets (issue 15: on a time cut of
MovieLens the user's past like-rate alone, untrained, scored AUC 0.8108, level with DIN):

- ``item_ctr``: the item's training click rate, smoothed towards the global rate with
  ``prior`` pseudo-rows (an unseen item gets the global rate);
- ``user_like_rate``: the user's past like-rate. When rows carry the feedback on past behaviours
  (a ``hist_label``-style sequence), it is the smoothed mean of the row's own history, which holds
  only earlier events; otherwise the user's click rate over the training rows.

Streamed like the encoder (:class:`ReferenceFit`): per-item and per-user click and row counts
accumulate over the training chunks (memory bounded by the number of items and users, as the
encoder's vocabularies are), then each test chunk is scored and only its labels and scores (a few
floats a row) are kept for the metrics.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlcore.metrics import binary_report

FEEDBACK_NAMES = ("hist_label", "hist_click", "hist_clk", "hist_feedback", "hist_rating_label")
PRIOR = 10.0


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


class ReferenceFit:
    """The untrained references of one job, fitted on training chunks and scored on test chunks."""

    def __init__(self, roles: dict[str, str], *, sep: str = "|", prior: float = PRIOR):
        self.label = next((c for c, r in roles.items() if r == "label"), None)
        self.user = next((c for c, r in roles.items() if r == "user_id"), None)
        self.item = next((c for c, r in roles.items() if r == "item_id"), None)
        self.feedback = next((c for c, r in roles.items() if r == "sequence" and c.lower() in FEEDBACK_NAMES), None)
        self.sep, self.prior = sep, prior
        self.clicks, self.rows = 0.0, 0
        self.counts: dict[str, tuple[pd.Series, pd.Series]] = {}  # key column -> (clicks, rows) per value
        self.y: list[np.ndarray] = []
        self.users: list[np.ndarray] = []
        self.scores: dict[str, list[np.ndarray]] = {}

    def _y(self, frame: pd.DataFrame) -> np.ndarray:
        return (pd.to_numeric(frame[self.label], errors="coerce").fillna(0) > 0).to_numpy(dtype=np.float64)

    def _keys(self) -> list[str]:
        keys = [self.item] if self.item else []
        if self.user and not self.feedback:
            keys.append(self.user)
        return keys

    def fit_chunk(self, train: pd.DataFrame) -> None:
        """Count clicks and rows of a chunk of training rows (overall, per item, per user)."""
        if self.label is None or train.empty:
            return
        y = self._y(train)
        self.clicks += float(y.sum())
        self.rows += len(y)
        for column in self._keys():
            grouped = pd.DataFrame({"k": train[column].astype(str).to_numpy(), "y": y}).groupby("k")["y"]
            clicks, rows = grouped.sum(), grouped.count().astype(np.float64)
            if column in self.counts:
                old_clicks, old_rows = self.counts[column]
                clicks, rows = old_clicks.add(clicks, fill_value=0), old_rows.add(rows, fill_value=0)
            self.counts[column] = (clicks, rows)

    def score_chunk(self, test: pd.DataFrame) -> None:
        """Score a chunk of test rows with every reference; keep labels, scores and users."""
        if self.label is None or test.empty or self.rows == 0:
            return
        mean = self.clicks / self.rows
        self.y.append(self._y(test))
        if self.user:
            self.users.append(test[self.user].astype(str).to_numpy())
        scores = {}
        if self.item:
            scores["item_ctr"] = self._rate(self.item, test, mean)
        if self.feedback:
            scores["user_like_rate"] = _history_rate(test[self.feedback], mean, self.prior, self.sep)
        elif self.user:
            scores["user_like_rate"] = self._rate(self.user, test, mean)
        for name, score in scores.items():
            self.scores.setdefault(name, []).append(score)

    def _rate(self, column: str, test: pd.DataFrame, mean: float) -> np.ndarray:
        clicks, rows = self.counts.get(column, (pd.Series(dtype=float), pd.Series(dtype=float)))
        rate = (clicks + self.prior * mean) / (rows + self.prior)
        return test[column].astype(str).map(rate).fillna(mean).to_numpy(dtype=np.float64)

    def finish(self) -> dict[str, dict[str, float]]:
        """``{"item_ctr": {"auc", "logloss", "gauc"?}, "user_like_rate": {...}}`` on the test rows seen."""
        if not self.y:
            return {}
        y = np.concatenate(self.y)
        if not 0 < y.sum() < len(y):
            return {}
        users = np.concatenate(self.users) if self.users else None
        out = {}
        for name, parts in self.scores.items():
            report = binary_report(y, np.clip(np.concatenate(parts), 1e-6, 1 - 1e-6), users)
            out[name] = {k: float(v) for k, v in report.items() if k in ("auc", "logloss", "gauc") and np.isfinite(v)}
        return out


def heuristic_references(train: pd.DataFrame, test: pd.DataFrame, roles: dict[str, str], *,
                         sep: str = "|", prior: float = PRIOR) -> dict[str, dict[str, float]]:
    """:class:`ReferenceFit` on whole frames: the references of ``test`` from ``train``.

    A reference is left out when its column is missing; ``gauc`` needs a user id column.
    """
    fit = ReferenceFit(roles, sep=sep, prior=prior)
    fit.fit_chunk(train)
    fit.score_chunk(test)
    return fit.finish()
