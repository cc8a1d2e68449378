"""LightSUAN's kept-pair sparse attention equals the dense masked reference; parallel candidate
scoring equals one forward per candidate."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from modeling.nets.sparse_attention import NEG, CausalHistory, LocalDilatedHistory, TargetRows
from modeling.nets.suan import SUAN, LightSUAN, RelativeBias, causal_mask, sparse_causal_mask

from .test_suan import SCHEMA, batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def dense_reference(q, k, v, allowed, bias):
    """Masked dense attention, as ``MultiHeadAttention.forward`` computes it: (B, H, N, dh)."""
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
    return logits.masked_fill(~allowed, NEG).softmax(-1) @ v


def random_case(length, seed, with_times=True, heads=2, dh=4, rows=5):
    """Random q/k/v over history + target (N = L + 1), left padding of random lengths (one row
    without any behaviour), times increasing, and a bias module with random weights."""
    g = torch.Generator().manual_seed(seed)
    n = length + 1
    q, k, v = (torch.randn(rows, heads, n, dh, generator=g) for _ in range(3))
    lengths = torch.randint(0, length + 1, (rows,), generator=g)
    lengths[0], lengths[-1] = 0, length
    valid = torch.arange(length)[None, :] >= (length - lengths)[:, None]  # (B, L)
    times = torch.cumsum(torch.randint(1, 10**5, (rows, n), generator=g).float(), 1) if with_times else None
    bias = RelativeBias(length + 3)
    with torch.no_grad():
        bias.pos.normal_(generator=g)
        bias.time.normal_(generator=g)
    return q, k, v, valid, times, bias


@pytest.mark.parametrize("length", [1, 5, 8, 13, 31, 64, 100])
@pytest.mark.parametrize("window,dilation,block", [(8, 4, 8), (3, 4, 2), (5, 2, 16), (1, 3, 1), (4, 1, 4),
                                                   (6, 7, 3), (2, 50, 8)])
@pytest.mark.parametrize("with_times", [True, False])
def test_local_dilated_attention_equals_the_dense_masked_softmax(length, window, dilation, block, with_times):
    q, k, v, valid, times, bias = random_case(length, seed=length * 31 + window, with_times=with_times)
    n = length + 1
    full_valid = torch.cat([valid, torch.ones_like(valid[:, :1])], 1)  # (B, N)
    allowed = sparse_causal_mask(n, window, dilation)[None, None] & full_valid[:, None, None, :]
    dense = dense_reference(q, k, v, allowed, bias(n, times))  # (B, H, N, dh)

    hist_times = times[:, :-1] if times is not None else None
    history = LocalDilatedHistory(valid, hist_times, bias, window, dilation, block)
    out = history.attend(q[:, :, :-1], k[:, :, :-1], v[:, :, :-1], nn.Identity())  # (B, H, L, dh)
    target = TargetRows(valid, hist_times, times[:, -1] if times is not None else None, bias)
    out_t = target.attend(q[:, :, -1:], k[:, :, :-1], v[:, :, :-1], k[:, :, -1:], v[:, :, -1:], nn.Identity())
    real = valid[:, None, :, None].expand_as(out)  # padded queries are never read: compare real ones
    assert (out - dense[:, :, :-1])[real].abs().max().item() < 1e-5 if real.any() else True
    assert (out_t - dense[:, :, -1:]).abs().max().item() < 1e-5
    assert torch.isfinite(out).all()


def test_causal_history_equals_the_dense_causal_softmax():
    q, k, v, valid, times, bias = random_case(23, seed=3)
    n = 24
    full_valid = torch.cat([valid, torch.ones_like(valid[:, :1])], 1)
    dense = dense_reference(q, k, v, causal_mask(n)[None, None] & full_valid[:, None, None, :], bias(n, times))
    out = CausalHistory(valid, times[:, :-1], bias).attend(q[:, :, :-1], k[:, :, :-1], v[:, :, :-1], nn.Identity())
    real = valid[:, None, :, None].expand_as(out)
    assert (out - dense[:, :, :-1])[real].abs().max().item() < 1e-5


def test_the_sparse_pattern_computes_far_fewer_logits_than_dense():
    length, window, dilation = 1000, 8, 4
    pattern = LocalDilatedHistory(torch.ones(1, length, dtype=torch.bool), None, RelativeBias(length + 1),
                                  window, dilation, block=8)
    computed = pattern.logits_per_head
    assert pattern.local_bias.shape[-3:] == (length // 8, 8, 16) and pattern.dilated_bias.shape[-3:] == (4, 250, 250)
    kept = int(sparse_causal_mask(length, window, dilation).sum())
    assert kept <= computed <= 2.2 * kept  # the causal half of each residue class is the main waste
    assert computed < 0.3 * length ** 2


@pytest.mark.parametrize("net_cls,kwargs", [
    (SUAN, {}),
    (LightSUAN, dict(window=3, dilation=2)),
    (LightSUAN, dict(window=2, dilation=3, block_size=4, n_layers=2)),
    (LightSUAN, dict(window=5, dilation=2, block_size=3)),
])
@pytest.mark.parametrize("length", [8, 11])
def test_models_give_the_dense_mask_output_with_padding(net_cls, kwargs, length):
    torch.manual_seed(0)
    schema = dataclasses.replace(SCHEMA, sequence=dataclasses.replace(SCHEMA.sequence, max_len=length))
    net = net_cls(schema, embedding_dim=4, **kwargs).eval()
    b = batch(32, seed=length, length=length)
    kept = net(b)
    net.attention_impl = "dense_mask"
    torch.testing.assert_close(kept, net(b), atol=1e-5, rtol=0)


def test_sparse_training_gradients_equal_the_dense_mask_gradients():
    torch.manual_seed(0)
    grads = []
    for impl in ("kept", "dense_mask"):
        torch.manual_seed(0)
        net = LightSUAN(SCHEMA, embedding_dim=4, n_layers=2, window=3, dilation=2, attention_impl=impl)
        b = batch(32)
        nn.functional.binary_cross_entropy_with_logits(net(b), b["label"]).backward()
        grads.append({name: p.grad.clone() for name, p in net.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], atol=1e-5, rtol=1e-4, msg=name)


def candidates_for(b, k, seed=1):
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(2, 40, (len(b["label"]), k), generator=g)
    return {"item_id": items, "genre": items % 5 + 2, "item_emb": torch.randn(len(b["label"]), k, 5, generator=g)}


def one_at_a_time(net, b, cands):
    """The same candidates, one forward call each (candidate k as the batch's target)."""
    cols = {name: net.field_index[name] for name in ("item_id", "genre")}
    scores = []
    for j in range(cands["item_id"].shape[1]):
        cat = b["cat"].clone()
        for name, col in cols.items():
            cat[:, col] = cands[name][:, j]
        scores.append(net(dict(b, cat=cat, item_emb=cands["item_emb"][:, j])))
    return torch.stack(scores, 1)  # (B, K)


@pytest.mark.parametrize("net_cls,kwargs", [
    (LightSUAN, dict(window=3, dilation=2)),  # one block: the history is encoded once
    (SUAN, dict(n_layers=1)),
    (SUAN, dict(n_layers=2)),  # two blocks: expanded per candidate, still exact
    (LightSUAN, dict(window=2, dilation=3, n_layers=2, batch_norm=True)),
])
def test_parallel_candidate_scores_equal_separate_forward_calls(net_cls, kwargs):
    torch.manual_seed(0)
    net = net_cls(SCHEMA, embedding_dim=4, **kwargs).eval()
    b = batch(16, seed=4)
    cands = candidates_for(b, 7)
    parallel = net.score_candidates(b, cands)
    assert parallel.shape == (16, 7)
    torch.testing.assert_close(parallel, one_at_a_time(net, b, cands), atol=1e-5, rtol=0)


def test_one_block_parallel_scoring_encodes_the_history_once(monkeypatch):
    net = LightSUAN(SCHEMA, embedding_dim=4, window=3, dilation=2).eval()
    b = batch(8)
    seen = []
    original = LocalDilatedHistory.attend
    monkeypatch.setattr(LocalDilatedHistory, "attend",
                        lambda self, q, *a: seen.append(q.shape) or original(self, q, *a))
    net.score_candidates(b, candidates_for(b, 6))
    assert [s[0] for s in seen] == [8]  # one call on the 8 rows, not on 8 × 6


def test_candidate_fields_are_checked():
    net = LightSUAN(SCHEMA, embedding_dim=4).eval()
    b = batch(4)
    with pytest.raises(ValueError, match="unknown candidate field"):
        net.score_candidates(b, {"brand": torch.zeros(4, 2, dtype=torch.long)})
    with pytest.raises(ValueError, match="item_emb"):
        net.score_candidates(b, {"item_id": torch.ones(4, 2, dtype=torch.long) * 3})
