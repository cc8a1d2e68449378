"""Plotly figure specs (plain JSON dicts) built from a job's stored curves.

The page embeds them as JSON and ``static/js/charts.js`` draws them with the locally served
plotly.min.js, so no chart needs a CDN or a server-side image.
"""
from __future__ import annotations

from typing import Any, Callable

from .labels import label, spell
from .models import Job

# Per-kind chart builders: the uplift and attribute apps register theirs in ``AppConfig.ready``.
_KIND_CHARTS: dict[str, Callable[[Job], list[dict[str, Any]]]] = {}
_KIND_COMPARISON: dict[str, Callable[[list[Job]], list[dict[str, Any]]]] = {}
# Per-kind template included on the job page under the metrics (e.g. a link to the planner).
_KIND_PANELS: dict[str, str] = {}


def register_kind_charts(kind: str, job: Callable[[Job], list[dict[str, Any]]] | None = None,
                         comparison: Callable[[list[Job]], list[dict[str, Any]]] | None = None,
                         panel: str | None = None) -> None:
    """Let a dataset kind draw its own job charts, comparison charts and page panel."""
    if job is not None:
        _KIND_CHARTS[kind] = job
    if comparison is not None:
        _KIND_COMPARISON[kind] = comparison
    if panel is not None:
        _KIND_PANELS[kind] = panel


def kind_panel(job: Job) -> str | None:
    """Template name of the kind's extra panel on the job page, if it registered one."""
    return _KIND_PANELS.get(job.kind)

# The title sits below the mode bar (which Plotly draws in the top 30 px on hover), axes make room
# for their own tick labels and titles (automargin), and hover labels carry 4 decimals.
MODEBAR_ROOM = 30
LAYOUT = {"margin": {"l": 60, "r": 60, "t": 40 + MODEBAR_ROOM, "b": 90}, "height": 360 + MODEBAR_ROOM,
          "autosize": True, "legend": {"orientation": "h", "y": -0.32}}


def _axis(title: str, hoverformat: str = ".4f", **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "automargin": True, "hoverformat": hoverformat, **extra}


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {**LAYOUT, "title": {"text": title, "font": {"size": 15}, "yref": "container", "y": 1, "yanchor": "top",
                                "pad": {"t": MODEBAR_ROOM}},
            "xaxis": _axis(x), "yaxis": _axis(y), **extra}


def _title_room(layout: dict[str, Any], lines: int) -> dict[str, Any]:
    """More top margin for a title of several lines (e.g. one with a ``<sup>`` note)."""
    extra = 22 * (lines - 1)
    return {**layout, "margin": {**layout["margin"], "t": layout["margin"]["t"] + extra},
            "height": layout["height"] + extra}


def roc_figure(jobs: list[Job]) -> dict[str, Any] | None:
    traces = []
    for job in jobs:
        roc = job.curves.get("roc")
        if roc:
            auc = job.metrics.get("auc")
            label = job.display_name if len(jobs) > 1 else "model"
            if "teacher_roc" in job.curves and len(jobs) == 1:
                label = "student, served"
            traces.append({"type": "scatter", "mode": "lines", "x": roc["fpr"], "y": roc["tpr"],
                           "name": f"{label} (AUC {auc:.4f})" if isinstance(auc, float) else label})
        teacher = job.curves.get("teacher_roc")
        if teacher and len(jobs) == 1:  # a distillation run: the teacher beside the served student
            t_auc = job.metrics.get("teacher_auc")
            traces.append({"type": "scatter", "mode": "lines", "x": teacher["fpr"], "y": teacher["tpr"],
                           "name": f"teacher (AUC {t_auc:.4f})" if isinstance(t_auc, float) else "teacher"})
    if not traces:
        return None
    traces.append({"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1], "name": "random (AUC 0.5)",
                   "line": {"dash": "dot", "color": "#999"}})
    layout = _layout("ROC curve on the held-out test split", "False positive rate", "True positive rate")
    layout["xaxis"]["range"], layout["yaxis"]["range"] = [0, 1], [0, 1.01]
    return {"id": "roc", "data": traces, "layout": layout}


