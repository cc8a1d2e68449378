"""The MT-LIFT-like generator and the uplift data rules: validation, control choice, encoding, splitting."""
import time

import numpy as np
import pandas as pd
import pytest

from mlcore.api import DataError
from modeling.split import FrameTable, plan_split, split_frame
from uplift.data import (UpliftCheck, UpliftColumns, UpliftEncoder, choose_control, true_effect_columns,
                         validate_uplift_frame)
from uplift.synthetic import make_chain_uplift, synthetic_roles


@pytest.fixture(scope="module")
def generated():
    return make_chain_uplift(20_000, n_features=12, n_treatments=4, seed=3)


def test_generator_is_seeded_and_has_the_mt_lift_layout(generated):
    again = make_chain_uplift(20_000, n_features=12, n_treatments=4, seed=3)
    pd.testing.assert_frame_equal(generated, again)
    assert not make_chain_uplift(20_000, seed=4)["click"].equals(generated["click"])
    assert [f"f{j}" for j in range(12)] == list(generated.columns[:12])
    assert set(generated["treatment"]) == {0, 1, 2, 3, 4}
    assert {f"true_uplift_click_{k}" for k in range(1, 5)} <= set(generated.columns)
    assert {f"true_uplift_conv_{k}" for k in range(1, 5)} <= set(generated.columns)


def test_generator_chain_and_randomisation(generated):
    assert not ((generated["conversion"] == 1) & (generated["click"] == 0)).any()
    shares = generated["treatment"].value_counts(normalize=True)
    assert shares.between(0.18, 0.22).all()
    assert 0.08 < generated["click"].mean() < 0.3 and 0.01 < generated["conversion"].mean() < 0.1
    # click rate rises with arm strength, as the true effects say
    rates = generated.groupby("treatment")["click"].mean()
    assert rates.iloc[-1] > rates.iloc[0]


def test_generator_has_segments_where_click_and_conversion_uplift_disagree(generated):
    click_up, conv_up = generated["true_uplift_click_4"], generated["true_uplift_conv_4"]
    opposite = np.sign(click_up) != np.sign(conv_up)
    assert opposite.mean() > 0.1
    assert ((click_up > 0) & (conv_up < 0)).any() and ((click_up < 0) & (conv_up > 0)).any()


def test_generator_true_effects_match_observed_differences(generated):
    big = make_chain_uplift(200_000, seed=11)
    for k in (1, 4):
        observed = big.loc[big.treatment == k, "click"].mean() - big.loc[big.treatment == 0, "click"].mean()
        assert observed == pytest.approx(big[f"true_uplift_click_{k}"].mean(), abs=0.006)
        observed = (big.loc[big.treatment == k, "conversion"].mean()
                    - big.loc[big.treatment == 0, "conversion"].mean())
        assert observed == pytest.approx(big[f"true_uplift_conv_{k}"].mean(), abs=0.004)


def test_generator_without_effect_has_zero_uplift_and_is_fast():
    start = time.perf_counter()
    frame = make_chain_uplift(100_000, effect_scale=0.0, seed=1)
    assert time.perf_counter() - start < 2.0
    assert (frame.filter(like="true_uplift_") == 0).all().all()


def test_control_choice():
    assert choose_control(["0", "1", "2"]) == "0"
    assert choose_control(["Mens E-Mail", "No E-Mail", "Womens E-Mail"]) == "No E-Mail"
    assert choose_control(["treatment", "control_group"]) == "control_group"
    assert choose_control(["a", "b"], "b") == "b"
    with pytest.raises(DataError, match="control"):
        choose_control(["a", "b"])
    with pytest.raises(DataError, match="not a treatment value"):
        choose_control(["a", "b"], "c")


def frame_and_columns(n=400, seed=0):
    frame = make_chain_uplift(n, n_treatments=2, seed=seed)
    return frame, UpliftColumns.from_roles(synthetic_roles(frame))


def test_valid_frame_passes_without_errors():
    frame, columns = frame_and_columns(3000)
    assert validate_uplift_frame(frame, columns) == []


@pytest.mark.parametrize("mutate, message", [
    (lambda f: f.assign(click=f["click"] * 2), "must be binary"),
    (lambda f: f.assign(click=0), "conversion without a click"),
    (lambda f: f.assign(treatment=1), "only"),
    (lambda f: f.assign(treatment=np.where(np.arange(len(f)) < 5, 2, f["treatment"] % 2)), "fewer than"),
    (lambda f: f.assign(treatment=f["treatment"].astype(float).where(f.index > 3)), "missing"),
])
def test_unusable_frames_raise_a_data_error_saying_what_to_fix(mutate, message):
    frame, columns = frame_and_columns()
    with pytest.raises(DataError, match=message):
        validate_uplift_frame(mutate(frame), columns)


