"""AW-MoE's optional search-query field: it moves the gate, and the model still learns."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mlcore.api import ParamError
from modeling.algorithms import CTR_ALGORITHMS
from modeling.features import EncoderConfig, FeatureEncoder
from modeling.nets import AWMoE
from modeling.sequences import sequence_roles

from .test_learnability import MIN_AUC, constant_forward, sequence_table, train
from .test_seq_nets import SEQ_ROLES, sequence_frame

pytestmark = pytest.mark.usefixtures("one_torch_thread")
AWMOE = next(a for a in CTR_ALGORITHMS if a.key == "awmoe")


def gate_of(net, batch):
    _, target, hist, mask = net.embedding(batch)
    return net.gate(hist, target, mask, net.query(batch))[0]  # (B, K)


def test_the_query_changes_the_gate_and_a_model_without_one_ignores_it():
    df = sequence_frame(64)
    df["query"] = [f"q{i % 5}" for i in range(len(df))]
    enc = FeatureEncoder.fit(df, {**SEQ_ROLES, "query": "categorical"}, EncoderConfig(min_count=1, max_len=8))
    batch = enc.transform(df)
    other = dict(batch, cat=batch["cat"].clone())
    col = enc.schema.field_index("query")
    other["cat"][:, col] = batch["cat"][:, col].roll(1)  # every row gets another row's query
    torch.manual_seed(0)
    net = AWMoE(enc.schema, embedding_dim=8, query_field="query").eval()
    gate, moved = gate_of(net, batch), gate_of(net, other)
    changed = (gate - moved).abs().amax(1) > 1e-4
    assert changed.float().mean() > 0.9  # rows whose query stayed the same are the exceptions
    torch.manual_seed(0)
    plain = AWMoE(enc.schema, embedding_dim=8).eval()
    assert plain.query(batch) is None
    torch.testing.assert_close(gate_of(plain, batch), gate_of(plain, other))
    with pytest.raises(ValueError, match="not a categorical field"):
        AWMoE(enc.schema, query_field="hour")


def test_the_query_field_must_name_a_categorical_column():
    roles = {"click": "label", "hist": "sequence", "q": "categorical", "price": "numeric"}
    assert AWMOE.validate_request({"query_field": "q"}, roles)["query_field"] == "q"
    assert AWMOE.validate_request({}, roles)["query_field"] == ""
    with pytest.raises(ParamError, match="no column `search`") as caught:
        AWMOE.validate_request({"query_field": "search"}, roles)
    assert set(caught.value.errors) == {"query_field"}
    with pytest.raises(ParamError, match="has the role numeric"):
        AWMOE.validate_request({"query_field": "price"}, roles)


def search_table(seed=0):
    """The learnability table plus a search query (a genre): a click happens when the item's genre is
    the query's or the last behaviour's (5 % of labels flipped)."""
    frame = sequence_table(seed=seed)
    rng = np.random.default_rng(seed + 1)
    query = rng.integers(0, 4, len(frame))
    genre = frame["genre"].astype(int).to_numpy()
    last = frame["hist_genre"].astype(int).to_numpy()
    frame["query"] = [f"g{q}" for q in query]
    frame["label"] = (((genre == query) | (genre == last)) ^ (rng.random(len(frame)) < 0.05)).astype(int)
    return frame


def test_awmoe_with_a_query_field_learns_a_search_rule(tmp_path, monkeypatch):
    if os.environ.get("CTRSTUDIO_CONSTANT_FORWARD"):  # the control of test_learnability.py: this must then fail
        constant_forward(monkeypatch, [AWMoE])
    roles = {**sequence_roles(["genre"]), "query": "categorical"}
    result = train("awmoe", search_table(), roles, tmp_path, epochs=5, patience=5, batch_size=64, lr=1e-2, max_len=4,
                   min_count=1, embedding_dim=8, query_field="query")
    assert result.metrics["auc"] >= MIN_AUC, result.metrics["auc"]
