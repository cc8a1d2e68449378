"""Uplift metrics: the spec's worked vectors (checked against scikit-uplift 0.5.1 and causalml 0.18.0),
their defining properties, and a cross-check against scikit-uplift itself when it is installed."""
import warnings

import numpy as np
import pytest

from uplift import metrics as M

Y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
W = np.array([1, 1, 0, 1, 0, 1, 0, 0])
S = np.array([.9, .8, .7, .6, .5, .4, .3, .2])


def close(a, b, tol=1e-4):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), atol=tol, rtol=0)


def test_worked_vector_sklift_curves():
    x, v = M.uplift_curve(Y, S, W)
    close(x, range(9))
    close(v, [0, 1, 1, -1.5, -2.6667, -0.8333, 0, 1.1667, 2])
    close(M.qini_curve(Y, S, W)[1], [0, 1, 1, -1, -2, -0.5, 0, 0.6667, 1])
    px, pv = M.perfect_uplift_curve(Y, W)
    close(px, [0, 2, 5, 7, 8]), close(pv, [0, 2, 5, 3.5, 2])
    qx, qv = M.perfect_qini_curve(Y, W)
    close(qx, [0, 2, 7, 8]), close(qv, [0, 2, 2, 1])
    nx, nv = M.perfect_qini_curve(Y, W, negative_effect=False)
    close(nx, [0, 1, 8]), close(nv, [0, 1, 1])


def test_worked_vector_sklift_scores():
    close(M.sklift_uplift_auc_score(Y, S, W), -0.560847, 1e-6)
    close(M.sklift_qini_auc_score(Y, S, W), -0.456140, 1e-6)
    close(M.sklift_qini_auc_score(Y, S, W, negative_effect=False), -1.238095, 1e-6)
    close(M.uplift_at_k(Y, S, W, 0.5, "overall"), -0.6667)
    close(M.uplift_at_k(Y, S, W, 0.5, "by_group"), 0.0)


def test_worked_vector_decile_table_and_weighted_average():
    table = M.uplift_by_percentile(Y, S, W, bins=2)
    assert table["percentile"] == ["0-50", "50-100"]
    assert table["n_treatment"] == [3, 1] and table["n_control"] == [1, 3]
    close(table["uplift"], [-0.6667, 1.0])
    close(M.weighted_average_uplift(Y, S, W, bins=2), -0.25)


def test_worked_vector_causalml():
    close(M.causalml_gain_curve(Y, S, W), [0, -0.1667, -0.6667, -1.5, -2.6667, -0.8333, 0, 1.1667, 2])
    close(M.causalml_qini_curve(Y, S, W), [0, -0.3333, -0.6667, -1, -2, -0.5, 0, 0.6667, 1])
    close(M.causalml_auuc_score(Y, S, W, normalize=True), -0.148148, 1e-6)
    close(M.causalml_auuc_score(Y, S, W, normalize=False), -0.296296, 1e-6)
    close(M.causalml_qini_score(Y, S, W, normalize=True), -0.814815, 1e-6)
    close(M.causalml_qini_score(Y, S, W, normalize=False), -0.814815, 1e-6)


def test_tied_scores_enter_the_curve_together():
    x, v = M.uplift_curve(Y, [.9, .9, .7, .7, .5, .5, .3, .3], W)
    close(x, [0, 2, 4, 6, 8]), close(v, [0, 1, -2.6667, 0, 2])
    x, v = M.uplift_curve(Y, np.ones(8), W)
    close(x, [0, 8]), close(v, [0, 2])


def test_constant_score_scores_zero_and_oracle_scores_one():
    rng = np.random.default_rng(0)
    y, w = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    assert M.sklift_uplift_auc_score(y, np.zeros(500), w) == pytest.approx(0, abs=1e-12)
    assert M.sklift_qini_auc_score(y, np.zeros(500), w) == pytest.approx(0, abs=1e-12)
    c_resp, t_non = np.sum(y * (1 - w)), np.sum((1 - y) * w)
    oracle_uplift = 2 * (y == w) + (y if c_resp > t_non else w)
    assert M.sklift_uplift_auc_score(y, oracle_uplift, w) == pytest.approx(1)
    assert M.sklift_qini_auc_score(y, y * w - y * (1 - w), w) == pytest.approx(1)


def test_random_ranking_scores_half_causalml_auuc_and_zero_qini():
    rng = np.random.default_rng(1)
    n = 200_000
    w = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.05 * w).astype(int)
    s = rng.random(n)
    assert M.causalml_auuc_score(y, s, w) == pytest.approx(0.5, abs=0.03)
    assert M.causalml_qini_score(y, s, w) == pytest.approx(0, abs=0.03)
    assert abs(M.sklift_qini_auc_score(y, s, w)) < 0.1


def test_swapping_arms_flips_the_sign():
    rng = np.random.default_rng(2)
    w, s = rng.integers(0, 2, 300), rng.random(300)
    y = (rng.random(300) < 0.2 + 0.3 * (s > 0.5) * w).astype(int)
    close(M.uplift_curve(y, s, 1 - w)[1], -M.uplift_curve(y, s, w)[1], 1e-9)
    q, q_swapped = M.qini_curve(y, s, w)[1], M.qini_curve(y, s, 1 - w)[1]
    assert np.sign(q_swapped[-1]) == -np.sign(q[-1]) != 0
    assert M.uplift_at_k(y, s, 1 - w, 0.3) == pytest.approx(-M.uplift_at_k(y, s, w, 0.3))
    assert M.causalml_auuc_score(y, s, 1 - w, normalize=False) == pytest.approx(
        -M.causalml_auuc_score(y, s, w, normalize=False))


