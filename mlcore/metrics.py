"""Binary-classification metrics in vectorised NumPy (cross-checked against scikit-learn in tests)."""
from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their positions (scipy's ``rankdata``)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(values)] - 1
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((first + last) / 2.0 + 1.0)[group]
    return ranks


def auc(y_true, y_score) -> float:
    """ROC AUC by the rank-sum formula; tied scores count one half, as in sklearn."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both positive and negative examples")
    ranks = average_ranks(s)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def logloss(y_true, y_prob, eps: float = 1e-7) -> float:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.clip(np.asarray(y_prob, dtype=np.float64).ravel(), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def roc_curve(y_true, y_score, max_points: int = 200) -> dict[str, list[float]]:
    """ROC points at every distinct threshold, thinned to about ``max_points`` for plotting."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last_of_group]
    fps = (last_of_group + 1) - tps
    tpr = np.r_[0.0, tps / max(tps[-1], 1)]
    fpr = np.r_[0.0, fps / max(fps[-1], 1)]
    thresholds = np.r_[np.inf, s[last_of_group]]
    if len(fpr) > max_points:
        keep = np.unique(np.r_[0, np.linspace(0, len(fpr) - 1, max_points).round().astype(int), len(fpr) - 1])
        fpr, tpr, thresholds = fpr[keep], tpr[keep], thresholds[keep]
    thresholds = np.where(np.isfinite(thresholds), thresholds, 1.0)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds.tolist()}


def gauc(y_true, y_score, user_ids) -> float:
    """Impression-weighted mean of per-user AUC over users who have both clicks and non-clicks."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    u = np.asarray(user_ids).ravel()
    order = np.lexsort((s, u))
    y, s, u = y[order], s[order], u[order]
    starts = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1]
    counts = np.diff(np.r_[starts, len(u)])
    group = np.repeat(np.arange(len(starts)), counts)
    # Average ranks within each user (ties share a rank): rank over (user, score) pairs.
    key_change = np.r_[True, (u[1:] != u[:-1]) | (s[1:] != s[:-1])]
    tie_id = np.cumsum(key_change) - 1
    pos_in_group = np.arange(len(u)) - starts[group] + 1
    tie_first = np.minimum.reduceat(pos_in_group, np.flatnonzero(key_change))
    tie_last = np.maximum.reduceat(pos_in_group, np.flatnonzero(key_change))
    ranks = ((tie_first + tie_last) / 2.0)[tie_id]
    n_pos = np.bincount(group, weights=y)
    n = counts.astype(np.float64)
    n_neg = n - n_pos
    rank_sum = np.bincount(group, weights=ranks * y)
    valid = (n_pos > 0) & (n_neg > 0)
    if not valid.any():
        return float("nan")
    user_auc = (rank_sum[valid] - n_pos[valid] * (n_pos[valid] + 1) / 2) / (n_pos[valid] * n_neg[valid])
    return float(np.average(user_auc, weights=n[valid]))


def calibration(y_true, y_prob, bins: int = 10) -> dict[str, list[float]]:
    """Mean prediction and observed positive rate per equal-width probability bin (empty bins dropped)."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_prob, dtype=np.float64).ravel()
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    keep = count > 0
    mean_pred = np.bincount(idx, weights=p, minlength=bins)[keep] / count[keep]
    frac_pos = np.bincount(idx, weights=y, minlength=bins)[keep] / count[keep]
    return {"mean_pred": mean_pred.tolist(), "frac_pos": frac_pos.tolist(), "count": count[keep].astype(int).tolist()}


def binary_report(y_true, y_prob, user_ids=None) -> dict[str, float]:
    """The held-out numbers every CTR job reports."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    report = {"auc": auc(y, y_prob), "logloss": logloss(y, y_prob), "positive_rate": float(y.mean()), "n": float(len(y))}
    if user_ids is not None:
        report["gauc"] = gauc(y, y_prob, user_ids)
    return report
