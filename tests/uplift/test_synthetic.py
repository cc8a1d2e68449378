"""The chain generator's CVR-only option: treatment changes conversions after a click, never clicks."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from uplift.synthetic import make_chain_uplift


def test_cvr_only_chain_has_zero_true_ctr_effect_and_a_real_ctcvr_effect():
    frame = make_chain_uplift(20_000, n_treatments=2, seed=1, effect_on="cvr")
    for k in (1, 2):
        assert np.abs(frame[f"true_uplift_click_{k}"]).max() == 0.0
        assert frame[f"true_uplift_conv_{k}"].abs().mean() > 0.01
    # the observed click rate does not move with the arm, the conversion rate does
    rates = frame.groupby("treatment")[["click", "conversion"]].mean()
    assert rates["click"].max() - rates["click"].min() < 0.015
    clicked = frame[frame["click"] == 1]
    conv_top = clicked[clicked["f0"] < -1].groupby("treatment")["conversion"].mean()
    assert conv_top[2] - conv_top[0] > 0.15  # where f0 is low the treatment lifts conversions a lot


def test_both_is_the_default_and_keeps_click_and_conversion_effects_apart():
    a = make_chain_uplift(2000, n_treatments=2, seed=4)
    b = make_chain_uplift(2000, n_treatments=2, seed=4, effect_on="both")
    assert a.equals(b)
    assert spearmanr(a["true_uplift_click_1"], a["true_uplift_conv_1"]).statistic < 0.9


def test_unknown_effect_target_is_refused():
    with pytest.raises(ValueError, match="effect_on"):
        make_chain_uplift(100, effect_on="ctr")
