"""A per-dataset leaderboard: finished runs' held-out metrics in one sortable table, best first.

Columns are the numeric metrics the runs report, with each kind's headline numbers first, so the
same table serves CTR (AUC, logloss, GAUC), uplift (Qini, AUUC) and attribute runs (F1, mAP).

Ranking never reads every run's metrics: each run stores its *headline* (the first column it
reports, its value, and a score that is larger when better) in three indexed columns of ``Job``
when it finishes (:func:`headline_fields`), and the dataset page reads the top runs of one
headline metric from that index (``jobs.selectors.leaderboard_page``). This module holds the rules
only; it reads no database.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from django.template.defaultfilters import floatformat, stringformat

from .labels import label

if TYPE_CHECKING:
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
NOT_METRICS = {"n", "n_test", "positive_rate"}
LOWER_IS_BETTER_SUFFIXES = ("logloss", "loss", "latency_ms")
MAX_COLUMNS = 8
TOP_N = 25  # runs on the dataset page; "show all" pages through the rest


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


def metric_keys(metric_dicts: Iterable[Mapping[str, Any]]) -> list[str]:
    """Rankable metric keys of these runs, preferred headline metrics first."""
    seen: set[str] = set()
    for metrics in metric_dicts:
        seen.update(k for k, v in (metrics or {}).items() if _numeric(v))
    seen = {k for k in seen - NOT_METRICS if not k.endswith(HIDDEN_SUFFIXES)}
    return [k for k in PREFERRED if k in seen] + sorted(seen - set(PREFERRED))


def lower_is_better(key: str) -> bool:
    return key.endswith(LOWER_IS_BETTER_SUFFIXES)


def leaderboard_columns(jobs: Iterable[Job], limit: int = MAX_COLUMNS) -> list[Column]:
    """The metric columns for these runs: preferred headline metrics first, at most ``limit``."""
    return [Column(k, lower_is_better(k)) for k in metric_keys(j.metrics for j in jobs)[:limit]]


def headline_fields(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """``headline_metric``, ``headline_value`` and ``headline_score`` of a run with these metrics.

    The headline is the run's first leaderboard column; the score is the value, negated when a
    smaller value is better, so every leaderboard ranks by ``-headline_score`` on one index.
    """
    keys = metric_keys([metrics or {}])
    if not keys:
        return {"headline_metric": "", "headline_value": None, "headline_score": None}
    key = keys[0]
    value = float(metrics[key])
    return {"headline_metric": key, "headline_value": value, "headline_score": -value if lower_is_better(key) else value}


def pick_headline(metrics_present: Iterable[str]) -> str:
    """The headline metric a dataset's leaderboard ranks by: the most preferred one its runs report."""
    present = set(metrics_present) - {""}
    ordered = [k for k in PREFERRED if k in present] + sorted(present - set(PREFERRED))
    return ordered[0] if ordered else ""


def leaderboard(jobs: Iterable[Job]) -> tuple[list[Column], list[Job]]:
    """Columns and the runs ranked by the first column (best first; runs without it last).

    For a handful of runs already in memory (tests, the compare page); the dataset page ranks
    in the database from the headline columns.
    """
    runs = [j for j in jobs if j.status == "succeeded" and j.metrics]  # data-building jobs have none
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


# --- cells: each run's row formatted once ------------------------------------------------------------


def metric_cells(metrics: Mapping[str, Any] | None, columns: Iterable[Column]) -> list[tuple[str, str]]:
    """``(data-value, text)`` of each column's cell: the exact value for sorting, 4 decimals for reading.

    Formatted with the template filters' own functions (``stringformat``, ``floatformat``), once per
    cell in Python rather than through a ``{% with %}`` and three filters per cell in the template.
    """
    metrics = metrics if hasattr(metrics, "get") else {}
    cells = []
    for column in columns:
        value = metrics.get(column.key)
        cells.append(("", "—") if value is None else (stringformat(value, ".10g"), floatformat(value, 4)))
    return cells


def summary_cell(summary: Mapping[str, Any] | None, key: str) -> tuple[str, str]:
    """``(data-value, text)`` of a run-summary number (training speed, parameters): grouped digits or "—"."""
    value = (summary or {}).get(key) if hasattr(summary, "get") else None
    if value is None:
        return "", "—"
    return stringformat(value, "s"), floatformat(value, "0g") or "—"


# --- reference rows: what no learning already gets ---------------------------------------------------

REFERENCE_LABELS = {"item_ctr": "Reference (untrained): item popularity",
                    "user_like_rate": "Reference (untrained): user's past like-rate"}
# Runs of these algorithms are references, not contenders: marked so in the leaderboard.
REFERENCE_ALGORITHMS = {"s_learner": "Reference: S-learner", "text_similarity": "Reference (untrained): text similarity"}
RANDOM_UPLIFT = {"sklift_qini_ctcvr": 0.0, "sklift_qini_ctr": 0.0, "sklift_auuc_ctcvr": 0.0, "sklift_auuc_ctr": 0.0}


@dataclass(frozen=True)
class ReferenceRow:
    """A leaderboard row no model produced: a heuristic's metrics, labelled as such."""

    label: str
    metrics: dict
    source: Job | None = None  # the run whose held-out rows it was computed on


def reference_rows(runs: Iterable[Job]) -> list[ReferenceRow]:
    """Untrained references for these runs' dataset.

    CTR: the heuristics the newest succeeded CTR run stored in ``summary["references"]`` (computed
    on its own test rows from its own training rows). Uplift: a random ranking, whose normalised
    Qini and AUUC are 0 by definition. (S-learner and text-similarity runs are marked in place, see
    :func:`reference_label`.)
    """
    runs = [j for j in runs if j.status == "succeeded" and j.metrics]
    rows: list[ReferenceRow] = []
    ctr = [j for j in runs if (j.summary or {}).get("references")]
    if ctr:
        newest = max(ctr, key=lambda j: (j.finished_at is not None, j.finished_at, j.pk))
        for name, metrics in newest.summary["references"].items():
            rows.append(ReferenceRow(REFERENCE_LABELS.get(name, f"Reference (untrained): {name}"), metrics, newest))
    if any(j.kind == "uplift" for j in runs):
        rows.append(ReferenceRow("Reference: random ranking (Qini and AUUC 0 by definition)", dict(RANDOM_UPLIFT)))
    return rows


def reference_label(job: Job) -> str:
    """"Reference: ..." for a run of a reference algorithm, else ""."""
    return REFERENCE_ALGORITHMS.get(job.algorithm, "")
