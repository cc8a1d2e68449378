"""Plotly figure specs (plain JSON dicts) for uplift jobs and comparisons, from ``Job.curves``.

Curves come from :func:`uplift.pipeline.uplift_report`: per task ("ctr", "ctcvr") and treated arm
k, the uplift and Qini curves with their perfect and random references, the decile table and, on
generated data, the cumulative true effect along the model's and the oracle's ranking.
"""
from __future__ import annotations

from typing import Any

from jobs.charts import _layout, _title_room, learning_figure
from jobs.models import Job

TASK_LABELS = {"ctr": "CTR (click / visit)", "ctcvr": "CTCVR (click and conversion)"}
CURVE_LABELS = {
    "uplift": ("Uplift curve", "Incremental outcomes (uplift · n)", "sklift_auuc",
               "normalised AUUC, scikit-uplift"),
    "qini": ("Qini curve", "Qini: Y_T − Y_C · N_T / N_C", "sklift_qini", "Qini coefficient, scikit-uplift"),
}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _transparent(hex_color: str, alpha: float = 0.15) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _score_label(job: Job, short: str, task: str, k: str, definition: str) -> str:
    m = job.metrics
    value = m.get(f"{short}_{task}_arm{k}")
    if not isinstance(value, (int, float)):
        return ""
    low, high = m.get(f"{short}_{task}_arm{k}_low"), m.get(f"{short}_{task}_arm{k}_high")
    interval = f" [{low:.3f}, {high:.3f}]" if isinstance(low, (int, float)) and isinstance(high, (int, float)) else ""
    return f" ({definition} {value:.3f}{interval})"


def curve_figure(job: Job, task: str, curve: str) -> dict[str, Any] | None:
    """Model curve (with its bootstrap band), perfect and random curves of every treated arm for one task.

    One legend entry per arm (clicking it toggles the arm's whole group). The y axis is fitted by
    Plotly to the curves shown, so no line runs off the plot: the perfect uplift curve, often far
    above the model's, starts hidden behind its own legend entry ("perfect ranking", click to show).
    """
    per_arm = job.curves.get(task) or {}
    title, y_title, short, definition = CURVE_LABELS[curve]
    traces: list[dict[str, Any]] = []
    perfect_hidden = curve == "uplift"
    for i, (k, arm_curves) in enumerate(sorted(per_arm.items())):
        color, arm, group = PALETTE[i % len(PALETTE)], arm_curves.get("arm", k), f"arm{k}"
        model = arm_curves.get(curve)
        if not model:
            continue
        band = arm_curves.get(f"{curve}_band")
        if band:
            traces.append({"type": "scatter", "mode": "lines", "x": band["x"] + band["x"][::-1],
                           "y": band["low"] + band["high"][::-1], "fill": "toself", "fillcolor": _transparent(color),
                           "line": {"width": 0}, "hoverinfo": "skip", "legendgroup": group, "showlegend": False,
                           "name": f"{arm}: 95 % bootstrap band"})
        traces.append({"type": "scatter", "mode": "lines", "x": model["x"], "y": model["y"], "legendgroup": group,
                       "name": f"{arm} vs control{_score_label(job, short, task, k, definition)}",
                       "line": {"color": color}})
        for ref, dash in (("perfect", "dash"), ("random", "dot")):
            points = arm_curves.get(f"{curve}_{ref}")
            if not points:
                continue
            trace = {"type": "scatter", "mode": "lines", "x": points["x"], "y": points["y"], "legendgroup": group,
                     "showlegend": False, "name": f"{arm}: {ref}", "line": {"color": color, "dash": dash, "width": 1}}
            if ref == "perfect" and perfect_hidden:
                first = not any(t.get("legendgroup") == "perfect" for t in traces)
                trace.update(legendgroup="perfect", visible="legendonly", showlegend=first, legendrank=1001,
                             name="perfect ranking (click to show)" if first else f"{arm}: perfect")
            traces.append(trace)
    if not traces:
        return None
    note = "solid: model · band: 95 % bootstrap · dashed: perfect ranking · dotted: random"
    layout = _layout(f"{title}, {TASK_LABELS[task]} — held-out rows<br><sup>{note}</sup>",
                     "Rows targeted (ranked by predicted uplift)", y_title)
    layout["xaxis"]["hoverformat"], layout["yaxis"]["hoverformat"] = ",.0f", ",.2f"
    layout["yaxis"]["autorange"] = True
    n_entries = len(per_arm) + (1 if perfect_hidden else 0)
    return {"id": f"{curve}-{task}", "data": traces, "layout": _room_for_legend(_title_room(layout, 2), n_entries)}


def _room_for_legend(layout: dict[str, Any], n_entries: int) -> dict[str, Any]:
    """Grow the figure downwards so a horizontal legend (one entry a line) never covers the x-axis title."""
    extra = 22 * n_entries
    return {**layout, "height": layout["height"] - 30 + extra, "margin": {**layout["margin"], "b": 80 + extra},
            "legend": {"orientation": "h", "yanchor": "top", "y": -0.25}}


