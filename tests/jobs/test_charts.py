"""Chart specs: category axes for names, separate loss and score axes, uplift lines inside the plot,
hover labels with sensible digits, titles clear of the mode bar."""
from __future__ import annotations

from types import SimpleNamespace

from attributes.charts import coverage_charts
from jobs.charts import learning_figure, roc_figure
from uplift.charts import curve_figure

HISTORY = [{"epoch": e, "train_loss": 0.7 - e / 100, "valid_auc": 0.6 + e / 100, "valid_logloss": 0.5 - e / 100}
           for e in (1, 2, 3)]


def job(**fields):
    base = {"curves": {}, "metrics": {}, "summary": {}, "params": {}, "display_name": "run", "kind": "ctr"}
    return SimpleNamespace(**{**base, **fields})


def axes(layout):
    return {k: v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))}


def test_learning_curves_put_logloss_and_auc_on_separate_axes_with_room_for_the_right_title():
    fig = learning_figure(job(curves={"history": HISTORY}, summary={"best_epoch": 2}))
    side = {t["name"]: t["yaxis"] for t in fig["data"]}
    assert side == {"training loss": "y", "Validation log loss": "y", "Validation AUC": "y2"}
    layout = fig["layout"]
    assert layout["yaxis"]["title"]["text"] == "Loss" and layout["yaxis2"]["title"]["text"] == "Validation AUC"
    assert layout["yaxis2"]["automargin"] and layout["yaxis2"]["side"] == "right" and layout["margin"]["r"] >= 80


def test_every_axis_has_a_hover_format_and_the_title_sits_below_the_mode_bar():
    fig = roc_figure([job(curves={"roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.7, 1]}}, metrics={"auc": 0.7})])
    for axis in axes(fig["layout"]).values():
        assert axis["hoverformat"] == ".4f" and axis["automargin"]
    title = fig["layout"]["title"]
    assert title["yref"] == "container" and title["pad"]["t"] >= 28
    assert fig["layout"]["margin"]["t"] >= 28 + 30


def test_coverage_charts_treat_numeric_looking_names_as_categories():
    names = ["128", "256", "2.5", "a very long attribute name that would collide with its neighbours"]
    data = {"attributes": names, "attribute_before": dict.fromkeys(names, 0.2),
            "attribute_after": dict.fromkeys(names, 0.6), "categories": ["1", "2"],
            "category_before": {"1": 0.1, "2": 0.2}, "category_after": {"1": 0.5, "2": 0.6},
            "top_values": [{"attribute": "128", "value": "64", "status": "predicted", "n": 3}],
            "emerging": [{"attribute": "128", "value": "7", "n": 2}]}
    charts = {c["id"]: c for c in coverage_charts(data)}
    for chart_id, axis in (("fill-attribute", "xaxis"), ("fill-category", "xaxis"), ("values-2", "xaxis"),
                           ("emerging", "yaxis")):
        layout_axis = charts[chart_id]["layout"][axis]
        assert layout_axis["type"] == "category" and layout_axis["automargin"], chart_id
        assert all(isinstance(x, str) for t in charts[chart_id]["data"] for x in t["x" if axis == "xaxis" else "y"])
        assert max(len(t) for t in layout_axis["ticktext"]) <= 26, chart_id
    assert charts["fill-attribute"]["layout"]["yaxis"]["hoverformat"] == ".1%"


def test_uplift_perfect_ranking_never_runs_off_the_plot():
    arm = {"arm": "email", "uplift": {"x": [0, 50, 100], "y": [0, 4, 6]},
           "uplift_perfect": {"x": [0, 30, 100], "y": [0, 60, 6]}, "uplift_random": {"x": [0, 100], "y": [0, 6]},
           "qini": {"x": [0, 50, 100], "y": [0, 3, 5]}, "qini_perfect": {"x": [0, 30, 100], "y": [0, 20, 5]},
           "qini_random": {"x": [0, 100], "y": [0, 5]}}
    for curve in ("uplift", "qini"):
        fig = curve_figure(job(curves={"ctr": {"1": arm}}, kind="uplift"), "ctr", curve)
        layout = fig["layout"]
        visible = [y for t in fig["data"] if t.get("visible", True) is True for y in t["y"]]
        low, high = layout["yaxis"].get("range", [min(visible), max(visible)])
        assert low <= min(visible) and high >= max(visible), curve  # no fixed range that cuts a shown line
        assert layout["xaxis"]["hoverformat"] == ",.0f"
        assert layout["margin"]["t"] >= 80  # two-line title below the mode bar
    perfect = [t for t in curve_figure(job(curves={"ctr": {"1": arm}}), "ctr", "uplift")["data"] if "perfect" in t["name"]]
    assert perfect[0]["visible"] == "legendonly" and perfect[0]["showlegend"]  # one click shows it
