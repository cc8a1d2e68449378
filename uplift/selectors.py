"""Read a finished uplift job's held-out scores and the targeting plan built from them."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from jobs import files as job_files
from jobs.models import Job

from .pipeline import METRIC_DEFINITIONS, PLAN_FILE, SCORES_FILE, write_plan

PLAN_BOOTSTRAP = 200
MATRIX_METRICS = (
    ("sklift_auuc", "Normalised AUUC (scikit-uplift)", True),
    ("sklift_qini", "Qini coefficient (scikit-uplift)", True),
    ("causalml_auuc", "AUUC (causalml)", False),
    ("causalml_qini", "Qini score (causalml)", False),
    ("uplift_at_10", "Uplift@10 %", False),
    ("uplift_at_20", "Uplift@20 %", False),
    ("uplift_at_30", "Uplift@30 %", False),
    ("spearman_true", "Spearman with true effect", False),
)


class NoScores(Exception):
    """The job has no held-out score file (it is unfinished, failed, or ran before scores were saved)."""


def heldout_scores(job: Job) -> pd.DataFrame:
    """The per-row held-out scores the pipeline wrote for ``job``."""
    if job.kind != "uplift" or job.status != Job.Status.SUCCEEDED:
        raise NoScores(f"Job {job.display_name} has no held-out scores; only finished uplift jobs have them.")
    path = job_files.local_file(job, job.summary.get("scores_file", SCORES_FILE))
    if not path.exists():
        raise NoScores(f"Job {job.display_name} has no held-out scores; only finished uplift jobs have them.")
    return pd.read_parquet(path)


def job_plan(job: Job) -> dict[str, Any]:
    """Planner curves for every arm and task: written by the worker at the end of the job, else built once here."""
    cache = job_files.local_file(job, job.summary.get("plan_file", PLAN_FILE)) if job.is_terminal else \
        job.workdir / job.summary.get("plan_file", PLAN_FILE)
    if cache.exists():
        return json.loads(cache.read_text())
    scores = heldout_scores(job)
    arms = [job.summary["arms"][str(k)] for k in range(len(job.summary["arms"]))]
    return write_plan(cache, scores, arms, population=float(job.dataset.n_rows or len(scores)),
                      n_boot=int(job.params.get("n_bootstrap", PLAN_BOOTSTRAP)), seed=int(job.params.get("seed", 0)))


def revenue_unit(job: Job) -> str:
    """What revenue is counted in: the ``REVENUE_CURRENCY`` setting (e.g. ``EUR``) or the dataset's revenue column."""
    from django.conf import settings

    if settings.REVENUE_CURRENCY:
        return settings.REVENUE_CURRENCY
    columns = job.dataset.columns_with_role("revenue")
    return f"units of `{columns[0]}`" if columns else "revenue units"


def metric_matrix(job: Job) -> dict[str, Any]:
    """Task × arm × metric rows for the job page, each value with its interval where one exists.

    Rows are (task, treated arm) plus the mean over arms per task; columns without any value (e.g.
    the true-effect correlation on real data) are left out.
    """
    m = job.metrics
    arms = job.summary.get("arms") or {}
    present = [(short, label, has_ci) for short, label, has_ci in MATRIX_METRICS
               if any(key.startswith(f"{short}_") for key in m)]
    rows = []
    for task in ("ctr", "ctcvr"):
        for k in [k for k in sorted(arms, key=int) if k != "0"] + ["mean"]:
            suffix = task if k == "mean" else f"{task}_arm{k}"
            cells = [{"key": f"{short}_{suffix}", "value": m.get(f"{short}_{suffix}"),
                      "low": m.get(f"{short}_{suffix}_low") if has_ci else None,
                      "high": m.get(f"{short}_{suffix}_high") if has_ci else None}
                     for short, _, has_ci in present]
            if any(c["value"] is not None for c in cells):
                rows.append({"task": task, "arm": arms.get(k, "mean over arms"), "cells": cells})
    columns = [{"key": short, "label": label, "definition": _definition(short)} for short, label, _ in present]
    return {"columns": columns, "rows": rows, "auc": {t: m.get(f"auc_{t}") for t in ("ctr", "ctcvr")},
            "naming": METRIC_DEFINITIONS["naming"], "auc_definition": METRIC_DEFINITIONS["auc"]}


def _definition(short: str) -> str:
    return METRIC_DEFINITIONS.get("uplift_at_k" if short.startswith("uplift_at_") else short, "")
