"""Targeting planner: expected incremental outcomes when an arm is given to the top share of users.

Everything is estimated from the held-out rows of a finished job (the rows no model saw in
training), one arm k against control. Rows of control and arm k are ranked by the predicted
uplift of arm k on the chosen task. For a share q, the top n = round(q · N) rows are "targeted";
their uplift is the treated minus control response rate among them, and the expected number of
incremental outcomes in a population of P users is

    incremental(q) = (rate_T(top n) − rate_C(top n)) · q · P,

which is the scikit-uplift uplift curve at n rows scaled from N held-out rows to P users.
Random targeting gives ATE · q · P (ATE = the overall difference in means). Intervals are
2.5 % / 97.5 % percentiles over bootstrap resamples of the held-out rows (drawn within each
arm, the score order kept). No Django import here.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TASKS = ("ctr", "ctcvr")
GRID_POINTS = 101  # shares 0 %, 1 %, ..., 100 %
MAX_CELLS = 2_000_000  # bootstrap rows x held-out rows held in memory at once


def outcome_columns(scores: pd.DataFrame) -> dict[str, str]:
    """Outcome name on the page -> held-out score column (revenue only when the data has one)."""
    out = {"clicks": "click", "conversions": "conversion"}
    if "revenue" in scores.columns:
        out["revenue"] = "revenue"
    return out


def incremental_at_shares(y: np.ndarray, w: np.ndarray, order: np.ndarray, shares: np.ndarray,
                          population: float) -> np.ndarray:
    """incremental(q) for every share q: y, w in any order, ``order`` ranks rows best first.

    In a prefix without treated (or control) rows that group's response rate counts as 0, as in
    scikit-uplift's uplift curve.
    """
    y, w = y[order].astype(np.float64), w[order].astype(np.float64)
    n_t = np.r_[0.0, np.cumsum(w)]
    n_c = np.r_[0.0, np.cumsum(1.0 - w)]
    y_t = np.r_[0.0, np.cumsum(y * w)]
    y_c = np.r_[0.0, np.cumsum(y * (1.0 - w))]
    n = np.rint(shares * len(y)).astype(int)
    return _lift(y_t[n], n_t[n], y_c[n], n_c[n]) * shares * population


def _lift(y_t: np.ndarray, n_t: np.ndarray, y_c: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    """Treated minus control response rate; an empty group's rate counts as 0, as in scikit-uplift."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_t > 0, y_t / n_t, 0.0) - np.where(n_c > 0, y_c / n_c, 0.0)


