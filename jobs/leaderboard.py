"""A per-dataset leaderboard: every finished run's held-out metrics in one sortable table.

Columns are the numeric metrics the runs report, with each kind's headline numbers first, so the
same table serves CTR (AUC, logloss, GAUC), uplift (Qini, AUUC) and attribute runs (F1, mAP).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .labels import label
from .models import Job

# Headline metrics in the order analysts read them; anything else numeric follows alphabetically.
PREFERRED = (
    "auc", "gauc", "logloss", "auc_longtail", "gauc_longtail",
    "teacher_auc", "student_auc",
    "sklift_qini_ctcvr", "sklift_qini_ctr", "sklift_auuc_ctcvr", "sklift_auuc_ctr", "auc_ctcvr", "auc_ctr",
    "map", "macro_f1", "micro_f1", "hit@1", "hit@3",
)
# Interval ends and spreads sit beside their metric on the job page, not in the leaderboard.
HIDDEN_SUFFIXES = ("_low", "_high", "_std")
LOWER_IS_BETTER_SUFFIXES = ("logloss", "loss", "latency_ms")
MAX_COLUMNS = 8


@dataclass(frozen=True)
class Column:
    """One metric column: its key, and whether a smaller value ranks higher."""

    key: str
    lower_is_better: bool

    @property
    def label(self) -> str:
        return label(self.key)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def leaderboard_columns(jobs: Iterable[Job], limit: int = MAX_COLUMNS) -> list[Column]:
    """The metric columns for these runs: preferred headline metrics first, at most ``limit``."""
    seen: set[str] = set()
    for job in jobs:
        seen.update(k for k, v in (job.metrics or {}).items() if _numeric(v))
    seen -= {"n", "n_test", "positive_rate"}
    seen = {k for k in seen if not k.endswith(HIDDEN_SUFFIXES)}
    ordered = [k for k in PREFERRED if k in seen] + sorted(seen - set(PREFERRED))
    return [Column(k, k.endswith(LOWER_IS_BETTER_SUFFIXES)) for k in ordered[:limit]]


def leaderboard(jobs: Iterable[Job]) -> tuple[list[Column], list[Job]]:
    """Columns and the runs ranked by the first column (best first; runs without it last)."""
    runs = [j for j in jobs if j.status == Job.Status.SUCCEEDED and j.metrics]  # data-building jobs have none
    columns = leaderboard_columns(runs)
    if not columns:
        return columns, runs
    first = columns[0]

    def rank(job: Job) -> tuple[int, float]:
        value = (job.metrics or {}).get(first.key)
        if not _numeric(value):
            return (1, 0.0)
        return (0, value if first.lower_is_better else -value)

    return columns, sorted(runs, key=rank)