def test_scores_are_invariant_to_increasing_transforms():
    rng = np.random.default_rng(3)
    y, w, s = rng.integers(0, 2, 400), rng.integers(0, 2, 400), rng.normal(size=400)
    s = np.round(s, 1)  # ties too
    for f in (lambda v: 3 * v + 7, np.exp, lambda v: v ** 3):
        for metric in (M.sklift_uplift_auc_score, M.sklift_qini_auc_score, M.causalml_auuc_score,
                       M.causalml_qini_score, M.uplift_at_k, M.weighted_average_uplift):
            assert metric(y, f(s), w) == pytest.approx(metric(y, s, w))


def test_better_ranking_scores_higher():
    rng = np.random.default_rng(4)
    n = 20_000
    x, w = rng.normal(size=n), rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.1 * w * (x > 0)).astype(int)
    good, noisy = x, x + rng.normal(scale=3, size=n)
    assert M.sklift_qini_auc_score(y, good, w) > M.sklift_qini_auc_score(y, noisy, w) > 0
    assert M.sklift_uplift_auc_score(y, good, w) > M.sklift_uplift_auc_score(y, -good, w)


def test_bootstrap_is_seeded_and_brackets_the_point_estimate():
    rng = np.random.default_rng(5)
    n = 3000
    x, w = rng.normal(size=n), rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.1 * w * (x > 0)).astype(int)
    a = M.bootstrap_sklift_scores(y, x, w, n_boot=100, seed=7)
    b = M.bootstrap_sklift_scores(y, x, w, n_boot=100, seed=7, max_cells=n * 7)  # other chunking, same draws
    assert a == b
    for key in ("uplift_auc", "qini_auc"):
        assert a[key]["low"] < a[key]["score"] < a[key]["high"]
        assert a[key]["score"] == pytest.approx(M.sklift_qini_auc_score(y, x, w) if key == "qini_auc"
                                                else M.sklift_uplift_auc_score(y, x, w))
        assert a[key]["std"] > 0


def test_bootstrap_weights_equal_explicit_resample():
    rng = np.random.default_rng(6)
    y, w, s = rng.integers(0, 2, 200), rng.integers(0, 2, 200), rng.random(200)
    idx = rng.integers(0, 200, 200)
    counts = np.bincount(idx, minlength=200).astype(float)[None, :]
    weighted = M._sklift_scores(y.astype(float), s, w.astype(float), counts)
    assert weighted["uplift_auc"][0] == pytest.approx(M.sklift_uplift_auc_score(y[idx], s[idx], w[idx]))
    assert weighted["qini_auc"][0] == pytest.approx(M.sklift_qini_auc_score(y[idx], s[idx], w[idx]))


def test_true_effect_curve_of_the_oracle_dominates():
    rng = np.random.default_rng(8)
    tau = rng.normal(size=1000)
    oracle = M.true_uplift_curve(tau, tau)[1]
    other = M.true_uplift_curve(tau, rng.random(1000))[1]
    assert np.all(oracle >= other - 1e-9) and oracle[-1] == pytest.approx(tau.sum())


def test_downsampled_curve_keeps_ends_and_limit():
    x, v = np.arange(1001.0), np.arange(1001.0) ** 2
    out = M.downsample_curve(x, v, 200)
    assert len(out["x"]) <= 200 and out["x"][0] == 0 and out["x"][-1] == 1000 and out["y"][-1] == 1000 ** 2


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        M.uplift_curve([1, 0], [0.1, 0.2], [0, 2])
    with pytest.raises(ValueError):
        M.uplift_curve([1, 0, 1], [0.1, 0.2], [0, 1])
    with pytest.raises(ValueError):
        M.sklift_qini_auc_score([0, 0, 1, 1], [1, 2, 3, 4], [1, 1, 0, 0], negative_effect=False)


def test_matches_scikit_uplift_on_random_data_with_ties():
    sklift_metrics = pytest.importorskip("sklift.metrics", reason="scikit-uplift 0.5.1 not installed")
    rng = np.random.default_rng(9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for trial in range(25):
            n = int(rng.integers(20, 300))
            y, w = rng.integers(0, 2, n), rng.integers(0, 2, n)
            if w.min() == w.max():
                continue
            s = np.round(rng.random(n), 1)
            close(M.uplift_curve(y, s, w)[1], sklift_metrics.uplift_curve(y, s, w)[1], 1e-9)
            close(M.qini_curve(y, s, w)[1], sklift_metrics.qini_curve(y, s, w)[1], 1e-9)
            close(M.perfect_uplift_curve(y, w)[1], sklift_metrics.perfect_uplift_curve(y, w)[1], 1e-9)
            close(M.sklift_uplift_auc_score(y, s, w), sklift_metrics.uplift_auc_score(y, s, w), 1e-9)
            close(M.sklift_qini_auc_score(y, s, w), sklift_metrics.qini_auc_score(y, s, w), 1e-9)
            for strategy in ("overall", "by_group"):
                ours = M.uplift_at_k(y, s, w, 0.3, strategy)
                theirs = sklift_metrics.uplift_at_k(y, s, w, strategy, k=0.3)
                assert (np.isnan(ours) and np.isnan(theirs)) or ours == pytest.approx(theirs)
                table = sklift_metrics.uplift_by_percentile(y, s, w, strategy=strategy, bins=5, std=True)
                mine = M.uplift_by_percentile(y, s, w, bins=5, strategy=strategy)
                close(mine["uplift"], table["uplift"].to_numpy(), 1e-9)
                close(mine["std_uplift"], table["std_uplift"].to_numpy(), 1e-9)
