"""Planner numbers against a direct NumPy computation, bootstrap intervals, chosen users."""
import numpy as np
import pandas as pd
import pytest

from uplift import metrics as M
from uplift.planner import build_plan, chosen_users, incremental_at_shares, plan_arm_task, uplift_curve_band


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(4)
    n = 3000
    arm = rng.integers(0, 3, n)
    s1 = rng.normal(size=n)
    click = (rng.random(n) < 0.1 + 0.1 * (arm == 1) * (s1 > 0)).astype(int)  # arm 1 works where its score is high
    frame = pd.DataFrame({"row": np.arange(n), "arm": arm.astype(str), "arm_index": arm, "click": click,
                          "conversion": click * (rng.random(n) < 0.4), "revenue": click * rng.gamma(2.0, 10.0, n)})
    for task in ("ctr", "ctcvr"):
        frame[f"uplift_{task}_1"] = s1 + (0.1 * rng.normal(size=n) if task == "ctcvr" else 0)
        frame[f"uplift_{task}_2"] = rng.normal(size=n)
    return frame


def direct(frame, arm, column, score, share, population):
    """The definition, written out: top share of control+arm rows by score, rate difference × share × P."""
    rows = frame[frame["arm_index"].isin([0, arm])].sort_values(score, ascending=False, kind="mergesort")
    top = rows.head(int(round(share * len(rows))))
    treated, control = top[top["arm_index"] == arm][column], top[top["arm_index"] == 0][column]
    rate_t = treated.mean() if len(treated) else 0.0  # an empty group counts as rate 0 (scikit-uplift)
    rate_c = control.mean() if len(control) else 0.0
    return (rate_t - rate_c) * share * population


@pytest.mark.parametrize("arm, task, outcome, column", [(1, "ctr", "clicks", "click"), (1, "ctcvr", "conversions",
                                                        "conversion"), (2, "ctr", "revenue", "revenue")])
def test_planner_matches_a_direct_numpy_computation(scores, arm, task, outcome, column):
    plan = plan_arm_task(scores, arm, task, population=50_000, n_boot=0)
    for i in (0, 5, 20, 37, 50, 100):
        q = plan["shares"][i]
        expected = direct(scores, arm, column, f"uplift_{task}_{arm}", q, 50_000)
        assert plan["outcomes"][outcome]["model"][i] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    rows = scores[scores["arm_index"].isin([0, arm])]
    w = rows["arm_index"] == arm
    ate = rows[column][w].mean() - rows[column][~w].mean()
    assert plan["outcomes"][outcome]["random"][-1] == pytest.approx(ate * 50_000)
    assert plan["outcomes"][outcome]["model"][-1] == pytest.approx(ate * 50_000)


def test_planner_is_the_scaled_sklift_uplift_curve(scores):
    rows = scores[scores["arm_index"].isin([0, 1])]
    y, s, w = rows["click"].to_numpy(), rows["uplift_ctr_1"].to_numpy(), (rows["arm_index"] == 1).to_numpy()
    x, v = M.uplift_curve(y, s, w)  # no ties, so every row is a point
    order = np.argsort(-s, kind="mergesort")
    shares = np.arange(len(y) + 1) / len(y)
    ours = incremental_at_shares(y, w, order, shares, population=len(y))
    assert np.allclose(ours[x.astype(int)], v)


def test_bootstrap_intervals_cover_the_estimate_and_the_good_arm_beats_random(scores):
    plan = plan_arm_task(scores, 1, "ctr", population=10_000, n_boot=100, seed=1)
    clicks = plan["outcomes"]["clicks"]
    i = 40
    assert clicks["model_low"][i] <= clicks["model"][i] <= clicks["model_high"][i]
    assert clicks["random_low"][i] <= clicks["random"][i] <= clicks["random_high"][i]
    assert clicks["gain_low"][i] > 0  # arm 1's score finds its responders: better than random, interval above 0
    again = plan_arm_task(scores, 1, "ctr", population=10_000, n_boot=100, seed=1)
    assert again == plan  # seeded


def test_build_plan_covers_every_arm_task_and_revenue(scores):
    plan = build_plan(scores, ["control", "a", "b"], population=1000, n_boot=10)
    assert set(plan["plans"]) == {"1:ctr", "1:ctcvr", "2:ctr", "2:ctcvr"}
    assert plan["outcomes"] == ["clicks", "conversions", "revenue"]
    assert plan["arms"] == {"0": "control", "1": "a", "2": "b"}


def test_chosen_users_are_the_top_share_by_score(scores):
    users = chosen_users(scores, 1, "ctcvr", 0.1)
    assert len(users) == 300 and list(users.columns) == ["row", "uplift_ctr_1", "uplift_ctcvr_1"]
    top = scores.nlargest(300, "uplift_ctcvr_1")["row"]
    assert set(users["row"]) == set(top)
    with pytest.raises(ValueError):
        chosen_users(scores, 1, "ctr", 1.5)


def test_uplift_curve_band_brackets_the_curve(scores):
    rows = scores[scores["arm_index"].isin([0, 1])]
    y, s, w = rows["click"].to_numpy(), rows["uplift_ctr_1"].to_numpy(), (rows["arm_index"] == 1).to_numpy()
    band = uplift_curve_band(y, s, w, n_boot=100, seed=2)
    assert len(band["x"]) == 101 and band["x"][-1] == len(y)
    low, high = np.array(band["low"]), np.array(band["high"])
    assert (low <= high).all()
    curve = incremental_at_shares(y, w, np.argsort(-s, kind="mergesort"), np.linspace(0, 1, 101), len(y))
    inside = (curve >= low - 1e-9) & (curve <= high + 1e-9)
    assert inside[5:].mean() > 0.9  # a pointwise 95 % band holds the point estimate almost everywhere
