"""Every attribute method beats its reference on a generated catalogue with a planted rule.

Text similarity (no training) must beat random candidate scores where values are written in the
title; HyperPAVE and the multi-label classifier must beat text similarity where values are only
implied by cue words. To see these fail, run them with each method's scores (HyperPAVE: its
forward) replaced by a constant: ``CTRSTUDIO_CONSTANT_FORWARD=1 pytest tests/attributes/test_learnability.py``.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

from attributes.algorithms import ATTRIBUTE_ALGORITHMS
from attributes.baselines import MultiLabelClassifier
from attributes.evaluation import allowed_matrix, inductive_split, ranking_metrics, truth_matrix
from attributes.features import NodeFeatures, encode_node_features
from attributes.hypergraph import encode_catalogue
from attributes.nets.hyperpave import HyperPAVE
from attributes.pipeline import evaluate_method

ALGORITHMS = {a.key: a for a in ATTRIBUTE_ALGORITHMS}
CUES = {"cotton": ("tee", "polo"), "leather": ("boot", "belt"), "steel": ("knife", "kettle"),
        "wool": ("sweater", "scarf")}
COLORS = ("red", "navy", "olive", "black")


@pytest.fixture
def control(monkeypatch):
    if not os.environ.get("CTRSTUDIO_CONSTANT_FORWARD"):
        return

    def forward(self, x, graph):
        anchor = sum(p.sum() for p in self.parameters()) * 0.0
        return torch.ones(x.shape[0], self.hidden_dim if hasattr(self, "hidden_dim") else 8) + anchor

    monkeypatch.setattr(HyperPAVE, "forward", forward)
    monkeypatch.setattr(NodeFeatures, "text_similarity",
                        lambda self, products: np.zeros((len(products), len(self.value)), dtype=np.float32))
    monkeypatch.setattr(MultiLabelClassifier, "score",
                        lambda self, products: np.zeros((len(products), self.num_aspects), dtype=np.float32))


def generated_catalogue(n=160, seed=0):
    """Material is implied by a cue word (a "boot" is leather), never written; Color is written.
    Products of one material are also co-viewed in groups of four (``groups``)."""
    rng = np.random.default_rng(seed)
    products, labels = [], []
    for i in range(n):
        material = str(rng.choice(list(CUES)))
        color = str(rng.choice(COLORS))
        cue = str(rng.choice(CUES[material]))
        products.append({"product_id": f"p{i}", "title": f"{color.title()} {cue} no. {rng.integers(100, 999)}",
                         "description": "", "category": "Goods"})
        labels += [{"product_id": f"p{i}", "attribute": "Material", "value": material},
                   {"product_id": f"p{i}", "attribute": "Color", "value": color}]
    labels = pd.DataFrame(labels)
    materials = labels[labels["attribute"] == "Material"].sample(frac=1.0, random_state=seed)
    materials = materials.sort_values("value", kind="stable")
    groups = pd.DataFrame({"group_id": [f"{v}-{i // 4}" for i, v in enumerate(materials["value"])],
                           "product_id": materials["product_id"].to_numpy(), "kind": "view"})
    return encode_catalogue(pd.DataFrame(products), labels), groups


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    catalogue, groups = generated_catalogue()
    features = encode_node_features(catalogue, method="tfidf", dim=64, cache_dir=tmp_path_factory.mktemp("text"))
    return catalogue, features, inductive_split(catalogue, seed=0, share=0.25), groups


def test_text_similarity_beats_random_candidate_scores(planted, control):
    catalogue, features, split, _ = planted
    text = evaluate_method(catalogue, features, split, "text_similarity", {})[2]
    test = split.test_products
    rng = np.random.default_rng(0)
    random = np.mean([ranking_metrics(rng.random((len(test), catalogue.num_aspects)), truth_matrix(catalogue, test),
                                      allowed_matrix(catalogue, split, test))["map"] for _ in range(20)])
    assert text["map"] >= random + 0.1, (text["map"], random)


UNCENTRED_GAP = pytest.mark.xfail(strict=True, reason=(
    "known limit of center_embeddings=off: uncentred, HyperPAVE's product embeddings collapse (mean "
    "pairwise cosine 0.96 untrained, text features 0.15: every linear layer's bias and the one "
    "category's message are shared by all products and the GraphSAGE stage shrinks what is not), so "
    "its link score ranks the implied Material at random level (validation, link only: 0.515, "
    "random 0.517). Centred it learns it (the cases below); off stays an option because it scored "
    "higher on AE-110K validation (0.495 vs 0.436), and the default (auto) picks on validation mAP. "
    "Strict: the day uncentred learns this, the test XPASSes and the mark must go."))


@pytest.mark.parametrize("key, extra", [
    pytest.param("hyperpave", dict(max_epochs=60, hidden_dim=32), id="hyperpave-default-auto"),
    pytest.param("hyperpave", dict(max_epochs=60, hidden_dim=32, center_embeddings="on"),
                 id="hyperpave-centred"),
    pytest.param("hyperpave", dict(max_epochs=60, hidden_dim=32, center_embeddings="off"),
                 id="hyperpave-uncentred", marks=UNCENTRED_GAP),
    ("multilabel_classifier", dict(max_epochs=60))])
def test_trained_method_beats_text_similarity_where_values_are_implied(key, extra, planted, control):
    catalogue, features, split, groups = planted
    test = split.test_products
    material = catalogue.aspect_attribute == catalogue.attributes.index("Material")

    def material_map(method, params):
        ranker = evaluate_method(catalogue, features, split, method, params, groups=groups)[0]
        return ranking_metrics(ranker.score(test), truth_matrix(catalogue, test),
                               allowed_matrix(catalogue, split, test), material)["map"]

    torch.manual_seed(0)
    trained = material_map(key, ALGORITHMS[key].validate(extra))
    text = material_map("text_similarity", {})
    assert trained >= text + 0.2, (trained, text)
