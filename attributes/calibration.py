"""Turn a ranker's scores into the probability that a proposed value is right (Platt scaling).

HyperPAVE's final score is ``text_sim + beta * link_cosine - gamma * seen``: a ranking number, not a
probability (it reached 1.071 on the demo). The value browser, the review queue, the API and the
exports call the number "confidence" and filter on it, so each job fits a logistic map
``p = sigmoid(slope * score + intercept)`` on its **validation products'** candidate cells (truth:
whether the value is one of the product's labels) and stores ``p``. It is monotone in the score,
so rankings and the decision threshold do not change (up to the cap of 0.999: a prediction is
never shown as certain as a known value from the labels, which has confidence exactly 1). No Django import here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CELLS = 200_000  # validation cells used for the fit (a seeded sample beyond this)
MAX_PREDICTED = 0.999  # a prediction is never shown as certain as a value from the labels (exactly 1)


@dataclass(frozen=True)
class Calibration:
    slope: float = 1.0
    intercept: float = 0.0
    method: str = "Platt scaling on validation products"

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = self.slope * np.asarray(scores, dtype=np.float64) + self.intercept
        return np.minimum(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))), MAX_PREDICTED)


def fit_calibration(scores: np.ndarray, truth: np.ndarray, allowed: np.ndarray, seed: int = 0) -> Calibration:
    """Fit ``sigmoid(slope * score + intercept)`` on the allowed (candidate) cells of validation products.

    With only one class among the cells there is nothing to fit: the plain sigmoid of the score
    is used (still in [0, 1]) and ``method`` says so.
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(scores, dtype=np.float64)[np.asarray(allowed, dtype=bool)]
    y = np.asarray(truth, dtype=bool)[np.asarray(allowed, dtype=bool)]
    if len(x) > MAX_CELLS:
        keep = np.random.default_rng(seed).choice(len(x), MAX_CELLS, replace=False)
        x, y = x[keep], y[keep]
    if y.all() or not y.any():
        return Calibration(method="sigmoid of the score (validation had a single class)")
    model = LogisticRegression(C=1.0, max_iter=200).fit(x.reshape(-1, 1), y.astype(int))
    slope = float(model.coef_[0, 0])
    if slope <= 0:  # a score that does not rank right answers higher: keep the map monotone
        return Calibration(method="sigmoid of the score (validation gave no positive slope)")
    return Calibration(slope=slope, intercept=float(model.intercept_[0]))
