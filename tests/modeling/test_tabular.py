"""Feature encoding, splits and the tabular CTR networks (LR, DeepFM, DCNv2)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mlcore.api import DataError, ParamError, RunContext
from mlcore.metrics import auc
from modeling.algorithms import CTR_ALGORITHMS
from modeling.features import EncoderConfig, FeatureEncoder
from modeling.nets import DCNv2, DeepFM, LR
from modeling.split import split_frame

ROLES = {"click": "label", "site": "categorical", "price": "numeric", "user": "user_id"}


def frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    site = rng.choice(["a", "b", "c", "rare"], n, p=[.4, .3, .29, .01])
    price = rng.normal(10, 2, n)
    click = ((site == "a") ^ (price > 10)).astype(int)
    return pd.DataFrame({"click": click, "site": site, "price": price, "user": rng.integers(0, 20, n)})


def test_vocabulary_min_count_oov_and_missing():
    train = pd.DataFrame({"click": [0, 1, 0, 1, 1], "site": ["a", "a", "b", "b", "c"], "price": [1.0] * 5})
    enc = FeatureEncoder.fit(train, {"click": "label", "site": "categorical", "price": "numeric"}, EncoderConfig(min_count=2))
    test = pd.DataFrame({"click": [0, 1, 0, 1], "site": ["a", "c", "zzz", None], "price": [1.0, None, 2.0, 3.0]})
    cat = enc.transform(test)["cat"][:, 0].tolist()
    assert cat == [2, 1, 1, 0]  # a is known; c (rare in train) and zzz (unseen) are OOV; missing is 0
    assert enc.schema.categorical[0].vocab_size == 4


def test_numeric_statistics_come_from_train_only():
    train = pd.DataFrame({"click": [0, 1, 0, 1], "price": [1.0, 2.0, 3.0, None], "site": ["a"] * 4})
    enc = FeatureEncoder.fit(train, {"click": "label", "price": "numeric", "site": "categorical"})
    out = enc.transform(pd.DataFrame({"click": [0, 1], "price": [2.0, 100.0], "site": ["a", "a"]}))["num"][:, 0]
    mean = np.mean([1, 2, 3, 2])  # the missing value takes the train median (2)
    std = np.std([1, 2, 3, 2])
    assert out.tolist() == pytest.approx([(2 - mean) / std, (100 - mean) / std], rel=1e-5)


def test_bucketized_numerics_become_categorical_fields():
    enc = FeatureEncoder.fit(frame(), ROLES, EncoderConfig(numeric="bucketize", n_buckets=4))
    table = enc.transform(frame(seed=1))
    assert "num" not in table and table["cat"].shape[1] == 3 and int(table["cat"][:, 2].max()) <= 5


@pytest.mark.parametrize("df, roles, message", [
    (pd.DataFrame({"click": [0, 2], "x": ["a", "b"]}), {"click": "label", "x": "categorical"}, "must be binary"),
    (pd.DataFrame({"click": [0, 1], "x": ["a", "b"]}), {"click": "categorical", "x": "categorical"}, "exactly one label"),
    (pd.DataFrame({"click": [0, 1], "x": ["a", "b"]}), {"click": "label", "x": "ignore"}, "No feature columns"),
    (pd.DataFrame({"click": [0, 1], "x": ["a", "b"]}), {"click": "label", "x": "numeric"}, "holds text"),
])
def test_unusable_columns_raise_clear_data_errors(df, roles, message):
    with pytest.raises(DataError, match=message):
        FeatureEncoder.fit(df, roles)


def test_random_and_time_splits():
    df = frame(1000).assign(ts=np.arange(1000)[::-1])
    train, valid, test = split_frame(df, method="random", valid_frac=0.1, test_frac=0.2, seed=1)
    assert (len(train), len(valid), len(test)) == (700, 100, 200) and not set(train.index) & set(test.index)
    train, valid, test = split_frame(df, method="time", time_column="ts")
    assert train["ts"].max() < valid["ts"].min() and valid["ts"].max() < test["ts"].min()
    with pytest.raises(DataError, match="timestamp"):
        split_frame(df, method="time")


@pytest.mark.parametrize("net_cls", [LR, DeepFM, DCNv2])
def test_nets_shape_gradients_and_overfit_a_tiny_batch(net_cls):
    enc = FeatureEncoder.fit(frame(64), ROLES, EncoderConfig(min_count=1))
    batch = enc.transform(frame(64))
    torch.manual_seed(0)
    net = net_cls(enc.schema)
    assert net(batch).shape == (64,)
    loss = nn.functional.binary_cross_entropy_with_logits(net(batch), batch["label"])
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(batch), batch["label"]).backward()
        opt.step()
    if net_cls is LR:  # a linear model cannot fit the XOR in this data; it must still learn something
        assert auc(batch["label"].numpy(), net(batch).detach().numpy()) > 0.6
    else:
        assert auc(batch["label"].numpy(), net(batch).detach().numpy()) > 0.99


def run_algorithm(key, df, roles, tmp_path, **params):
    algo = next(a for a in CTR_ALGORITHMS if a.key == key)
    ctx = RunContext(params=algo.validate(params), roles=roles, read_table=lambda cols=None: df[cols] if cols else df,
                     workdir=tmp_path)
    return algo.run(ctx)


def test_pipeline_reports_held_out_metrics_and_saves_the_model(tmp_path):
    result = run_algorithm("deepfm", frame(2000), ROLES, tmp_path, epochs=3, batch_size=128)
    assert result.summary["n_test"] == 200 and result.metrics["n"] == 200
    assert 0.5 < result.metrics["auc"] <= 1 and "gauc" in result.metrics
    assert result.artifact.exists() and set(result.curves) == {"roc", "calibration", "history"}
    summary = result.summary
    assert summary["params_count"] > 0 and summary["samples_per_s"] > 0 and summary["inference_batch_size"] == 128
    assert summary["inference_ms_per_batch"] > 0 and summary["inference_rows_per_s"] > 0
    assert summary["inference_ms_per_1k"] == pytest.approx(1e6 / summary["inference_rows_per_s"], rel=0.01)


def test_inference_latency_times_whole_batches_after_a_warm_up():
    from modeling.pipeline import inference_latency

    calls = []

    class Counting(nn.Module):
        def forward(self, batch):
            calls.append(len(batch["label"]))
            return batch["num"][:, 0]

    table = {"label": torch.zeros(1000), "num": torch.randn(1000, 2)}
    out = inference_latency(Counting(), table, torch.device("cpu"), batch_size=300, warmup=2)
    assert out["inference_batch_size"] == 300 and calls == [300] * 7  # 2 warm-up + 3 whole batches, at least 5 timed
    assert out["inference_ms_per_batch"] >= 0 and out["inference_rows_per_s"] > 0
    calls.clear()
    small = inference_latency(Counting(), {"label": torch.zeros(40), "num": torch.randn(40, 2)}, torch.device("cpu"), 1024)
    assert small["inference_batch_size"] == 40 and calls == [40] * 7


def test_impossible_hyperparameter_combinations_fail_before_training(tmp_path):
    with pytest.raises(ParamError, match="hidden_units"):
        run_algorithm("deepfm", frame(), ROLES, tmp_path, hidden_units="400,-1")
    with pytest.raises(ParamError, match="at least 10%"):
        run_algorithm("lr", frame(), ROLES, tmp_path, valid_frac=0.5, test_frac=0.45)


@pytest.mark.slow
def test_on_real_criteo_data_deepfm_beats_lr_and_both_beat_chance(tmp_path, shared_data):
    df = pd.read_parquet(shared_data / "criteo_attribution_small" / "small_train.parquet")
    roles = {"cat1": "categorical", "cat4": "categorical", "cat6": "categorical", "cat8": "categorical",
             "cat9": "categorical", "click": "label", "c": "ignore"}
    lr = run_algorithm("lr", df, roles, tmp_path / "lr", epochs=5, batch_size=2048)
    deepfm = run_algorithm("deepfm", df, roles, tmp_path / "deepfm", epochs=5, batch_size=2048)
    assert lr.metrics["auc"] > 0.6
    assert deepfm.metrics["auc"] > lr.metrics["auc"] + 0.005


SEQ_ROLES = {"click": "label", "item_id": "item_id", "hist_item_id": "sequence", "hist_time": "sequence", "ts": "timestamp"}


def sequence_frame():
    return pd.DataFrame({"click": [0, 1, 0, 1], "item_id": ["a", "b", "c", "a"],
                         "hist_item_id": ["a|b|c", "", None, "b|b|a|c|zzz"],
                         "hist_time": ["1|2|3", "", None, "4|5|6|7|8"], "ts": [10, 11, 12, 13]})


def test_sequences_are_left_padded_and_keep_the_most_recent_items():
    df = sequence_frame()
    enc = FeatureEncoder.fit(df.iloc[:3], SEQ_ROLES, EncoderConfig(min_count=1, max_len=3))
    table = enc.transform(df)
    a, b, c = (enc.vocabs["item_id"].index(v) + 2 for v in "abc")
    assert table["hist_item_id"].tolist() == [[a, b, c], [0, 0, 0], [0, 0, 0], [a, c, 1]]  # zzz unseen: OOV
    assert table["hist_mask"].tolist() == [[True] * 3, [False] * 3, [False] * 3, [True] * 3]
    assert table["hist_time"][3].tolist() == [5.0, 6.0, 7.0] and table["target_time"].tolist() == [9, 10, 11, 12]
    assert enc.schema.sequence.fields == {"item_id": "item_id"} and enc.schema.sequence.has_time


def test_parquet_lists_encode_like_delimited_text_and_the_encoder_round_trips():
    df = sequence_frame()
    enc = FeatureEncoder.fit(df, SEQ_ROLES, EncoderConfig(min_count=1, max_len=4))
    lists = df.assign(hist_item_id=[["a", "b", "c"], [], None, ["b", "b", "a", "c", "zzz"]],
                      hist_time=[[1, 2, 3], [], None, [4, 5, 6, 7, 8]])
    expected, got = enc.transform(df), FeatureEncoder.from_dict(enc.to_dict()).transform(lists)
    assert set(expected) == set(got) and all(torch.equal(expected[k], got[k]) for k in expected)


def test_sequence_times_must_match_their_items():
    df = sequence_frame().assign(hist_time=["1|2", "", None, "4|5|6|7|8"])
    enc = FeatureEncoder.fit(df, SEQ_ROLES, EncoderConfig(min_count=1))
    with pytest.raises(DataError, match="needs one time"):
        enc.transform(df)


def test_split_column_is_honoured_and_wins_over_the_random_default(tmp_path):
    df = frame(1000).assign(part=np.repeat(["train", "valid", "test"], [600, 150, 250]))
    train, valid, test = split_frame(df, method="column", split_column="part")
    assert (len(train), len(valid), len(test)) == (600, 150, 250)
    result = run_algorithm("lr", df, {**ROLES, "part": "split"}, tmp_path, epochs=1)
    assert (result.summary["n_train"], result.summary["n_test"]) == (600, 250)
