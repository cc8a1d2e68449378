"""Real-data check: on OA-Mine zero-shot, HyperPAVE must beat text similarity.

Honest candidates: the training products' values plus a vocabulary listing every value of each
attribute without category or product (as ``bench/attribute_models.py --candidates vocabulary``).
"""
from __future__ import annotations

import pytest

from attributes.evaluation import zero_shot_split
from attributes.features import encode_node_features
from attributes.hypergraph import encode_catalogue
from attributes.io import load_extractgpt
from attributes.pipeline import evaluate_method
from mlcore.paths import shared_data_dir


@pytest.mark.slow
@pytest.mark.skipif(not (shared_data_dir() / "extractgpt_avs" / "oa-mine").exists(),
                    reason="shared data folder not available")
def test_hyperpave_beats_text_similarity_on_oa_mine_zero_shot(tmp_path):
    products, labels = load_extractgpt("oa-mine")
    catalogue = encode_catalogue(products, labels, labels[["attribute", "value"]].drop_duplicates())
    features = encode_node_features(catalogue, method="tfidf", dim=256, cache_dir=tmp_path)
    split = zero_shot_split(catalogue, seed=0)
    text = evaluate_method(catalogue, features, split, "text_similarity", {})[2]
    params = {"hidden_dim": 128, "max_epochs": 80, "lr": 1e-3, "weight_decay": 1e-6,
              "dropout": 0.2, "negatives": 2, "mask_products": 0.3, "mask_aspects": 0.2,
              "use_candidate_edges": True}
    hyperpave = evaluate_method(catalogue, features, split, "hyperpave", params)[2]
    assert hyperpave["map"] > text["map"]
    assert hyperpave["micro_f1"] > text["micro_f1"]
