"""The long-sequence generator plants the rule the bench relies on (seconds, no training)."""
import numpy as np
import pytest

from modeling.synthetic_sequences import InterestConfig, ceilings, interest_roles, make_interest_sequences

SMALL = InterestConfig(n_users=300, targets_per_user=6, history_len=200)


@pytest.fixture(scope="module")
def frame():
    return make_interest_sequences(SMALL, seed=3)


def test_bayes_ceiling_is_high_and_order_blind_ceiling_is_well_below_it(frame):
    c = ceilings(frame, split=None)
    assert c["bayes"] > 0.75
    assert c["bayes"] - c["order_blind"] > 0.08  # time/order carries a large share of the signal


def test_histories_are_time_ordered_and_strictly_before_the_target(frame):
    for _, row in frame.sample(20, random_state=0).iterrows():
        times = np.array(row["hist_time"].split("|"), dtype=np.int64)
        assert len(times) == SMALL.history_len == len(row["hist_category"].split("|"))
        assert (np.diff(times) >= 0).all() and times[-1] < row["timestamp"]


def test_current_interests_fill_the_recent_window_and_drive_clicks(frame):
    """A clicked-often candidate's category is frequent among the last 14 days' behaviours; the
    click rate of candidates whose category is in that window beats the others by far."""
    day = 86_400
    recent_match, label = [], frame["label"].to_numpy()
    for _, row in frame.iterrows():
        cats = np.array(row["hist_category"].split("|"))
        times = np.array(row["hist_time"].split("|"), dtype=np.int64)
        recent = cats[row["timestamp"] - times < SMALL.recent_days * day]
        recent_match.append((recent == row["category"]).mean() > 0.05)
    recent_match = np.array(recent_match)
    assert label[recent_match].mean() > label[~recent_match].mean() + 0.35


def test_users_not_rows_are_split_and_seed_repeats(frame):
    assert frame.groupby("user_id")["split"].nunique().max() == 1
    assert set(frame["split"]) == {"train", "valid", "test"}
    again = make_interest_sequences(SMALL, seed=3)
    assert again.equals(frame)
    assert not make_interest_sequences(SMALL, seed=4)["hist_category"].equals(frame["hist_category"])
    assert set(interest_roles()) == set(frame.columns)
