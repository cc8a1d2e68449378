"""The run-facts rows of the compare page: speed, size and inference latency, each with its best run.

Inference latency is measured per batch of the job's own training batch size, so two runs with
different batch sizes cannot be compared per batch: the page shows latency per 1,000 rows (what
a scoring job pays) for every run, and marks the per-batch row incomparable when sizes differ.
"""
from __future__ import annotations

from typing import Any


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def ms_per_1k_rows(summary: dict) -> float | None:
    """Inference milliseconds per 1,000 rows: stored, else derived from the per-batch time and batch size."""
    stored = _number(summary.get("inference_ms_per_1k"))
    if stored is not None:
        return stored
    per_batch, size = _number(summary.get("inference_ms_per_batch")), _number(summary.get("inference_batch_size"))
    return per_batch / size * 1000 if per_batch is not None and size else None


ROWS = (
    # key, label, value of a summary, format, better ("max", "min")
    ("samples_per_s", "training samples/s", lambda s: _number(s.get("samples_per_s")), "{:,.0f}", "max"),
    ("params_count", "parameters (fewer is lighter)", lambda s: _number(s.get("params_count")), "{:,.0f}", "min"),
    ("inference_ms_per_1k", "inference ms / 1,000 rows", ms_per_1k_rows, "{:,.2f}", "min"),
    ("inference_rows_per_s", "inference rows/s", lambda s: _number(s.get("inference_rows_per_s")), "{:,.0f}", "max"),
)


def run_rows(jobs: list) -> list[dict[str, Any]]:
    """``[{key, label, note, cells: [{text, best}]}]`` for the compare table, one cell per job in order."""
    rows = []
    for key, label, read, fmt, better in ROWS:
        values = [read(j.summary or {}) for j in jobs]
        rows.append(_row(key, label, values, fmt, better))
    per_batch = [_number((j.summary or {}).get("inference_ms_per_batch")) for j in jobs]
    sizes = [_number((j.summary or {}).get("inference_batch_size")) for j in jobs]
    known = {s for s, v in zip(sizes, per_batch) if v is not None}
    comparable = len(known) <= 1 and None not in known
    row = _row("inference_ms_per_batch", "inference ms / batch", per_batch, "{:,.2f}", "min" if comparable else None)
    for cell, size in zip(row["cells"], sizes):
        if cell["text"] != "—" and size:
            cell["text"] += f" ({size:,.0f} rows)"
    if not comparable and any(v is not None for v in per_batch):
        row["note"] = "not comparable: the runs were timed on batches of different sizes (see per 1,000 rows)"
    rows.insert(3, row)
    return rows


def _row(key: str, label: str, values: list, fmt: str, better: str | None) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    best = None
    if better and len(present) >= 2 and len(set(present)) > 1:
        best = max(present) if better == "max" else min(present)
    return {"key": key, "label": label, "note": "",
            "cells": [{"text": "—" if v is None else fmt.format(v), "best": v is not None and v == best} for v in values]}
