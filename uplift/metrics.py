"""Uplift evaluation in vectorised NumPy: curves, normalised areas, uplift@k, deciles, bootstrap CIs.

Two families are implemented, named after the library whose definition they reproduce, because
their numbers are not comparable:

- ``sklift_*``: scikit-uplift 0.5.1. Rows sorted by score (stable, descending), tied scores enter
  together, x in counts, an undefined arm mean counts as 0. ``sklift_uplift_auc_score`` (normalised
  AUUC) and ``sklift_qini_auc_score`` (Qini coefficient) are 1 for the oracle, 0 for a constant score.
- ``causalml_*``: causalml 0.18.0. One point per row (ties not grouped), undefined prefixes linearly
  interpolated; ``causalml_auuc_score`` is the mean of the gain curve (random ≈ 0.5 when normalised),
  ``causalml_qini_score`` the mean height above the random chord (random ≈ 0).

Every function takes binary outcomes ``y``, a binary treatment flag ``w`` (1 = treated arm, 0 =
control) and a score ``s`` (predicted uplift, higher = treat first). For more than two arms, keep the
rows of control and one arm and call these once per arm.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

Curve = tuple[np.ndarray, np.ndarray]


def _check(y, s, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    w = np.asarray(w, dtype=np.float64).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    if not (len(y) == len(w) == len(s)):
        raise ValueError(f"y, score and treatment differ in length ({len(y)}, {len(s)}, {len(w)})")
    if len(y) == 0:
        raise ValueError("uplift metrics need at least one row")
    if not np.isin(w, (0.0, 1.0)).all():
        raise ValueError("treatment flag must be 0 (control) or 1 (treated)")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y, s, w


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0, as scikit-uplift does."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def _trapezoid(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Trapezoid area along the last axis; x and v are (..., P)."""
    return (np.diff(x, axis=-1) * (v[..., 1:] + v[..., :-1]) / 2).sum(axis=-1)


