"""The rankers: held-out values stay out of training yet receive scores."""
from __future__ import annotations

import numpy as np
import pytest

import attributes.training as training
from attributes.baselines import MultiLabelClassifier, TextSimilarityRanker
from attributes.evaluation import zero_shot_split
from mlcore.api import Cancelled


def test_unseen_values_are_never_seen_in_training_yet_can_be_scored(listed_catalogue, features,
                                                                    monkeypatch):
    catalogue = listed_catalogue  # same aspects as `catalogue`, so the same features
    split = zero_shot_split(catalogue, seed=0)
    unseen = np.flatnonzero(~split.seen_aspects)
    graph_links, negatives = [], []
    real_build, real_negatives = training.build_hypergraph, training._sample_negatives

    def spy_build(cat, links, *args, **kwargs):
        graph_links.append(np.asarray(links).copy())
        return real_build(cat, links, *args, **kwargs)

    def spy_negatives(*args, **kwargs):
        drawn = real_negatives(*args, **kwargs)
        negatives.append(drawn)
        return drawn

    monkeypatch.setattr(training, "build_hypergraph", spy_build)
    monkeypatch.setattr(training, "_sample_negatives", spy_negatives)
    ranker = training.HyperPAVERanker(hidden_dim=16, max_epochs=12, eval_every=4)
    ranker.fit(catalogue, features, split)

    assert graph_links and negatives
    for links in graph_links:
        assert not np.isin(links[:, 1], unseen).any()
        assert not np.isin(links[:, 0], split.test_products).any()
    assert not np.isin(np.concatenate(negatives), unseen).any()
    # Positives come only from training links, which hold no unseen value by construction.
    assert not np.isin(split.train_links[:, 1], unseen).any()

    scores = ranker.score(split.test_products)
    assert scores.shape == (len(split.test_products), catalogue.num_aspects)
    assert np.isfinite(scores[:, unseen]).all()
    assert np.ptp(ranker.link_cosine(split.test_products)[:, unseen]) > 0
    # A product's own unseen value (written in its title) outranks other unseen values.
    product = split.test_products[0]
    own = np.intersect1d(catalogue.links[catalogue.links[:, 0] == product, 1], unseen)
    others = np.setdiff1d(unseen[split.allowed[catalogue.product_category[product], unseen]],
                          own)
    row = scores[0]
    assert row[own].max() > row[others].max()


def test_classifier_cannot_score_values_it_never_saw(catalogue, features):
    split = zero_shot_split(catalogue, seed=0)
    classifier = MultiLabelClassifier(max_epochs=20)
    classifier.fit(catalogue, features, split)
    scores = classifier.score(split.test_products)
    assert (scores[:, ~split.seen_aspects] == 0).all()
    assert (scores[:, split.seen_aspects] > 0).all()


def test_text_similarity_needs_no_training(catalogue, features):
    split = zero_shot_split(catalogue, seed=0)
    ranker = TextSimilarityRanker()
    ranker.fit(catalogue, features, split)
    np.testing.assert_allclose(ranker.score(split.test_products),
                               features.product[split.test_products] @ features.value.T)


def test_training_stops_when_the_job_is_cancelled(catalogue, features):
    split = zero_shot_split(catalogue, seed=0)
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        training.HyperPAVERanker(hidden_dim=8, max_epochs=50).fit(
            catalogue, features, split, check_cancelled=check)
    assert len(calls) == 3


def test_a_products_own_values_are_not_counted_as_its_negatives():
    links = np.array([[0, 1], [0, 3], [2, 0]])  # product 0 has values 1 and 3, product 2 has 0
    keys = np.sort(links[:, 0] * 4 + links[:, 1])
    products = np.array([0, 0, 0, 2, 2, 5])
    aspects = np.array([1, 2, 3, 0, 1, 3])
    known = training._known_link(products, aspects, keys, num_aspects=4)
    assert known.tolist() == [True, False, True, True, False, False]
    assert not training._known_link(products, aspects, np.array([], dtype=np.int64), 4).any()


def test_centred_hyperpave_is_saved_as_centred(catalogue, features, tmp_path):
    import torch

    from attributes.pipeline import _save_model

    split = zero_shot_split(catalogue, seed=0)
    ranker = training.HyperPAVERanker(hidden_dim=8, max_epochs=2, center_embeddings=True)
    ranker.fit(catalogue, features, split)
    assert ranker.model.center
    _save_model(tmp_path / "model.pt", "hyperpave", ranker, features, catalogue,
                np.zeros(len(catalogue.attributes)), np.ones(len(catalogue.attributes)))
    assert torch.load(tmp_path / "model.pt", weights_only=False)["center"] is True


@pytest.mark.parametrize("valid_map, kept", [({False: 0.5, True: 0.3}, "off"), ({False: 0.3, True: 0.5}, "on"),
                                             ({False: 0.4, True: 0.4}, "off")])
def test_auto_centring_keeps_the_fit_with_the_better_validation_map(catalogue, features, monkeypatch, valid_map,
                                                                   kept):
    """``center_embeddings="auto"`` trains both ways and keeps the better validation mAP (a tie: uncentred)."""
    from attributes.algorithms import ATTRIBUTE_ALGORITHMS
    from attributes.pipeline import evaluate_method

    fitted = []

    def fake_fit(self, catalogue, features, split, **kwargs):
        fitted.append(self)
        self.model = None
        return {"best_valid_map": valid_map[self.center_embeddings], "history": []}

    monkeypatch.setattr(training.HyperPAVERanker, "fit", fake_fit)
    monkeypatch.setattr(training.HyperPAVERanker, "score",
                        lambda self, products: np.zeros((len(products), catalogue.num_aspects)))
    params = next(a for a in ATTRIBUTE_ALGORITHMS if a.key == "hyperpave").validate({})
    assert params["center_embeddings"] == "auto"  # the default
    ranker, _, _, _, info = evaluate_method(catalogue, features, zero_shot_split(catalogue, seed=0), "hyperpave", params)
    assert [r.center_embeddings for r in fitted] == [False, True]
    assert ranker is fitted[kept == "on"] and info["centring_kept"] == kept
    assert info["centring_valid_map"] == {"off": valid_map[False], "on": valid_map[True]}
