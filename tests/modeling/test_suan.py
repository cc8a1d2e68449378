"""SUAN / LightSUAN: masks, biases, padding invariance, gradients, overfitting a tiny batch."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mlcore.api import DataError, ParamError, RunContext
from mlcore.metrics import auc
from modeling.distill import SUAN_ALGORITHMS
from modeling.item_side import ItemEmbeddings
from modeling.nets.suan import SUAN, LightSUAN, RelativeBias, causal_mask, sparse_causal_mask, time_bucket
from modeling.schema import CategoricalField, FeatureSchema, SequenceSpec
from modeling.sequences import SequenceConfig, build_sequences, sequence_roles

L = 8
pytestmark = pytest.mark.usefixtures("one_torch_thread")



SCHEMA = FeatureSchema(
    categorical=(CategoricalField("user_id", 12), CategoricalField("item_id", 40), CategoricalField("genre", 7),
                 CategoricalField("city", 5)),  # two profile fields: with one, cross-attention weights are constant
    numeric=("age",),
    sequence=SequenceSpec(item_field="item_id", fields={"item_id": "item_id", "genre": "genre"}, max_len=L,
                          has_time=True, multimodal_dim=5, behaviour_fields={"label": 4}),
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
        "hist_label": torch.randint(2, 4, (n, length), generator=g) * mask,
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
    for key in ("hist_item_id", "hist_genre", "hist_mask", "hist_time", "hist_label"):
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
    flipped = dict(b, hist_label=torch.where(b["hist_mask"], 5 - b["hist_label"], 0))  # the past feedback 2 <-> 3
    assert not torch.allclose(net(b), net(flipped))


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


# ---------------------------------------------------------------------------------------------
# Pipeline: SUAN, LightSUAN and online distillation as jobs


def sequence_table(n_events=1500, seed=0):
    """A built sequence table whose clicks depend on the history: users click items of genres they
    watched before."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 30, n_events)
    favourite = rng.integers(0, 4, 30)
    items = rng.integers(0, 60, n_events)
    genre = items % 4
    events = pd.DataFrame({"user_id": users.astype(str), "item_id": items.astype(str), "genre": genre.astype(str),
                           "timestamp": rng.integers(0, 10**6, n_events),
                           "label": ((genre == favourite[users]) ^ (rng.random(n_events) < 0.1)).astype(int)})
    return build_sequences(events, fields=["genre"], config=SequenceConfig(max_len=10, valid_events=3, test_events=5))


def run(key, df, tmp_path, extra=None, **params):
    algo = next(a for a in SUAN_ALGORITHMS if a.key == key)
    roles = sequence_roles(["genre"])
    ctx = RunContext(params=algo.validate(params), roles=roles, read_table=lambda cols=None: df[cols] if cols else df,
                     workdir=tmp_path, extra=extra or {})
    return algo.run(ctx)


def test_distillation_reports_teacher_and_student_on_held_out_rows(tmp_path):
    result = run("suan_distill", sequence_table(), tmp_path, epochs=2, batch_size=128, max_len=10, window=3,
                 teacher_embedding_dim=8, student_embedding_dim=4, hidden_units="32")
    m = result.metrics
    assert result.summary["n_test"] == 150 and m["n"] == 150
    for who in ("teacher", "student"):
        assert 0.5 < m[f"{who}_auc"] <= 1 and np.isfinite(m[f"{who}_gauc"]) and m[f"{who}_latency_ms"] > 0
    assert m["auc"] == m["student_auc"] and result.artifact.exists()
    assert result.summary["student_params"] < result.summary["teacher_params"]
    assert "valid_teacher_auc" in result.curves["history"][0]


def test_distillation_resumes_from_its_epoch_checkpoint(tmp_path):
    df = sequence_table(600)
    params = dict(batch_size=128, max_len=10, window=3, teacher_embedding_dim=4, student_embedding_dim=4, hidden_units="16")
    run("suan_distill", df, tmp_path, epochs=1, **params)
    again = run("suan_distill", df, tmp_path, epochs=2, **params)
    assert again.summary["resumed_from"] == 1 and len(again.curves["history"]) == 2


@pytest.mark.parametrize("key", ["suan", "lightsuan"])
def test_standalone_sequence_nets_train_as_jobs(key, tmp_path):
    extra = {"item_embeddings": ItemEmbeddings(np.array([str(i) for i in range(50)], dtype=object),
                                               np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32))}
    result = run(key, sequence_table(600), tmp_path, extra=extra, epochs=1, batch_size=128, max_len=10, embedding_dim=4,
                 hidden_units="16", **({"window": 3} if key == "lightsuan" else {}))
    # Whether they learn is tests/modeling/test_learnability.py's job; this one checks the job runs with an item table.
    assert "auc" in result.metrics and result.metrics["latency_ms"] > 0 and result.summary["item_side"]


def test_bad_sequence_hyperparameters_and_data_fail_clearly(tmp_path):
    with pytest.raises(ParamError, match="multiple of n_heads"):
        run("suan", sequence_table(200), tmp_path, embedding_dim=5, n_heads=2)
    with pytest.raises(ParamError, match="window"):
        run("lightsuan", sequence_table(200), tmp_path, max_len=10, window=40)
    algo = next(a for a in SUAN_ALGORITHMS if a.key == "suan")
    df = sequence_table(200)
    ctx = RunContext(params=algo.validate({}), roles={"label": "label", "item_id": "item_id"},
                     read_table=lambda cols=None: df, workdir=tmp_path)
    with pytest.raises(DataError, match="behaviour sequence"):
        algo.run(ctx)


def test_suan_algorithms_are_registered_for_ctr_datasets():
    from jobs.registry import algorithms_for_kind

    keys = {a.key for a in algorithms_for_kind("ctr")}
    assert {"suan", "lightsuan", "suan_distill"} <= keys


def test_cancelled_distillation_stops_at_the_next_batch(tmp_path):
    from mlcore.api import Cancelled

    calls = []

    def check_cancelled():
        calls.append(1)
        if len(calls) > 2:
            raise Cancelled()

    algo = next(a for a in SUAN_ALGORITHMS if a.key == "suan_distill")
    df = sequence_table(600)
    ctx = RunContext(params=algo.validate(dict(batch_size=64, max_len=10, window=3, teacher_embedding_dim=4,
                                               student_embedding_dim=4, hidden_units="16")),
                     roles=sequence_roles(["genre"]), read_table=lambda cols=None: df[cols], workdir=tmp_path,
                     check_cancelled=check_cancelled)
    with pytest.raises(Cancelled):
        algo.run(ctx)
    assert len(calls) == 3


@pytest.mark.slow
def test_on_real_taobao_sequences_teacher_and_student_beat_chance(tmp_path, shared_data):
    from modeling.sequences import load_taobao

    log = load_taobao(shared_data / "taobao_userbehavior_sample" / "UserBehavior_sample.csv")
    df = build_sequences(log.events, fields=log.fields, config=SequenceConfig(max_len=20, split="time"))
    algo = next(a for a in SUAN_ALGORITHMS if a.key == "suan_distill")
    ctx = RunContext(params=algo.validate(dict(epochs=4, batch_size=128, max_len=20, min_count=1, hidden_units="64")),
                     roles=sequence_roles(log.fields), read_table=lambda cols=None: df[cols], workdir=tmp_path)
    m = algo.run(ctx).metrics
    print({k: round(v, 4) for k, v in m.items()})
    assert m["teacher_auc"] > 0.55 and m["student_auc"] > 0.55