def decile_figure(job: Job, task: str) -> dict[str, Any] | None:
    """Uplift by decile of predicted uplift, with binomial standard errors, one bar group per arm."""
    per_arm = job.curves.get(task) or {}
    traces = []
    for i, (k, arm_curves) in enumerate(sorted(per_arm.items())):
        deciles = arm_curves.get("deciles")
        if not deciles:
            continue
        traces.append({"type": "bar", "x": deciles["percentile"], "y": deciles["uplift"],
                       "name": f"{arm_curves.get('arm', k)} vs control",
                       "marker": {"color": PALETTE[i % len(PALETTE)]},
                       "error_y": {"type": "data", "array": deciles["std_uplift"], "visible": True},
                       "customdata": list(zip(deciles["n_treatment"], deciles["n_control"])),
                       "hovertemplate": "%{x}: uplift %{y:.4f}<br>n treated %{customdata[0]}, "
                                        "n control %{customdata[1]}<extra></extra>"})
    if not traces:
        return None
    layout = _layout(f"Uplift by decile, {TASK_LABELS[task]} (± 1 standard error)",
                     "Percentile of predicted uplift (best first)", "Treated − control response rate",
                     barmode="group")
    return {"id": f"deciles-{task}", "data": traces, "layout": layout}


def true_effect_figure(job: Job, task: str) -> dict[str, Any] | None:
    """On generated data: cumulative true effect along the model's ranking and along the true one."""
    per_arm = job.curves.get(task) or {}
    traces = []
    for i, (k, arm_curves) in enumerate(sorted(per_arm.items())):
        model, oracle = arm_curves.get("true_effect"), arm_curves.get("true_effect_oracle")
        if not model:
            continue
        color = PALETTE[i % len(PALETTE)]
        rho = job.metrics.get(f"spearman_true_{task}_arm{k}")
        rho_text = f" (Spearman with true effect {rho:.3f})" if isinstance(rho, (int, float)) else ""
        arm = arm_curves.get("arm", k)
        traces.append({"type": "scatter", "mode": "lines", "x": model["x"], "y": model["y"], "legendgroup": f"arm{k}",
                       "name": f"{arm}: model ranking{rho_text}", "line": {"color": color}})
        if oracle:
            traces.append({"type": "scatter", "mode": "lines", "x": oracle["x"], "y": oracle["y"],
                           "legendgroup": f"arm{k}", "name": f"{arm}: true-effect ranking", "showlegend": False,
                           "line": {"color": color, "dash": "dash", "width": 1}})
    if not traces:
        return None
    layout = _layout(f"True effect captured, {TASK_LABELS[task]} (generated data)<br><sup>solid: ranking by the "
                     "model · dashed: ranking by the true effect (the best possible)</sup>", "Rows targeted",
                     "Σ true per-row uplift of the targeted rows")
    layout["xaxis"]["hoverformat"], layout["yaxis"]["hoverformat"] = ",.0f", ",.2f"
    return {"id": f"true-{task}", "data": traces, "layout": _room_for_legend(_title_room(layout, 2), len(per_arm))}


def job_figures(job: Job) -> list[dict[str, Any]]:
    """Every chart of an uplift job page, in reading order."""
    figures = []
    for task in TASK_LABELS:
        figures += [curve_figure(job, task, "uplift"), curve_figure(job, task, "qini"), decile_figure(job, task),
                    true_effect_figure(job, task)]
    figures.append(learning_figure(job))
    return [f for f in figures if f]


def comparison_figures(jobs: list[Job]) -> list[dict[str, Any]]:
    """Overlaid Qini and uplift curves of several runs, per task and treated arm.

    Runs with a different seed or split fractions were tested on different rows; the titles say so.
    """
    figures = []
    splits = {(j.params.get("seed"), j.params.get("valid_frac"), j.params.get("test_frac")) for j in jobs}
    caveat = "<br><sup>runs used different test rows (seed or split fractions differ): compare with care</sup>" \
        if len(splits) > 1 else ""
    for task in TASK_LABELS:
        arm_keys = sorted({k for job in jobs for k in (job.curves.get(task) or {})})
        for curve in ("qini", "uplift"):
            title, y_title, short, definition = CURVE_LABELS[curve]
            for k in arm_keys:
                traces = []
                for i, job in enumerate(jobs):
                    points = (job.curves.get(task) or {}).get(k, {}).get(curve)
                    if points:
                        traces.append({"type": "scatter", "mode": "lines", "x": points["x"], "y": points["y"],
                                       "name": f"{job.display_name}{_score_label(job, short, task, k, definition)}",
                                       "line": {"color": PALETTE[i % len(PALETTE)]}})
                reference = next(((j.curves.get(task) or {}).get(k) for j in jobs if (j.curves.get(task) or {}).get(k)), {})
                for ref, dash in (("perfect", "dash"), ("random", "dot")):
                    points = reference.get(f"{curve}_{ref}")
                    if points:
                        hidden = ref == "perfect" and curve == "uplift"
                        traces.append({"type": "scatter", "mode": "lines", "x": points["x"], "y": points["y"],
                                       "name": f"{ref}{' (click to show)' if hidden else ''}",
                                       "line": {"color": "#999", "dash": dash, "width": 1},
                                       **({"visible": "legendonly"} if hidden else {})})
                if traces:
                    arm = reference.get("arm", k)
                    layout = _layout(f"{title}, {TASK_LABELS[task]}, {arm} vs control{caveat}", "Rows targeted",
                                     y_title)
                    layout["xaxis"]["hoverformat"], layout["yaxis"]["hoverformat"] = ",.0f", ",.2f"
                    layout = _title_room(layout, 2 if caveat else 1)
                    figures.append({"id": f"cmp-{curve}-{task}-{k}", "data": traces,
                                    "layout": _room_for_legend(layout, len(traces))})
    return figures
