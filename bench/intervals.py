"""Mean ± 95 % Student-t interval over seeds, shared by the benches that repeat runs."""
from __future__ import annotations

import numpy as np
from scipy import stats


def interval(values) -> tuple[float, float]:
    """Mean and the half-width of its 95 % Student-t interval (0 for a single run; NaNs dropped)."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    if len(values) < 2:
        return float(values.mean()), 0.0
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def fmt(values, digits: int = 4) -> str:
    """``0.8123 ± 0.0040`` (or ``—`` when there is no finite value)."""
    mean, half = interval(values)
    if not np.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"
