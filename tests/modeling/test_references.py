"""Untrained reference rows: item popularity and the user's past like-rate, from training rows only."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modeling.references import heuristic_references


def test_references_score_the_test_rows_from_training_history_only():
    train = pd.DataFrame({"label": [1, 1, 0, 0, 1, 0], "item": ["a", "a", "b", "b", "a", "b"],
                          "user": ["u", "v", "u", "v", "w", "w"]})
    test = pd.DataFrame({"label": [1, 0, 1, 0], "item": ["a", "b", "a", "c"], "user": ["u", "u", "v", "v"]})
    refs = heuristic_references(train, test, {"label": "label", "item": "item_id", "user": "user_id"}, prior=0.0)
    # Item a was always clicked in training, b never, c unseen (global rate): a perfect ranking here.
    assert refs["item_ctr"]["auc"] == 1.0 and refs["item_ctr"]["gauc"] == 1.0
    # Every user clicked half their training rows: the like-rate cannot rank these rows.
    assert refs["user_like_rate"]["auc"] == 0.5


def test_the_like_rate_reads_each_rows_own_past_feedback_when_there_is_one():
    test = pd.DataFrame({"label": [1, 1, 0, 0], "hist_label": ["1|1|1", "1|0|1", "0|0", ""],
                         "user_id": ["u", "v", "w", "x"]})
    train = test.assign(label=[0, 1, 0, 1])
    roles = {"label": "label", "hist_label": "sequence", "user_id": "user_id"}
    refs = heuristic_references(train, test, roles)
    assert refs["user_like_rate"]["auc"] == 1.0 and "item_ctr" not in refs
    assert refs["user_like_rate"]["logloss"] < np.log(2)


def test_a_ctr_job_stores_its_references_beside_the_model(tmp_path):
    from tests.modeling.test_learnability import sequence_table, train
    from modeling.sequences import sequence_roles

    table = sequence_table(n_users=20, per_user=12)
    result = train("din", table, sequence_roles(["genre"]), tmp_path, epochs=1, batch_size=64, max_len=4, min_count=1,
                   embedding_dim=4, hidden_units="8", attention_units="8")
    refs = result.summary["references"]
    assert set(refs) == {"item_ctr", "user_like_rate"}
    assert set(refs["item_ctr"]) == {"auc", "logloss", "gauc"}
    # The planted rule depends on the history, not the item: the item's popularity cannot rank it.
    assert refs["item_ctr"]["auc"] == pytest.approx(0.5, abs=0.15)