def _is_loss(key: str) -> bool:
    return "loss" in key


def learning_figure(job: Job) -> dict[str, Any] | None:
    """Losses (train and validation) on the left axis, ranking metrics (AUC, GAUC, Qini…) on the right:
    a log loss of 0.45 and an AUC of 0.75 never share one scale."""
    history = job.curves.get("history") or []
    if not history:
        return None
    epochs = [h["epoch"] for h in history]
    traces = [{"type": "scatter", "mode": "lines+markers", "x": epochs, "y": [h.get("train_loss") for h in history],
               "name": "training loss", "yaxis": "y"}]
    scores = []
    for key in sorted(k for k in history[0] if k.startswith("valid_")):
        side = "y" if _is_loss(key) else "y2"
        traces.append({"type": "scatter", "mode": "lines+markers", "x": epochs, "y": [h.get(key) for h in history],
                       "name": label(key), "yaxis": side,
                       **({"line": {"dash": "dot"}} if side == "y" else {})})
        if side == "y2":
            scores.append(spell(key[len("valid_"):]))
    layout = _layout("Learning curves", "Epoch", "Loss")
    layout["xaxis"]["dtick"] = 1
    layout["margin"] = {**layout["margin"], "r": 80}
    if scores:
        layout["yaxis2"] = _axis(f"Validation {' / '.join(scores)}", overlaying="y", side="right", showgrid=False)
    else:
        traces = [{**t, "yaxis": "y"} for t in traces]
    best = job.summary.get("best_epoch")
    if best:
        layout["shapes"] = [{"type": "line", "x0": best, "x1": best, "yref": "paper", "y0": 0, "y1": 1,
                             "line": {"dash": "dash", "color": "#2a9d8f"}}]
        layout["annotations"] = [{"x": best, "y": 1, "yref": "paper", "text": "best epoch", "showarrow": False,
                                 "yanchor": "bottom"}]
    return {"id": "learning", "data": traces, "layout": layout}


def calibration_figure(job: Job) -> dict[str, Any] | None:
    cal = job.curves.get("calibration")
    if not cal:
        return None
    traces = [
        {"type": "scatter", "mode": "lines+markers", "x": cal["mean_pred"], "y": cal["frac_pos"], "name": "model",
         "text": [f"{c:,} rows" for c in cal.get("count", [])]},
        {"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1], "name": "perfectly calibrated",
         "line": {"dash": "dot", "color": "#999"}},
    ]
    return {"id": "calibration", "data": traces,
            "layout": _layout("Calibration on the test split", "Mean predicted CTR", "Observed click rate")}


def job_charts(job: Job) -> list[dict[str, Any]]:
    if job.kind in _KIND_CHARTS:
        return _KIND_CHARTS[job.kind](job)
    return [f for f in (roc_figure([job]), learning_figure(job), calibration_figure(job)) if f]


def comparison_charts(jobs: list[Job]) -> list[dict[str, Any]]:
    kinds = {j.kind for j in jobs}
    if len(kinds) == 1 and (kind := next(iter(kinds))) in _KIND_COMPARISON:
        return _KIND_COMPARISON[kind](jobs)
    charts = []
    roc = roc_figure(jobs)
    if roc:
        charts.append(roc)
    traces = []
    for job in jobs:
        history = job.curves.get("history") or []
        metric = next((k for k in ("valid_auc", "valid_gauc", "valid_logloss") if history and k in history[0]), None)
        if metric:
            traces.append({"type": "scatter", "mode": "lines+markers", "x": [h["epoch"] for h in history],
                           "y": [h.get(metric) for h in history], "name": f"{job.display_name} {metric.replace('_', ' ')}"})
    if traces:
        layout = _layout("Validation metric per epoch", "Epoch", "Validation metric")
        layout["xaxis"]["dtick"] = 1
        charts.append({"id": "valid-curves", "data": traces, "layout": layout})
    return charts
