"""Tiny hand-made catalogues for the attribute-extraction tests."""
from __future__ import annotations

import itertools

import pandas as pd
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Two torch threads on a shared 2-core machine make scatter ops ~10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def catalogue_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """24 products in two categories; every value is written in the title."""
    products, labels = [], []
    shoes = itertools.product(["Crocs", "Nike", "Clarks", "Vans"], ["Red", "Navy", "Black"])
    for i, (brand, color) in enumerate(shoes):
        pid = f"shoe-{i}"
        products.append({"product_id": pid, "title": f"{brand} Women's Sneaker, {color}, 8 M US",
                         "description": "Comfortable everyday shoe.", "category": "Shoes"})
        labels += [{"product_id": pid, "attribute": "Brand", "value": brand},
                   {"product_id": pid, "attribute": "Color", "value": color}]
    teas = itertools.product(["Twinings", "Lipton", "Yogi"], ["Mint", "Lemon", "Chai", "Earl Grey"])
    for i, (brand, flavor) in enumerate(teas):
        pid = f"tea-{i}"
        products.append({"product_id": pid, "title": f"{brand} {flavor} Tea, 20 bags",
                         "description": "", "category": "Tea"})
        labels += [{"product_id": pid, "attribute": "Brand", "value": brand},
                   {"product_id": pid, "attribute": "Flavor", "value": flavor}]
    products = pd.DataFrame(products).assign(source_split="")
    labels = pd.DataFrame(labels).assign(evidence_start=pd.NA, evidence_end=pd.NA,
                                         evidence_field="")
    return products, labels


@pytest.fixture
def catalogue(catalogue_frames):
    from attributes.hypergraph import encode_catalogue

    return encode_catalogue(*catalogue_frames)


@pytest.fixture
def features(catalogue, tmp_path):
    from attributes.features import encode_node_features

    return encode_node_features(catalogue, method="tfidf", dim=64, cache_dir=tmp_path)
