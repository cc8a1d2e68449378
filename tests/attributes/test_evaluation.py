"""Splits, metrics by hand, decisions and evidence spans."""
from __future__ import annotations

import numpy as np
import pytest

from attributes.evaluation import (choose_threshold, decide, f1_metrics, find_evidence,
                                   inductive_split, mean_std, ranking_metrics, zero_shot_split)


def test_zero_shot_split_holds_out_whole_values(catalogue):
    split = zero_shot_split(catalogue, seed=3)
    assert len(split.test_products) and len(split.valid_products) and len(split.train_products)
    assert not set(split.train_products) & set(split.test_products)
    assert not set(split.valid_products) & set(split.test_products)
    assert np.isin(split.train_links[:, 0], split.train_products).all()
    # Every evaluated product carries a value with no training link at all.
    for products in (split.test_products, split.valid_products):
        for product in products:
            aspects = catalogue.links[catalogue.links[:, 0] == product, 1]
            assert (~split.seen_aspects[aspects]).any()
    assert not split.seen_aspects[np.setdiff1d(np.arange(catalogue.num_aspects),
                                               split.train_links[:, 1])].any()


def test_zero_shot_split_is_reproducible_per_seed(catalogue):
    a, b = zero_shot_split(catalogue, seed=5), zero_shot_split(catalogue, seed=5)
    np.testing.assert_array_equal(a.test_products, b.test_products)


def test_inductive_split_holds_out_whole_products_in_every_category(catalogue):
    split = inductive_split(catalogue, seed=0, share=0.25)
    parts = [set(split.train_products), set(split.valid_products), set(split.test_products)]
    assert sum(map(len, parts)) == catalogue.num_products
    assert not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set(catalogue.product_category[split.test_products]) == {0, 1}
    assert np.isin(split.train_links[:, 0], split.train_products).all()


def test_ranking_metrics_match_a_hand_computation():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    truth = np.array([[False, True, False, True], [False, False, False, True]])
    allowed = np.ones_like(truth)
    metrics = ranking_metrics(scores, truth, allowed, ks=(1, 2))
    # Row 0: positives at ranks 2 and 4 -> AP = (1/2 + 2/4) / 2 = 0.5. Row 1: rank 1 -> AP 1.
    assert metrics["map"] == pytest.approx(0.75)
    assert metrics["recall@1"] == pytest.approx((0 + 1) / 2)
    assert metrics["recall@2"] == pytest.approx((0.5 + 1) / 2)
    assert metrics["hit@1"] == pytest.approx(0.5)
    assert metrics["hit@2"] == pytest.approx(1.0)
    # Disallowed candidates never count: hiding column 0 lifts row 0's positive to rank 1.
    allowed[0, 0] = False
    assert ranking_metrics(scores, truth, allowed, ks=(1,))["recall@1"] == pytest.approx(0.75)


def test_f1_metrics_match_a_hand_computation():
    aspect_attribute = np.array([0, 0, 1, 1])
    truth = np.array([[True, False, True, False], [False, True, False, False]])
    predicted = np.array([[True, False, False, True], [True, False, False, False]])
    metrics = f1_metrics(predicted, truth, aspect_attribute)
    # tp = 1, predicted = 3, true = 3 -> P = R = F1 = 1/3.
    assert metrics["micro_f1"] == pytest.approx(1 / 3)
    assert metrics["precision"] == pytest.approx(1 / 3)
    # Attribute 0: tp 1, pred 2, true 2 -> 0.5. Attribute 1: tp 0 -> 0. Macro = 0.25.
    assert metrics["macro_f1"] == pytest.approx(0.25)


def test_decisions_keep_one_value_per_attribute_above_the_threshold():
    aspect_attribute = np.array([0, 0, 0, 1, 1])
    scores = np.array([[0.2, 0.9, 0.9, 0.3, 0.1]])
    allowed = np.array([[True, True, True, True, False]])
    chosen = decide(scores, allowed, aspect_attribute, threshold=0.25)
    assert chosen.tolist() == [[False, True, False, True, False]]
    assert not decide(scores, allowed, aspect_attribute, threshold=0.95).any()