def test_imbalance_and_non_randomised_assignment_are_warned():
    frame, columns = frame_and_columns(6000)
    keep = (frame["treatment"] != 2) | (np.arange(len(frame)) % 20 == 0)
    frame = frame[keep].copy()
    frame.loc[frame["treatment"] == 1, "f3"] += 0.5
    warnings = validate_uplift_frame(frame, columns)
    assert any("only" in w and "'2'" in w for w in warnings)
    assert any("`f3`" in w and "randomised" in w for w in warnings)


def test_missing_roles_are_reported():
    frame = make_chain_uplift(100)
    roles = synthetic_roles(frame)
    del roles["conversion"]
    with pytest.raises(DataError, match="conversion"):
        UpliftColumns.from_roles(roles)
    roles = dict(synthetic_roles(frame), click="visit")
    assert UpliftColumns.from_roles(roles).click == "click"


def test_encoder_maps_control_to_zero_and_round_trips():
    frame = pd.DataFrame({
        "segment": ["Mens E-Mail", "No E-Mail", "Womens E-Mail"] * 40,
        "channel": ["Web", "Phone", "Web", "Multichannel"] * 30,
        "history": np.linspace(0, 500, 120),
        "visit": [1, 0, 0] * 40, "conversion": [1, 0, 0] * 40, "spend": [20.0, 0, 0] * 40,
    })
    roles = {"segment": "treatment", "channel": "categorical", "history": "numeric", "visit": "visit",
             "conversion": "conversion", "spend": "revenue"}
    columns = UpliftColumns.from_roles(roles)
    encoder = UpliftEncoder.fit(frame, columns)
    assert encoder.arms == ["No E-Mail", "Mens E-Mail", "Womens E-Mail"]
    table = encoder.transform(frame)
    assert table["treatment"][:3].tolist() == [1, 0, 2]
    assert table["cat"].shape == (120, 1) and table["num"].shape == (120, 1)
    assert table["revenue"][0] == 20.0 and "label" not in table
    again = UpliftEncoder.from_dict(encoder.to_dict()).transform(frame)
    assert all(np.array_equal(table[k].numpy(), again[k].numpy()) for k in table)
    assert true_effect_columns(["true_uplift_click_Mens E-Mail"], encoder.arms) == {"ctr": {1: "true_uplift_click_Mens E-Mail"}}


def test_split_by_arm_keeps_arm_shares_and_is_seeded():
    treatment = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [500, 300, 200]))
    frame = pd.DataFrame({"treatment": treatment, "x": np.arange(1000)})

    def split(seed):
        return split_frame(frame, valid_frac=0.1, test_frac=0.2, seed=seed, strata_column="treatment")

    train, valid, test = split(5)
    assert len(np.intersect1d(train["x"], test["x"])) == 0 and len(train) + len(valid) + len(test) == 1000
    for arm, size in ((0, 500), (1, 300), (2, 200)):
        assert (test["treatment"] == arm).sum() == round(0.2 * size)
        assert (valid["treatment"] == arm).sum() == round(0.1 * size)
    assert all(a.equals(b) for a, b in zip((train, valid, test), split(5)))
    assert not np.array_equal(split(6)[2]["x"], test["x"])


def test_split_by_arm_does_not_depend_on_chunking():
    treatment = np.random.default_rng(1).integers(0, 3, 5000)
    frame = pd.DataFrame({"treatment": treatment.astype(float)})  # 1.0 and 1 are one arm
    whole = plan_split(FrameTable(frame), valid_frac=0.1, test_frac=0.2, seed=3, strata_column="treatment")
    chunked = plan_split(FrameTable(frame), valid_frac=0.1, test_frac=0.2, seed=3, strata_column="treatment",
                         batch_rows=333)
    assert whole.strata_cuts == chunked.strata_cuts and set(whole.strata_cuts) == {"0", "1", "2"}
    codes = np.concatenate([whole.codes(s, frame.iloc[s:s + 777]) for s in range(0, 5000, 777)])
    assert np.array_equal(codes, whole.codes(0, frame)) and tuple(np.bincount(codes)) == whole.counts


def test_streamed_check_gives_the_whole_frame_warnings():
    frame, columns = frame_and_columns(6000)
    frame.loc[frame["treatment"] == 1, "f3"] += 0.5
    frame.loc[::7, "f4"] = np.nan
    check = UpliftCheck(columns)
    for start in range(0, len(frame), 1000):
        check.update(frame.iloc[start:start + 1000])
    assert check.finish() == validate_uplift_frame(frame, columns) != []
