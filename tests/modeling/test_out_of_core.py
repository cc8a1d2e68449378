"""The out-of-core data path: streamed splits and encoder fit, the encoded store, streamed training."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from mlcore.api import Cancelled, RunContext
from mlcore.columnar import ColumnarTable
from mlcore.metrics import auc
from mlcore.store import EncodedStore, StoreWriter
from mlcore.trainer import TrainConfig, fit
from modeling.algorithms import CTR_ALGORITHMS
from modeling.encoded import encoder_columns, predict_table
from modeling.features import EncoderConfig, FeatureEncoder
from modeling.split import plan_split, split_frame
from tests.modeling.test_seq_nets import SEQ_ROLES, sequence_frame

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL_CHUNKS = {"encode_chunk_rows": 301, "store_chunk_rows": 128, "store_buffer_chunks": 3}


def planted(n=4000, seed=0):
    """Clicks from a known rule on a category and a number, with missing values and rare categories."""
    rng = np.random.default_rng(seed)
    site = rng.choice([f"s{i}" for i in range(12)] + ["rare"], n, p=[0.08] * 12 + [0.04])
    price = rng.normal(10, 3, n)
    logit = 2.0 * np.isin(site, ["s0", "s1", "s2", "s3", "s4"]) - 1.0 + 0.6 * (price - 10)
    click = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"rowid": np.arange(n), "click": click, "site": site, "price": price,
                         "noise": rng.integers(0, 50, n).astype(str), "user": rng.integers(0, 300, n).astype(str),
                         "part": rng.choice(["train", "valid", "test"], n, p=[0.7, 0.15, 0.15])})


ROLES = {"click": "label", "site": "categorical", "price": "numeric", "noise": "categorical", "user": "user_id"}


def parquet(df: pd.DataFrame, path, row_group=700) -> ColumnarTable:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group)
    return ColumnarTable(path)


def streamed_codes(table, plan, batch_rows):
    parts, start = [], 0
    for chunk in table.iter_frames(None, batch_rows):
        parts.append(plan.codes(start, chunk))
        start += len(chunk)
    return np.concatenate(parts)


@pytest.mark.parametrize("method", ["random", "column", "time"])
def test_streamed_splits_put_every_row_where_the_in_memory_split_does(method, tmp_path):
    df = planted(2000).assign(ts=np.random.default_rng(3).integers(0, 500, 2000))  # many ties in time
    kwargs = dict(method=method, valid_frac=0.1, test_frac=0.2, seed=5, time_column="ts", split_column="part")
    table = parquet(df, tmp_path / "t.parquet")
    plan = plan_split(table, batch_rows=333, **kwargs)
    codes = streamed_codes(table, plan, 333)
    in_memory = split_frame(df, **kwargs)
    for k, part in enumerate(in_memory):
        assert sorted(part["rowid"]) == sorted(df["rowid"][codes == k])  # the same rows, each in one split
    assert sum(len(p) for p in in_memory) == len(df) and plan.counts == tuple(len(p) for p in in_memory)
    if method == "random":
        assert plan.counts == (1400, 200, 400)
        other = plan_split(table, **{**kwargs, "seed": 6})
        assert not np.array_equal(codes, streamed_codes(table, other, 1000))  # the seed matters
    if method == "time":
        train, valid, test = in_memory
        assert train["ts"].max() <= valid["ts"].min() and valid["ts"].max() <= test["ts"].min()


def test_streaming_encoder_fit_equals_the_in_memory_fit():
    df = planted(5000)
    df.loc[::7, "site"] = None
    whole = FeatureEncoder.fit(df, ROLES, EncoderConfig(min_count=3))
    chunks = [df.iloc[s:s + 613] for s in range(0, len(df), 613)]
    streamed = FeatureEncoder.fit_stream(chunks, ROLES, EncoderConfig(min_count=3))
    assert streamed.vocabs == whole.vocabs and "rare" in whole.vocabs["site"]
    assert streamed.numeric["price"]["mean"] == pytest.approx(whole.numeric["price"]["mean"], rel=1e-9)
    assert streamed.numeric["price"]["std"] == pytest.approx(whole.numeric["price"]["std"], rel=1e-9)
    assert streamed.numeric["price"]["median"] == whole.numeric["price"]["median"]  # the sample holds every value
    # a reservoir of 500 of the ~4,500 prices: the median is approximate, within a few percentile points
    sampled = FeatureEncoder.fit_stream(chunks, ROLES, EncoderConfig(min_count=3), sample_size=500, seed=1)
    prices = df["price"].dropna()
    assert sampled.numeric["price"]["median"] != whole.numeric["price"]["median"]
    assert abs((prices < sampled.numeric["price"]["median"]).mean() - 0.5) < 0.04
    assert sampled.numeric["price"]["mean"] == pytest.approx(whole.numeric["price"]["mean"], rel=0.01)
    log_config = EncoderConfig(numeric="log_standardize")
    expected = FeatureEncoder.fit(df, ROLES, log_config).numeric["price"]
    assert FeatureEncoder.fit_stream(chunks, ROLES, log_config).numeric["price"] == pytest.approx(expected, rel=1e-9)


def test_streaming_fit_counts_sequence_tokens_and_the_time_origin_across_chunks():
    df = sequence_frame(600, seed=2)
    config = EncoderConfig(min_count=2, max_len=8)
    whole = FeatureEncoder.fit(df, SEQ_ROLES, config)
    streamed = FeatureEncoder.fit_stream([df.iloc[s:s + 97] for s in range(0, 600, 97)], SEQ_ROLES, config)
    a, b = streamed.to_dict(), whole.to_dict()
    assert a.pop("numeric")["hour"] == pytest.approx(b.pop("numeric")["hour"], rel=1e-12)
    assert a == b and a["time_origin"] == float(df["hist_time"].str.split("|").explode().replace("", np.nan).dropna()
                                                  .astype(float).min())
    # user codes are stable across chunks, so GAUC groups hold whatever chunk encoded a row
    a, b = whole.transform(df.iloc[:50]), whole.transform(df.iloc[25:75])
    assert torch.equal(a["user"][25:], b["user"][:25])


def _store(tmp_path, n=1000):
    writer = StoreWriter(tmp_path / "encoded", {"train": n, "valid": 0, "test": 0}, {"k": 1})
    for s in range(0, n, 333):
        rows = np.arange(s, min(n, s + 333))
        writer.write("train", {"rowid": rows, "label": (rows % 2).astype(np.float32), "cat": np.stack([rows, rows], 1)})
    return writer.close()["train"]


def test_store_round_trips_and_streamed_batches_see_every_row_once_per_epoch(tmp_path):
    split = _store(tmp_path)
    assert np.load(tmp_path / "encoded" / "train" / "cat.npy", mmap_mode="r").shape == (1000, 2)
    assert split.column("rowid").dtype == np.int32 and split.load()["rowid"].dtype == torch.int64
    assert torch.cat([b["rowid"] for b in split.iter_batches(64, shuffle=False)]).tolist() == list(range(1000))
    split.chunk_rows, split.buffer_chunks = 100, 3
    g = torch.Generator().manual_seed(4)
    epochs = [torch.cat([b["rowid"] for b in split.iter_batches(64, shuffle=True, generator=g)]) for _ in range(2)]
    for seen in epochs:
        assert sorted(seen.tolist()) == list(range(1000))
        assert seen.tolist() != list(range(1000))
    assert epochs[0].tolist() != epochs[1].tolist()  # a fresh order every epoch
    replay = torch.cat([b["rowid"] for b in split.iter_batches(64, shuffle=True, generator=torch.Generator().manual_seed(4))])
    assert torch.equal(replay, epochs[0])  # the order comes from the trainer's generator only
    batch = next(split.iter_batches(100, shuffle=True, generator=torch.Generator().manual_seed(1)))
    assert len({int(r) // 100 for r in batch["rowid"]}) == 3  # a batch mixes rows from the whole buffer
    assert EncodedStore.open_matching(tmp_path / "encoded", {"k": 1}) is not None
    assert EncodedStore.open_matching(tmp_path / "encoded", {"k": 2}) is None


def test_a_zero_width_key_is_written_across_chunks(tmp_path):
    """A table without categorical columns encodes ``cat`` as (n, 0): later chunks must not check its range."""
    writer = StoreWriter(tmp_path / "encoded", {"train": 6}, {"k": 1})
    for start in (0, 3):
        writer.write("train", {"cat": np.zeros((3, 0), dtype=np.int64), "rowid": np.arange(start, start + 3)})
    split = writer.close()["train"]
    assert split.load()["cat"].shape == (6, 0) and split.column("rowid").tolist() == list(range(6))


def test_the_trainer_takes_a_store_split_and_sees_each_row_once_per_epoch(tmp_path):
    split = _store(tmp_path)
    split.chunk_rows = 128
    seen: list[list[int]] = [[]]
    model = nn.Linear(2, 1)

    def loss_fn(net, batch):
        seen[-1].extend(batch["rowid"].tolist())
        return nn.functional.binary_cross_entropy_with_logits(net(batch["cat"].float() / 1000).squeeze(-1), batch["label"])

    def evaluate(net, valid):
        seen.append([])
        return {"auc": 0.5}

    fit(model, split, split, loss_fn=loss_fn, evaluate=evaluate, device=torch.device("cpu"),
        config=TrainConfig(epochs=2, batch_size=50, patience=5))
    assert [sorted(epoch) for epoch in seen[:2]] == [list(range(1000))] * 2


def run(key, df, roles, tmp_path, mode, extra=None, check_cancelled=lambda: None, **params):
    algo = next(a for a in CTR_ALGORITHMS if a.key == key)
    messages: list[str] = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "data.parquet"
    table = ColumnarTable(path) if path.exists() else parquet(df, path, row_group=500)
    ctx = RunContext(params=algo.validate(params), roles=roles, read_table=table.read, table=table,
                     workdir=tmp_path / "work", log=messages.append, check_cancelled=check_cancelled,
                     extra={"train_data_path": mode, **SMALL_CHUNKS, **(extra or {})})
    return algo.run(ctx), messages


@pytest.mark.parametrize("key, make, roles, params", [
    ("deepfm", lambda: planted(4000), ROLES, dict(epochs=4, batch_size=64, hidden_units="32,16", embedding_dim=8)),
    ("din", lambda: sequence_frame(2500, seed=1), SEQ_ROLES,
     dict(epochs=5, batch_size=64, hidden_units="32,16", attention_units="16", embedding_dim=8, max_len=8, min_count=1)),
])
def test_streamed_training_learns_the_planted_signal_like_the_in_memory_path(key, make, roles, params, tmp_path):
    df = make()
    streamed, log = run(key, df, roles, tmp_path / "s", "stream", **params)
    in_memory, memory_log = run(key, df, roles, tmp_path / "m", "memory", **params)
    assert streamed.summary["train_data_path"] == "stream" and in_memory.summary["train_data_path"] == "memory"
    assert any("streamed from the encoded splits" in m for m in log)
    assert any("training batches: in memory" in m for m in memory_log)
    assert streamed.metrics["auc"] > 0.7
    assert abs(streamed.metrics["auc"] - in_memory.metrics["auc"]) < 0.03
    assert streamed.summary["n_test"] == in_memory.summary["n_test"] == 0.1 * len(df)


def test_the_in_memory_path_is_chosen_below_the_threshold_and_the_store_above(tmp_path, monkeypatch):
    df = planted(1000)
    params = dict(epochs=1, batch_size=64, hidden_units="8", embedding_dim=4)
    monkeypatch.setenv("CTRSTUDIO_TRAIN_IN_MEMORY_MB", "0.001")
    result, log = run("deepfm", df, ROLES, tmp_path / "a", "auto", **params)
    assert result.summary["train_data_path"] == "stream" and any("> the 0 MB in-memory limit" in m for m in log)
    monkeypatch.setenv("CTRSTUDIO_TRAIN_IN_MEMORY_MB", "100")
    result, log = run("deepfm", df, ROLES, tmp_path / "b", "auto", **params)
    assert result.summary["train_data_path"] == "memory" and any("≤ the 100 MB in-memory limit" in m for m in log)


def test_a_streamed_job_resumes_from_its_checkpoint_and_reuses_the_encoded_splits(tmp_path):
    df = planted(2000)
    params = dict(batch_size=64, hidden_units="16", embedding_dim=4, patience=10, epochs=3)
    straight, log = run("deepfm", df, ROLES, tmp_path / "straight", "stream", **params)
    assert not (tmp_path / "straight" / "work" / "encoded").exists()  # a finished job frees the disk
    assert any("removed the encoded splits" in m for m in log)
    calls = {"n": 0}

    def die_in_epoch_3():
        calls["n"] += 1
        if calls["n"] == 2 * 7 + 2 * 25 + 7:  # 2 encoding passes of 7 chunks, then 25 batches per epoch
            raise Cancelled()
    with pytest.raises(Cancelled):
        run("deepfm", df, ROLES, tmp_path / "dies", "stream", check_cancelled=die_in_epoch_3, **params)
    assert (tmp_path / "dies" / "work" / "encoded" / "manifest.json").exists()
    resumed, log = run("deepfm", df, ROLES, tmp_path / "dies", "stream", **params)
    assert resumed.summary["resumed_from"] == 2 and "resumed from epoch 2 checkpoint" in log
    assert any("reusing the encoded splits" in m for m in log)
    assert [h["epoch"] for h in resumed.curves["history"]] == [1, 2, 3]
    assert resumed.metrics["auc"] == pytest.approx(straight.metrics["auc"], abs=1e-6)
    assert resumed.metrics["logloss"] == pytest.approx(straight.metrics["logloss"], abs=1e-6)


def test_predict_table_scores_a_table_chunk_by_chunk_like_the_model_on_the_whole_frame(tmp_path):
    df = planted(900)
    encoder = FeatureEncoder.fit(df, ROLES)
    torch.manual_seed(0)
    algo = next(a for a in CTR_ALGORITHMS if a.key == "deepfm")
    from modeling.nets import DeepFM
    model = DeepFM(encoder.schema, 4, [8], 0.0, False).eval()
    table = parquet(df.drop(columns=["click"]), tmp_path / "unlabelled.parquet", row_group=250)
    assert "click" in encoder_columns(encoder) and algo.kind == "ctr"
    parts = list(predict_table(model, encoder, table, batch_rows=200))
    assert [len(p) for p in parts] == [200] * 4 + [100] and parts[0].dtype == np.float32
    with torch.no_grad():
        whole = torch.sigmoid(model(encoder.transform(df))).numpy()
    assert np.allclose(np.concatenate(parts), whole, atol=1e-6)
    assert auc(df["click"].to_numpy(), np.concatenate(parts)) != 0.5
