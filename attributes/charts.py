"""Plotly figure specs for attribute jobs (job page, comparison) and the coverage dashboard."""
from __future__ import annotations

from typing import Any

from jobs.charts import _layout

HEADLINE = ("micro_f1", "macro_f1", "precision", "recall", "map")
RANKS = ("hit@1", "hit@5", "hit@10")


def _bar(metrics: dict, keys, name: str) -> dict[str, Any]:
    keys = [k for k in keys if metrics.get(k) is not None]
    return {"type": "bar", "name": name, "x": keys, "y": [metrics[k] for k in keys],
            "error_y": {"type": "data", "array": [metrics.get(f"{k}_std") or 0 for k in keys], "visible": True}}


def metrics_figure(jobs) -> dict[str, Any] | None:
    traces = [_bar(j.metrics, HEADLINE, j.display_name) for j in jobs if j.metrics]
    if not traces:
        return None
    n = (jobs[0].params or {}).get("n_splits", 1)
    layout = _layout(f"Test metrics (mean ± std over {n} split{'s' if n != 1 else ''})", "", "Score")
    layout["yaxis"]["range"] = [0, 1]
    return {"id": "attr-metrics", "data": traces, "layout": layout}


def hit_figure(job) -> dict[str, Any] | None:
    traces = [_bar({k[len(p):]: v for k, v in job.metrics.items() if k.startswith(p)} if p else job.metrics,
                   RANKS, name) for p, name in (("", "all values"), ("seen_", "seen values"),
                                                ("unseen_", "unseen values"))]
    traces = [t for t in traces if t["x"]]
    if not traces:
        return None
    layout = _layout("Hit@k: a true value among the top k", "", "Share of test products")
    layout["yaxis"]["range"] = [0, 1]
    return {"id": "attr-hits", "data": traces, "layout": layout}


def attribute_figure(job) -> dict[str, Any] | None:
    per = job.curves.get("per_attribute") or {}
    if not per:
        return None
    names = sorted(per, key=lambda a: -per[a].get("n_labels", 0))[:25]
    trace = {"type": "bar", "x": names, "y": [per[a].get("f1") for a in names], "name": "F1",
             "text": [f"{per[a].get('n_labels', 0)} labels" for a in names]}
    layout = _layout("F1 per attribute (first split's test products)", "Attribute", "F1")
    layout["yaxis"]["range"] = [0, 1]
    return {"id": "attr-per-attribute", "data": [trace], "layout": layout}


def job_charts(job) -> list[dict[str, Any]]:
    return [f for f in (metrics_figure([job]), hit_figure(job), attribute_figure(job)) if f]


def comparison_charts(jobs) -> list[dict[str, Any]]:
    figure = metrics_figure(jobs)
    return [figure] if figure else []


def coverage_charts(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Fill rate per attribute and per category, before and after extraction; value distributions."""
    charts = []
    attrs = data["attributes"][:30]
    if attrs:
        layout = _layout("Fill rate per attribute", "Attribute", "Share of products with a value", barmode="group")
        layout["yaxis"]["range"] = [0, 1]
        charts.append({"id": "fill-attribute", "layout": layout, "data": [
            {"type": "bar", "name": "before (labels)", "x": attrs, "y": [data["attribute_before"][a] for a in attrs]},
            {"type": "bar", "name": "after extraction", "x": attrs, "y": [data["attribute_after"][a] for a in attrs]},
        ]})
    cats = data["categories"][:30]
    if cats:
        layout = _layout("Fill rate per category", "Category", "Share of (product, attribute) cells filled",
                         barmode="group")
        layout["yaxis"]["range"] = [0, 1]
        charts.append({"id": "fill-category", "layout": layout, "data": [
            {"type": "bar", "name": "before (labels)", "x": cats, "y": [data["category_before"][c] for c in cats]},
            {"type": "bar", "name": "after extraction", "x": cats, "y": [data["category_after"][c] for c in cats]},
        ]})
    top: dict[str, dict[str, dict[str, int]]] = {}
    for row in data["top_values"]:
        top.setdefault(row["attribute"], {}).setdefault(row["value"], {}).setdefault(row["status"], 0)
        top[row["attribute"]][row["value"]][row["status"]] += row["n"]
    for attribute in attrs[:4]:
        values = sorted(top.get(attribute, {}), key=lambda v: -sum(top[attribute][v].values()))[:15]
        if not values:
            continue
        traces = [{"type": "bar", "name": status.replace("_", " "), "x": values,
                   "y": [top[attribute][v].get(status, 0) for v in values]}
                  for status in ("from_labels", "accepted", "predicted")]
        charts.append({"id": f"values-{len(charts)}", "data": traces,
                       "layout": _layout(f"Most common values of {attribute}", "Value", "Products", barmode="stack")})
    if data["emerging"]:
        rows = data["emerging"][:20]
        charts.append({"id": "emerging", "data": [{
            "type": "bar", "orientation": "h", "y": [f"{r['attribute']}: {r['value']}" for r in rows][::-1],
            "x": [r["n"] for r in rows][::-1], "name": "products"}],
            "layout": {**_layout("New values (not in the labels)", "Products", ""),
                       "margin": {"l": 220, "r": 20, "t": 40, "b": 60}}})
    return charts
