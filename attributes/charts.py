"""Plotly figure specs for attribute jobs (job page, comparison) and the coverage dashboard."""
from __future__ import annotations

from typing import Any

from jobs.charts import _layout
from jobs.labels import label

HEADLINE = ("micro_f1", "macro_f1", "precision", "recall", "map")
RANKS = ("hit@1", "hit@5", "hit@10")
TICK_CHARS = 22  # longer category names are cut on the axis (the hover label has the full name)


def _categories(layout: dict[str, Any], axis: str = "xaxis", angle: int = -35) -> dict[str, Any]:
    """Names on an axis are categories, even those that look like numbers ("128", "2.5"): never a
    numeric scale; labels are angled and the margin grows to fit them."""
    layout[axis].update(type="category", automargin=True, tickangle=angle)
    return layout


def _short(names: list[str]) -> list[str]:
    """Tick texts no longer than TICK_CHARS, kept distinct (cut names get their position appended)."""
    out = []
    for i, name in enumerate(names):
        name = str(name)
        out.append(name if len(name) <= TICK_CHARS else f"{name[:TICK_CHARS - 1]}… #{i + 1}")
    return out


def _ticks(layout: dict[str, Any], names: list[str], axis: str = "xaxis") -> dict[str, Any]:
    layout[axis].update(tickmode="array", tickvals=[str(n) for n in names], ticktext=_short(names))
    return layout


def _bar(metrics: dict, keys, name: str) -> dict[str, Any]:
    keys = [k for k in keys if metrics.get(k) is not None]
    return {"type": "bar", "name": name, "x": [label(k) for k in keys], "y": [metrics[k] for k in keys],
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
    trace = {"type": "bar", "x": [str(a) for a in names], "y": [per[a].get("f1") for a in names], "name": "F1",
             "customdata": [f"{per[a].get('n_labels', 0):,} labels" for a in names],
             "hovertemplate": "%{x}: F1 %{y:.4f} (%{customdata})<extra></extra>"}
    layout = _categories(_layout("F1 per attribute (first split's test products)", "Attribute", "F1"))
    layout = _ticks(layout, names)
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
        layout = _categories(_layout("Fill rate per attribute", "Attribute", "Share of products with a value",
                                     barmode="group"))
        layout = _ticks(layout, attrs)
        layout["yaxis"].update(range=[0, 1], tickformat=".0%", hoverformat=".1%")
        charts.append({"id": "fill-attribute", "layout": layout, "data": [
            {"type": "bar", "name": "before (labels)", "x": [str(a) for a in attrs],
             "y": [data["attribute_before"][a] for a in attrs]},
            {"type": "bar", "name": "after extraction", "x": [str(a) for a in attrs],
             "y": [data["attribute_after"][a] for a in attrs]},
        ]})
    cats = data["categories"][:30]
    if cats:
        layout = _categories(_layout("Fill rate per category", "Category", "Share of (product, attribute) cells filled",
                                     barmode="group"))
        layout = _ticks(layout, cats)
        layout["yaxis"].update(range=[0, 1], tickformat=".0%", hoverformat=".1%")
        charts.append({"id": "fill-category", "layout": layout, "data": [
            {"type": "bar", "name": "before (labels)", "x": [str(c) for c in cats],
             "y": [data["category_before"][c] for c in cats]},
            {"type": "bar", "name": "after extraction", "x": [str(c) for c in cats],
             "y": [data["category_after"][c] for c in cats]},
        ]})
    top: dict[str, dict[str, dict[str, int]]] = {}
    for row in data["top_values"]:
        top.setdefault(row["attribute"], {}).setdefault(row["value"], {}).setdefault(row["status"], 0)
        top[row["attribute"]][row["value"]][row["status"]] += row["n"]
    for attribute in attrs[:4]:
        values = sorted(top.get(attribute, {}), key=lambda v: -sum(top[attribute][v].values()))[:15]
        if not values:
            continue
        traces = [{"type": "bar", "name": status.replace("_", " "), "x": [str(v) for v in values],
                   "y": [top[attribute][v].get(status, 0) for v in values]}
                  for status in ("from_labels", "accepted", "predicted")]
        layout = _categories(_layout(f"Most common values of {attribute}", "Value", "Products", barmode="stack"))
        layout["yaxis"]["hoverformat"] = ",.0f"
        charts.append({"id": f"values-{len(charts)}", "data": traces, "layout": _ticks(layout, values)})
    if data["emerging"]:
        rows = data["emerging"][:20]
        names = [f"{r['attribute']}: {r['value']}" for r in rows][::-1]
        layout = _layout("New values (not in the labels)", "Products", "")
        layout["margin"] = {**layout["margin"], "l": 20, "r": 20, "b": 60}
        layout["xaxis"]["hoverformat"] = ",.0f"
        layout = _ticks(_categories(layout, "yaxis", angle=0), names, "yaxis")
        charts.append({"id": "emerging", "data": [{"type": "bar", "orientation": "h", "y": names,
                                                   "x": [r["n"] for r in rows][::-1], "name": "products"}],
                       "layout": {**layout, "height": max(layout["height"], 120 + 22 * len(rows))}})
    return charts
