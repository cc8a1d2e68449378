"""SUAN / LightSUAN: masks, biases, padding invariance, gradients, overfitting a tiny batch."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from mlcore.metrics import auc
from modeling.nets.suan import SUAN, LightSUAN, RelativeBias, causal_mask, sparse_causal_mask, time_bucket
from modeling.schema import CategoricalField, FeatureSchema, SequenceSpec

L = 8


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from threads, and on a shared CPU two threads contend badly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

SCHEMA = FeatureSchema(
    categorical=(CategoricalField("user_id", 12), CategoricalField("item_id", 40), CategoricalField("genre", 7),
                 CategoricalField("city", 5)),  # two profile fields: with one, cross-attention weights are constant
    numeric=("age",),
    sequence=SequenceSpec(item_field="item_id", fields={"item_id": "item_id", "genre": "genre"}, max_len=L,
                          has_time=True, multimodal_dim=5),
    has_user=True)


def batch(n=64, seed=0, length=L):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, length + 1, (n,), generator=g)
    mask = torch.arange(length)[None, :] >= (length - lengths)[:, None]  # left padding
    hist_item = torch.randint(2, 40, (n, length), generator=g) * mask
    item = torch.randint(2, 40, (n,), generator=g)
    label = ((hist_item == item[:, None]).any(1) | (item % 3 == 0)).float()  # a rule that needs the sequence
    times = torch.cumsum(torch.randint(1, 5000, (n, length + 1), generator=g).float(), 1)
    return {
        "cat": torch.stack([torch.randint(2, 12, (n,), generator=g), item, item % 5 + 2,
                            torch.randint(0, 5, (n,), generator=g)], 1),
        "num": torch.randn(n, 1, generator=g), "label": label, "user": torch.randint(0, 10, (n,), generator=g),
        "hist_item_id": hist_item, "hist_genre": (hist_item % 5 + 2) * mask, "hist_mask": mask,
        "hist_time": times[:, :-1] * mask, "target_time": times[:, -1],
        "item_emb": torch.randn(n, 5, generator=g), "hist_item_emb": torch.randn(n, length, 5, generator=g) * mask[..., None],
    }


def test_time_buckets_match_the_reference_formula():
    assert time_bucket(torch.tensor([0.0, 1.0, 3600.0, 86400.0, -3600.0, 1e300])).tolist() == [0, 0, 27, 37, 27, 128]


def test_relative_position_bias_is_toeplitz():
    bias = RelativeBias(6).position(6)
    for i in range(5):
        for j in range(5):
            assert bias[i, j] == bias[i + 1, j + 1]


def test_causal_mask_lets_each_token_see_itself_and_the_past_only():
    mask = causal_mask(5)
    assert all(bool(mask[i, j]) == (j <= i) for i in range(5) for j in range(5))


def test_sparse_mask_allows_exactly_the_window_and_the_dilated_positions():
    n, window, dilation = 13, 3, 4
    mask = sparse_causal_mask(n, window, dilation)
    for i in range(n - 1):
        expected = {j for j in range(n) if 0 <= i - j < window} | {j for j in range(n) if j < i and (i - j) % dilation == 0}
        assert set(torch.nonzero(mask[i]).flatten().tolist()) == expected, i
    assert mask[-1].all()  # the target sees every behaviour
    assert not sparse_causal_mask(6, 2, 3)[0, 1]  # never the future


@pytest.mark.parametrize("net_cls", [SUAN, LightSUAN])
def test_shapes_and_left_padding_never_changes_the_output(net_cls):
    torch.manual_seed(0)
    net = net_cls(SCHEMA, embedding_dim=4, window=2, dilation=3).eval()
    short = batch(16, length=5)
    padded = dict(short)
    for key in ("hist_item_id", "hist_genre", "hist_mask", "hist_time"):
        padded[key] = torch.cat([torch.zeros(16, 3, dtype=short[key].dtype), short[key]], 1)
    padded["hist_item_emb"] = torch.cat([torch.randn(16, 3, 5), short["hist_item_emb"]], 1)  # garbage under the mask
    out = net(short)
    assert out.shape == (16,)
    torch.testing.assert_close(out, net(padded), atol=1e-5, rtol=1e-5)


def test_the_history_and_its_times_change_the_prediction():
    torch.manual_seed(0)
    net = SUAN(SCHEMA, embedding_dim=4).eval()
    b = batch(16)
    other = dict(b, hist_time=b["hist_time"] * 0.001, target_time=b["target_time"] * 0.001)
    assert not torch.allclose(net(b), net(other))
    other = dict(b, hist_item_id=torch.where(b["hist_mask"], 2, 0))
    assert not torch.allclose(net(b), net(other))


@pytest.mark.parametrize("net_cls", [SUAN, LightSUAN])
def test_gradients_reach_every_parameter(net_cls):
    torch.manual_seed(0)
    net = net_cls(SCHEMA, embedding_dim=4, n_layers=2)
    b = batch(64)
    nn.functional.binary_cross_entropy_with_logits(net(b), b["label"]).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_works_without_times_profile_or_multimodal_vectors():
    seq = dataclasses.replace(SCHEMA.sequence, has_time=False, multimodal_dim=0)
    schema = dataclasses.replace(SCHEMA, sequence=seq, categorical=SCHEMA.categorical[1:3], numeric=())
    b = batch(8)
    b = {k: v for k, v in b.items() if k not in ("hist_time", "target_time", "item_emb", "hist_item_emb", "num")}
    b["cat"] = b["cat"][:, 1:3]
    assert SUAN(schema, embedding_dim=4)(b).shape == (8,)


@pytest.mark.parametrize("net_cls", [SUAN, LightSUAN])
def test_overfits_a_tiny_batch(net_cls):
    torch.manual_seed(0)
    net = net_cls(SCHEMA, embedding_dim=8, hidden_units=[64])
    b = batch(64)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(50):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(b), b["label"]).backward()
        opt.step()
    net.eval()
    assert auc(b["label"].numpy(), net(b).detach().numpy()) > 0.99