def _bootstrap_counts(w: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(B, N) multinomial resample counts drawn within each arm, so arm sizes stay fixed."""
    counts = np.zeros((n_boot, len(w)), dtype=np.float64)
    for flag in (0, 1):
        rows = np.flatnonzero(w == flag)
        if len(rows) == 0:
            continue
        picks = rng.integers(0, len(rows), size=(n_boot, len(rows)))
        for b in range(n_boot):
            counts[b] += np.bincount(rows[picks[b]], minlength=len(w))
    return counts


def _weighted_incremental(y: np.ndarray, w: np.ndarray, counts: np.ndarray, shares: np.ndarray,
                          population: float) -> np.ndarray:
    """incremental(q) per resample; ``counts`` (B, N) are row weights in ranked order."""
    cw_t, cw_c = counts * w, counts * (1.0 - w)  # (B, N)
    zero = np.zeros((counts.shape[0], 1))
    n_all = np.hstack([zero, np.cumsum(counts, axis=1)])  # (B, N+1)
    n_t, n_c = np.hstack([zero, np.cumsum(cw_t, axis=1)]), np.hstack([zero, np.cumsum(cw_c, axis=1)])
    y_t, y_c = np.hstack([zero, np.cumsum(cw_t * y, axis=1)]), np.hstack([zero, np.cumsum(cw_c * y, axis=1)])
    out = np.empty((counts.shape[0], len(shares)))
    total = n_all[:, -1]
    for b in range(counts.shape[0]):
        # the prefix holding share q of the resampled rows
        n = np.searchsorted(n_all[b], shares * total[b], side="left")
        out[b] = _lift(y_t[b, n], n_t[b, n], y_c[b, n], n_c[b, n]) * shares * population
    return out


def plan_arm_task(scores: pd.DataFrame, arm: int, task: str, population: float, n_boot: int = 200,
                  seed: int = 0, shares: np.ndarray | None = None) -> dict[str, Any]:
    """Planner curves for giving arm ``arm`` to the top users by predicted ``task`` uplift.

    Returns shares, the score threshold at each share, and per outcome (clicks, conversions,
    revenue) the model's and random targeting's expected incremental totals with bootstrap
    intervals, all scaled to ``population`` users.
    """
    shares = np.linspace(0.0, 1.0, GRID_POINTS) if shares is None else np.asarray(shares, dtype=np.float64)
    rows = scores[scores["arm_index"].isin([0, arm])]
    s = rows[f"uplift_{task}_{arm}"].to_numpy(dtype=np.float64)
    w = (rows["arm_index"].to_numpy() == arm).astype(np.float64)
    order = np.argsort(-s, kind="mergesort")
    n = len(s)
    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_CELLS // max(n, 1))
    count_chunks = [_bootstrap_counts(w[order], min(chunk, n_boot - start), rng) for start in range(0, n_boot, chunk)]
    thresholds = [float(s[order][min(max(int(np.rint(q * n)) - 1, 0), n - 1)]) for q in shares]
    result: dict[str, Any] = {"arm": arm, "task": task, "shares": shares.tolist(), "thresholds": thresholds,
                              "n_rows": int(n), "n_treated": int(w.sum()), "n_control": int(n - w.sum()),
                              "population": float(population), "outcomes": {}}
    for name, column in outcome_columns(scores).items():
        y = rows[column].to_numpy(dtype=np.float64)
        model = incremental_at_shares(y, w, order, shares, population)
        random = _random_line(y, w, shares, population)
        entry = {"model": model.tolist(), "random": random.tolist()}
        if n_boot:
            boot = np.vstack([_weighted_incremental(y[order], w[order], c, shares, population)
                              for c in count_chunks])  # (B, G)
            ate = np.concatenate([_bootstrap_ate(y[order], w[order], c) for c in count_chunks])  # (B,)
            boot_random = ate[:, None] * shares[None, :] * population
            entry["model_low"], entry["model_high"] = np.quantile(boot, [0.025, 0.975], axis=0).tolist()
            entry["random_low"], entry["random_high"] = np.quantile(boot_random, [0.025, 0.975], axis=0).tolist()
            gain = boot - boot_random
            entry["gain_low"], entry["gain_high"] = np.quantile(gain, [0.025, 0.975], axis=0).tolist()
        result["outcomes"][name] = entry
    return result


def _random_line(y: np.ndarray, w: np.ndarray, shares: np.ndarray, population: float) -> np.ndarray:
    ate = y[w == 1].mean() - y[w == 0].mean() if 0 < w.sum() < len(w) else 0.0
    return ate * shares * population


def _bootstrap_ate(y: np.ndarray, w: np.ndarray, counts: np.ndarray) -> np.ndarray:
    treated = (counts * w * y).sum(axis=1) / np.maximum((counts * w).sum(axis=1), 1e-12)
    control = (counts * (1 - w) * y).sum(axis=1) / np.maximum((counts * (1 - w)).sum(axis=1), 1e-12)
    return treated - control


def build_plan(scores: pd.DataFrame, arms: list[str], population: float, n_boot: int = 200,
               seed: int = 0) -> dict[str, Any]:
    """Planner curves for every treated arm and task, keyed ``"<k>:<task>"``; JSON-ready."""
    plans = {f"{k}:{task}": plan_arm_task(scores, k, task, population, n_boot, seed + k)
             for k in range(1, len(arms)) for task in TASKS if f"uplift_{task}_{k}" in scores.columns}
    return {"arms": {str(k): a for k, a in enumerate(arms)}, "tasks": list(TASKS), "population": float(population),
            "outcomes": list(outcome_columns(scores)), "n_boot": n_boot, "plans": plans}


def chosen_users(scores: pd.DataFrame, arm: int, task: str, share: float) -> pd.DataFrame:
    """The top ``share`` of held-out rows (every arm) by predicted uplift of ``arm`` on ``task``, best first."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    column = f"uplift_{task}_{arm}"
    if column not in scores.columns:
        raise KeyError(f"no scores for arm {arm} and task {task}")
    ranked = scores.sort_values(column, ascending=False, kind="mergesort")
    n = int(np.rint(share * len(ranked)))
    keep = [c for c in ("row", "user_id") if c in ranked.columns]
    keep += [f"uplift_{t}_{arm}" for t in TASKS if f"uplift_{t}_{arm}" in ranked.columns]
    return ranked.head(n)[keep].reset_index(drop=True)


def uplift_curve_band(y: np.ndarray, s: np.ndarray, w: np.ndarray, n_boot: int = 200, seed: int = 0,
                      points: int = GRID_POINTS, alpha: float = 0.05) -> dict[str, list[float]]:
    """Pointwise bootstrap band of the uplift curve (incremental outcomes among the top n rows).

    ``x`` holds row counts at ``points`` evenly spaced shares; ``low`` / ``high`` are the
    ``alpha / 2`` and ``1 − alpha / 2`` percentiles over resamples drawn within each arm.
    """
    y, s, w = (np.asarray(a, dtype=np.float64).ravel() for a in (y, s, w))
    order = np.argsort(-s, kind="mergesort")
    shares = np.linspace(0.0, 1.0, points)
    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_CELLS // max(len(y), 1))
    boot = np.vstack([_weighted_incremental(y[order], w[order], _bootstrap_counts(w[order], min(chunk, n_boot - start), rng),
                                            shares, float(len(y)))
                      for start in range(0, n_boot, chunk)])  # (B, G)
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return {"x": (shares * len(y)).tolist(), "low": low.tolist(), "high": high.tolist()}


def plan_at(plan: dict[str, Any], arm: int, task: str, *, share: float | None = None, cost: float | None = None,
            value: float | None = None, population: float | None = None) -> dict[str, Any]:
    """Expected incremental outcomes of one budget, read from a job's planner curves (:func:`build_plan`).

    The budget is a ``share`` of users (rounded to the 1 % grid) or, with ``cost`` per treated user
    and ``value`` per conversion, the share that maximises value × incremental conversions − cost ×
    treated users. Totals are scaled from the plan's population to ``population`` when given.
    Raises ``KeyError`` for an arm or task the plan lacks and ``ValueError`` for a bad budget.
    """
    key = f"{arm}:{task}"
    if key not in plan["plans"]:
        arms = ", ".join(f"{k} ({name})" for k, name in plan["arms"].items() if k != "0")
        raise KeyError(f"no plan for arm {arm} and task {task!r}; arms: {arms}; tasks: {', '.join(plan['tasks'])}")
    p = plan["plans"][key]
    pop = float(population) if population else float(p["population"])
    if pop <= 0:
        raise ValueError("population must be positive")
    f = pop / p["population"]
    shares = np.asarray(p["shares"], dtype=np.float64)
    result: dict[str, Any] = {}
    if share is not None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, got {share}")
        i = int(np.argmin(np.abs(shares - share)))
    elif cost is not None and value is not None:
        conv = p["outcomes"]["conversions"]
        profit = value * np.asarray(conv["model"], dtype=np.float64) * f - cost * shares * pop
        i = int(np.argmax(profit))
        result["profit"] = float(profit[i])
        if "model_low" in conv:
            result["profit_low"] = float(value * conv["model_low"][i] * f - cost * shares[i] * pop)
            result["profit_high"] = float(value * conv["model_high"][i] * f - cost * shares[i] * pop)
    else:
        raise ValueError("give a share, or both cost and value")
    outcomes = {}
    for name, o in p["outcomes"].items():
        entry = {"model": o["model"][i] * f, "random": o["random"][i] * f,
                 "gain": (o["model"][i] - o["random"][i]) * f}
        for bound in ("model_low", "model_high", "random_low", "random_high", "gain_low", "gain_high"):
            if o.get(bound) is not None and o[bound][i] is not None:
                entry[bound] = o[bound][i] * f
        outcomes[name] = entry
    return {"arm": arm, "arm_name": plan["arms"][str(arm)], "task": task, "share": float(shares[i]),
            "users": float(shares[i] * pop), "population": pop, "threshold": float(p["thresholds"][i]),
            "n_heldout": int(p["n_rows"]), "outcomes": outcomes, **result}