class _Ranking:
    """Rows sorted once by a score; curves for any set of row weights (bootstrap) reuse the sort."""

    def __init__(self, y: np.ndarray, s: np.ndarray, w: np.ndarray):
        order = np.argsort(s, kind="mergesort")[::-1]  # scikit-uplift's tie order
        self.y, self.w, self.order = y[order], w[order], order
        self.ends = np.r_[np.flatnonzero(np.diff(s[order])), len(s) - 1]  # last row of each tie run

    def sums(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(n, N_T, N_C, Y_T, Y_C) at every curve point, each (B, P+1) with a leading 0 column."""
        c = np.ones((1, len(self.y))) if weights is None else weights[:, self.order]  # (B, N)
        yw, w = self.y * self.w, self.w
        parts = []
        for term in (w, 1 - w, yw, self.y - yw):
            cum = np.cumsum(c * term, axis=1)[:, self.ends]  # (B, P)
            parts.append(np.concatenate([np.zeros((len(c), 1)), cum], axis=1))  # (B, P+1)
        n_t, n_c, y_t, y_c = parts
        return n_t + n_c, n_t, n_c, y_t, y_c


def _uplift_values(n, n_t, n_c, y_t, y_c) -> np.ndarray:
    return (_safe_div(y_t, n_t) - _safe_div(y_c, n_c)) * n


def _qini_values(n, n_t, n_c, y_t, y_c) -> np.ndarray:
    return y_t - y_c * _safe_div(n_t, n_c)


def _perfect_uplift_scores(y: np.ndarray, w: np.ndarray, control_responders_first: bool) -> np.ndarray:
    """Treated responders, control non-responders, then the two 'wrong' groups in sklift's order."""
    return 2 * (y == w) + (y if control_responders_first else w)


def _perfect_qini_scores(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    return y * w - y * (1 - w)


def _rows_to_curve(n: np.ndarray, v: np.ndarray) -> Curve:
    return n[0], v[0]


# --------------------------------------------------------------------------- scikit-uplift family
def uplift_curve(y, s, w) -> Curve:
    """Incremental outcomes among the top n: (Y_T/N_T − Y_C/N_C)·n at each distinct score (sklift)."""
    y, s, w = _check(y, s, w)
    sums = _Ranking(y, s, w).sums()
    return _rows_to_curve(sums[0], _uplift_values(*sums))


def qini_curve(y, s, w) -> Curve:
    """Y_T − Y_C·N_T/N_C among the top n, at each distinct score (sklift)."""
    y, s, w = _check(y, s, w)
    sums = _Ranking(y, s, w).sums()
    return _rows_to_curve(sums[0], _qini_values(*sums))


def perfect_uplift_curve(y, w) -> Curve:
    """The uplift curve of sklift's oracle ranking (its shape depends on which wrong group is larger)."""
    y, _, w = _check(y, np.zeros(len(np.ravel(y))), w)
    control_responders = np.sum(y * (1 - w))
    treated_non_responders = np.sum((1 - y) * w)
    return uplift_curve(y, _perfect_uplift_scores(y, w, control_responders > treated_non_responders), w)


def perfect_qini_curve(y, w, negative_effect: bool = True) -> Curve:
    """Oracle Qini curve; without negative effects sklift uses the three points (0,0), (G,G), (N,G)."""
    y, _, w = _check(y, np.zeros(len(np.ravel(y))), w)
    if negative_effect:
        return qini_curve(y, _perfect_qini_scores(y, w), w)
    n_t, n_c = w.sum(), (1 - w).sum()
    gain = np.sum(y * w) - np.sum(y * (1 - w)) * (n_t / n_c if n_c else 0.0)
    return np.array([0.0, gain, len(y)]), np.array([0.0, gain, gain])


def random_curve(perfect: Curve) -> Curve:
    """The chord a random ranking follows: from (0, 0) to the end of the (perfect) curve."""
    x, v = perfect
    return np.array([0.0, x[-1]]), np.array([0.0, v[-1]])


def _normalised(area: np.ndarray, perfect_area: np.ndarray, random_area: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (area - random_area) / (perfect_area - random_area)


def sklift_uplift_auc_score(y, s, w) -> float:
    """Normalised AUUC (sklift ``uplift_auc_score``): (model − random) / (perfect − random) areas."""
    y, s, w = _check(y, s, w)
    return float(_sklift_scores(y, s, w, None)["uplift_auc"][0])


def sklift_qini_auc_score(y, s, w, negative_effect: bool = True) -> float:
    """Qini coefficient (sklift ``qini_auc_score``); ``negative_effect=False`` needs a non-negative gain."""
    y, s, w = _check(y, s, w)
    if negative_effect:
        return float(_sklift_scores(y, s, w, None)["qini_auc"][0])
    px, pv = perfect_qini_curve(y, w, negative_effect=False)
    if pv[-1] < 0:
        raise ValueError("the overall gain is negative, so the no-negative-effect perfect Qini curve is undefined; "
                         "use negative_effect=True")
    rx, rv = random_curve((px, pv))
    x, v = qini_curve(y, s, w)
    return float(_normalised(_trapezoid(x, v), _trapezoid(px, pv), _trapezoid(rx, rv)))


def _sklift_scores(y: np.ndarray, s: np.ndarray, w: np.ndarray, weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """Normalised AUUC and Qini coefficient for each row of ``weights`` (B, N); one sort per ranking."""
    model = _Ranking(y, s, w).sums(weights)
    sums = [_Ranking(y, _perfect_uplift_scores(y, w, flag), w).sums(weights) for flag in (False, True)]
    c = np.ones((1, len(y))) if weights is None else weights
    control_responders_first = (c @ (y * (1 - w))) > (c @ ((1 - y) * w))  # (B,)
    perfect_u = np.where(control_responders_first, *(_trapezoid(p[0], _uplift_values(*p)) for p in sums[::-1]))
    end_u = _uplift_values(*sums[0])[:, -1]  # the same for every ranking
    perfect_q = _Ranking(y, _perfect_qini_scores(y, w), w).sums(weights)
    end_q = _qini_values(*perfect_q)[:, -1]
    total = model[0][:, -1]
    return {
        "uplift_auc": _normalised(_trapezoid(model[0], _uplift_values(*model)), perfect_u, total * end_u / 2),
        "qini_auc": _normalised(_trapezoid(model[0], _qini_values(*model)),
                                _trapezoid(perfect_q[0], _qini_values(*perfect_q)), total * end_q / 2),
    }


def uplift_at_k(y, s, w, k: float | int = 0.3, strategy: str = "overall") -> float:
    """Treated minus control response rate in the top k (sklift ``uplift_at_k``); NaN if an arm is absent.

    ``overall`` takes the top ⌊k·N⌋ rows; ``by_group`` the top ⌊k·N_T⌋ treated and ⌊k·N_C⌋ control
    rows separately. An integer ``k`` is a row count.
    """
    y, s, w = _check(y, s, w)
    if strategy not in ("overall", "by_group"):
        raise ValueError("strategy must be 'overall' or 'by_group'")
    order = np.argsort(s, kind="mergesort")[::-1]
    y, w = y[order], w[order]
    is_fraction = isinstance(k, float)
    if is_fraction and not 0 < k < 1:
        raise ValueError("a fractional k must lie strictly between 0 and 1")
    if strategy == "overall":
        size = int(len(y) * k) if is_fraction else int(k)
        top_y, top_w = y[:size], w[:size]
        treated, control = top_y[top_w == 1], top_y[top_w == 0]
    else:
        treated_all, control_all = y[w == 1], y[w == 0]
        treated = treated_all[: int(len(treated_all) * k) if is_fraction else int(k)]
        control = control_all[: int(len(control_all) * k) if is_fraction else int(k)]
    if len(treated) == 0 or len(control) == 0:
        return float("nan")
    return float(treated.mean() - control.mean())


def uplift_by_percentile(y, s, w, bins: int = 10, strategy: str = "overall") -> dict[str, list]:
    """The decile table (sklift ``uplift_by_percentile`` with std): per bin counts, rates and uplift.

    Bins follow ``numpy.array_split`` of the score-sorted rows (first bins get the extra row);
    ``by_group`` splits each arm's rows separately. Standard errors are binomial:
    std_uplift = sqrt(r_T(1−r_T)/n_T + r_C(1−r_C)/n_C). An empty arm in a bin gives NaN there.
    """
    y, s, w = _check(y, s, w)
    if strategy not in ("overall", "by_group"):
        raise ValueError("strategy must be 'overall' or 'by_group'")
    if bins < 1 or bins > len(y):
        raise ValueError(f"bins must be between 1 and the number of rows ({len(y)})")
    order = np.argsort(s, kind="mergesort")[::-1]
    y, w = y[order], w[order]

    def bin_ids(n: int) -> np.ndarray:
        sizes = np.full(bins, n // bins) + (np.arange(bins) < n % bins)
        return np.repeat(np.arange(bins), sizes)

    stats = {}
    for name, flag in (("treatment", 1.0), ("control", 0.0)):
        if strategy == "overall":
            ids = bin_ids(len(y))[w == flag]
        else:
            ids = bin_ids(int((w == flag).sum()))
        count = np.bincount(ids, minlength=bins).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.bincount(ids, weights=y[w == flag], minlength=bins) / count
            var = rate * (1 - rate) / count
        stats[name] = (count, rate, var)
    (n_t, r_t, v_t), (n_c, r_c, v_c) = stats["treatment"], stats["control"]
    edges = [round(p * 100 / bins) for p in range(bins + 1)]
    return {
        "percentile": [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:])],
        "n_treatment": n_t.astype(int).tolist(), "n_control": n_c.astype(int).tolist(),
        "response_rate_treatment": r_t.tolist(), "response_rate_control": r_c.tolist(),
        "uplift": (r_t - r_c).tolist(),
        "std_treatment": np.sqrt(v_t).tolist(), "std_control": np.sqrt(v_c).tolist(),
        "std_uplift": np.sqrt(v_t + v_c).tolist(),
    }


def weighted_average_uplift(y, s, w, bins: int = 10, strategy: str = "overall") -> float:
    """Bin uplifts averaged with the treated counts as weights (sklift ``weighted_average_uplift``)."""
    table = uplift_by_percentile(y, s, w, bins, strategy)
    n_t, uplift = np.asarray(table["n_treatment"], float), np.asarray(table["uplift"], float)
    keep = np.isfinite(uplift)
    return float(np.sum(n_t[keep] * uplift[keep]) / np.sum(n_t[keep]))


# --------------------------------------------------------------------------- causalml family
def _causalml_prefix(y, s, w) -> tuple[np.ndarray, ...]:
    y, s, w = _check(y, s, w)
    order = np.argsort(-s, kind="mergesort")  # ties keep input order; causalml does not group them
    y, w = y[order], w[order]
    n = np.arange(1, len(y) + 1, dtype=np.float64)
    n_t = np.cumsum(w)
    n_c = n - n_t
    y_t = np.cumsum(y * w)
    y_c = np.cumsum(y * (1 - w))
    return n, n_t, n_c, y_t, y_c


def _interpolate_from_zero(values: np.ndarray) -> np.ndarray:
    """Prepend the point 0 and fill undefined (NaN) points linearly, as pandas ``interpolate`` does."""
    v = np.r_[0.0, values]
    known = np.isfinite(v)
    if known.sum() < 2:
        return np.full_like(v, np.nan)
    idx = np.arange(len(v))
    last = np.flatnonzero(known)[-1]
    filled = np.interp(idx, idx[known], v[known])
    filled[last + 1:] = v[last]  # pandas carries the last value forward
    return filled


def causalml_gain_curve(y, s, w, normalize: bool = False) -> np.ndarray:
    """causalml ``get_cumgain``: lift(n)·n with n = 0..N, undefined lifts interpolated from lift(0)=0."""
    n, n_t, n_c, y_t, y_c = _causalml_prefix(y, s, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where((n_t > 0) & (n_c > 0), y_t / n_t - y_c / n_c, np.nan)
    gain = _interpolate_from_zero(lift) * np.r_[0.0, n]
    if normalize:
        gain = gain / np.abs(gain[-1])
    return gain


def causalml_qini_curve(y, s, w, normalize: bool = False) -> np.ndarray:
    """causalml ``get_qini``: Y_T − Y_C·N_T/N_C with n = 0..N, undefined points interpolated."""
    n, n_t, n_c, y_t, y_c = _causalml_prefix(y, s, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / n_c, np.nan)
    q = _interpolate_from_zero(q)
    if normalize:
        q = q / np.abs(q[-1])
    return q


def causalml_auuc_score(y, s, w, normalize: bool = True) -> float:
    """causalml ``auuc_score``: mean of the gain curve over its N+1 points; random ≈ 0.5 when normalised."""
    return float(np.mean(causalml_gain_curve(y, s, w, normalize)))


def causalml_qini_score(y, s, w, normalize: bool = True) -> float:
    """causalml ``qini_score``: mean height of the Qini curve above the chord from Q(0) to Q(N)."""
    q = causalml_qini_curve(y, s, w, normalize)
    chord = np.linspace(q[0], q[-1], len(q))
    return float(np.mean(q - chord))


# --------------------------------------------------------------------------- ground truth, plotting, CIs
def true_uplift_curve(tau, s) -> Curve:
    """Expected incremental outcomes Σ τ over the top n by ``s`` (tie runs together), for known effects τ."""
    tau = np.asarray(tau, dtype=np.float64).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    order = np.argsort(s, kind="mergesort")[::-1]
    ends = np.r_[np.flatnonzero(np.diff(s[order])), len(s) - 1]
    return np.r_[0.0, ends + 1.0], np.r_[0.0, np.cumsum(tau[order])[ends]]


def downsample_curve(x: Sequence[float], v: Sequence[float], max_points: int = 200) -> dict[str, list[float]]:
    """At most ``max_points`` evenly spaced points (first and last kept) for a browser chart."""
    x, v = np.asarray(x, dtype=np.float64), np.asarray(v, dtype=np.float64)
    if len(x) > max_points:
        keep = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
        x, v = x[keep], v[keep]
    return {"x": x.tolist(), "y": v.tolist()}


def bootstrap_sklift_scores(y, s, w, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                            max_cells: int = 4_000_000) -> dict[str, dict[str, float]]:
    """Percentile bootstrap CIs of the normalised AUUC and Qini coefficient.

    A resample is a row of multinomial counts over the original rows, so the score sort is done once
    and all resamples are cumulative sums over a (B, N) count matrix, chunked to ``max_cells``.
    """
    y, s, w = _check(y, s, w)
    n = len(y)
    rng = np.random.default_rng(seed)
    point = _sklift_scores(y, s, w, None)
    draws: dict[str, list[np.ndarray]] = {k: [] for k in point}
    chunk = max(1, min(n_boot, max_cells // n))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]  # (b, N) flat row ids
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)  # (b, N)
        for key, values in _sklift_scores(y, s, w, counts).items():
            draws[key].append(values)
    out = {}
    for key, value in point.items():
        samples = np.concatenate(draws[key])
        samples = samples[np.isfinite(samples)]
        low, high = (np.quantile(samples, [alpha / 2, 1 - alpha / 2]) if len(samples) else (np.nan, np.nan))
        out[key] = {"score": float(value[0]), "low": float(low), "high": float(high),
                    "std": float(samples.std(ddof=1)) if len(samples) > 1 else float("nan")}
    return out