def test_threshold_chosen_on_validation_maximises_micro_f1():
    aspect_attribute = np.array([0, 0, 1, 1])
    scores = np.array([[0.9, 0.1, 0.2, 0.3], [0.8, 0.1, 0.7, 0.1]])
    truth = np.array([[True, False, False, False], [True, False, True, False]])
    allowed = np.ones_like(truth)
    threshold = choose_threshold(scores, truth, allowed, aspect_attribute)
    # Winners: 0.9 (hit), 0.3 (miss), 0.8 (hit), 0.7 (hit) -> best cut keeps 0.9, 0.8, 0.7.
    assert 0.3 < threshold <= 0.7
    assert f1_metrics(decide(scores, allowed, aspect_attribute, threshold), truth,
                      aspect_attribute)["micro_f1"] == pytest.approx(1.0)


def test_evidence_is_a_whole_word_match_preferring_the_title():
    found = find_evidence(
        ["Redwood red sneaker", "Blue tea", "Plain mug"],
        ["", "Made with Earl Grey leaves", "no colour here"],
        ["Red", "earl grey", "Green"])
    assert found["stated"].tolist() == [True, True, False]
    assert found["evidence_field"].tolist() == ["title", "description", ""]
    assert (found["evidence_start"][0], found["evidence_end"][0]) == (8, 11)
    assert (found["evidence_start"][1], found["evidence_end"][1]) == (10, 19)
    assert found["evidence_start"].isna()[2]


def test_mean_std_over_runs():
    out = mean_std([{"f1": 0.2, "map": 0.5}, {"f1": 0.4, "map": 0.5}])
    assert out["f1"] == pytest.approx(0.3) and out["f1_std"] == pytest.approx(0.1)
    assert out["map_std"] == 0.0


def test_a_multi_valued_attribute_gets_several_values_by_its_own_threshold():
    from attributes.evaluation import choose_thresholds

    aspect_attribute = np.array([0, 0, 0, 1, 1])  # 0: Feature (two per product), 1: Color (one)
    max_values = np.array([2, 1])
    scores = np.array([[0.9, 0.8, 0.1, 0.6, 0.5],
                       [0.2, 0.7, 0.9, 0.4, 0.7],
                       [0.8, 0.3, 0.7, 0.9, 0.2]] * 2)
    truth = np.array([[True, True, False, True, False],
                      [False, True, True, False, True],
                      [True, False, True, True, False]] * 2)
    allowed = np.ones_like(truth)
    cuts = choose_thresholds(scores, truth, allowed, aspect_attribute, max_values, min_labels=1)
    chosen = decide(scores, allowed, aspect_attribute, cuts, max_values)
    assert (chosen == truth).all()  # both Feature values of every product, one Color each
    assert chosen[:, :3].sum(axis=1).tolist() == [2] * 6
    # With the old one-value-per-attribute rule the second Feature value could never be decided.
    assert decide(scores, allowed, aspect_attribute, cuts)[:, :3].sum(axis=1).max() == 1


def test_max_values_per_attribute_come_from_training_links_only(catalogue):
    from attributes.evaluation import max_values_per_attribute

    brand = catalogue.attributes.index("Brand")
    links = catalogue.links[catalogue.aspect_attribute[catalogue.links[:, 1]] == brand]
    assert max_values_per_attribute(catalogue, links)[brand] == 1
    other_brand = next(a for a in links[:, 1] if a != links[0, 1])
    doubled = np.concatenate([links, [[links[0, 0], other_brand]]])  # one product with two brands
    assert max_values_per_attribute(catalogue, doubled)[brand] == 2


def test_a_true_value_outside_the_candidates_still_counts_as_a_miss():
    aspect_attribute = np.array([0, 0, 0])
    scores = np.array([[0.9, 0.5, 0.1]])
    truth = np.array([[True, False, True]])
    everything = np.ones_like(truth)
    assert ranking_metrics(scores, truth, everything)["map"] == pytest.approx((1 + 2 / 3) / 2)
    no_third = np.array([[True, True, False]])  # the third value is no candidate
    assert ranking_metrics(scores, truth, no_third)["map"] == pytest.approx(0.5)
