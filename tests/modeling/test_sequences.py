"""Sequence dataset builder (no leakage, truncation, splits by time, public-log loaders) and the
item side table (content embeddings joined by item id)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import torch

from mlcore.api import DataError
from modeling.item_side import (ItemEmbeddings, compute_item_embeddings, join_item_embeddings, load_item_embeddings,
                                save_item_embeddings)
from modeling.features import EncoderConfig, FeatureEncoder
from modeling.sequences import (SequenceConfig, build_sequences, load_movielens, load_taobao, primary_genre,
                                sequence_roles, write_sequences)


def log():
    """Two users; u has two events in the same second (t=20)."""
    return pd.DataFrame({"user_id": ["u", "u", "u", "u", "u", "v", "v"],
                         "item_id": ["a", "b", "c", "d", "e", "a", "f"],
                         "timestamp": [10, 20, 20, 30, 40, 5, 6],
                         "label": [1, 0, 1, 1, 0, 0, 1],
                         "genre": ["x", "y", "x", "z", "y", "x", "w"]})


def random_log(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user_id": rng.integers(0, 40, n).astype(str), "item_id": rng.integers(0, 200, n).astype(str),
                         "timestamp": rng.integers(0, 500, n), "label": rng.integers(0, 2, n)})


def test_history_holds_only_strictly_earlier_events_of_the_same_user():
    out = build_sequences(log().sample(frac=1, random_state=3), fields=["genre"], config=SequenceConfig(max_len=10))
    rows = {(r.user_id, r.item_id): r for r in out.itertuples()}
    assert rows["u", "a"].hist_item_id == ""
    assert rows["u", "b"].hist_item_id == "a" and rows["u", "c"].hist_item_id == "a"  # same-second events excluded
    assert rows["u", "d"].hist_item_id == "a|b|c" and rows["u", "d"].hist_genre == "x|y|x"
    assert rows["u", "d"].hist_time == "10|20|20"
    assert rows["v", "f"].hist_item_id == "a"


def test_no_history_ever_contains_the_target_or_a_later_event():
    events = random_log()
    out = build_sequences(events, config=SequenceConfig(max_len=1000), as_lists=True)
    times = out["hist_time"].explode().dropna().astype(int)
    target = out.loc[times.index, "timestamp"].to_numpy()
    assert (times.to_numpy() < target).all()
    # Every strictly earlier event of the user is there (no truncation at max_len=1000).
    earlier = events.merge(events, on="user_id", suffixes=("", "_h"))
    expected = (earlier["timestamp_h"] < earlier["timestamp"]).groupby([earlier["user_id"], earlier["item_id"],
                                                                        earlier["timestamp"]]).sum()
    got = out.groupby(["user_id", "item_id", "timestamp"])["hist_len"].first()
    assert (got.sort_index() == expected.sort_index().to_numpy()).all()


def test_histories_keep_the_most_recent_max_len_events_oldest_first():
    out = build_sequences(log(), config=SequenceConfig(max_len=2))
    last = out[(out.user_id == "u") & (out.item_id == "e")].iloc[0]
    assert last.hist_item_id == "c|d" and last.hist_time == "20|30" and last.hist_len == 2


def test_feedback_holds_the_label_of_each_past_event_and_can_be_left_out():
    out = build_sequences(log().sample(frac=1, random_state=1), config=SequenceConfig(max_len=10))
    rows = {(r.user_id, r.item_id): r for r in out.itertuples()}
    assert rows["u", "d"].hist_item_id == "a|b|c" and rows["u", "d"].hist_label == "1|0|1"
    assert rows["u", "e"].hist_label == "1|0|1|1" and rows["u", "a"].hist_label == ""
    assert (out["hist_label"].str.count("[|]") == out["hist_item_id"].str.count("[|]")).all()
    assert "hist_label" not in build_sequences(log(), config=SequenceConfig(feedback=False)).columns
    assert "hist_label" not in sequence_roles(["genre"], feedback=False) and sequence_roles(["genre"])["hist_label"] == "sequence"


def test_event_fields_are_carried_in_histories_only_and_must_be_behaviour_names():
    events = log().assign(action=["pv", "cart", "buy", "pv", "fav", "pv", "buy"])
    out = build_sequences(events, event_fields=["action"], config=SequenceConfig(max_len=10))
    row = out[(out.user_id == "u") & (out.item_id == "d")].iloc[0]
    assert row.hist_item_id == "a|b|c" and row.hist_action == "pv|cart|buy" and "action" not in out.columns
    assert sequence_roles([], event_fields=["action"])["hist_action"] == "sequence"
    with pytest.raises(DataError, match="must be named one of"):
        build_sequences(events.rename(columns={"action": "kind"}), event_fields=["kind"])


def test_positive_only_histories_skip_negative_events():
    out = build_sequences(log(), config=SequenceConfig(max_len=10, positive_history=True))
    assert out[(out.user_id == "u") & (out.item_id == "e")].iloc[0].hist_item_id == "a|c|d"


def test_encoder_pads_built_histories_on_the_left():
    out = build_sequences(log(), fields=["genre"], config=SequenceConfig(max_len=3))
    enc = FeatureEncoder.fit(out, sequence_roles(["genre"]), EncoderConfig(min_count=1, max_len=3))
    table = enc.transform(out)
    row = int(np.flatnonzero((out.user_id == "u") & (out.item_id == "b"))[0])
    assert table["hist_mask"][row].tolist() == [False, False, True]
    assert table["hist_time"][row, 2] < table["target_time"][row]


@pytest.mark.parametrize("column, bad", [("hist_genre", "x|y"), ("hist_time", "10|20")])
def test_misaligned_parallel_sequences_are_refused_naming_columns_and_row(column, bad):
    out = build_sequences(log(), fields=["genre"], config=SequenceConfig(max_len=10))
    enc = FeatureEncoder.fit(out, sequence_roles(["genre"]), EncoderConfig(min_count=1, max_len=10))
    row = int(np.flatnonzero((out.user_id == "u") & (out.item_id == "e"))[0])  # history a|b|c|d
    broken = out.copy()
    broken.loc[broken.index[row], column] = bad
    with pytest.raises(DataError, match=rf"`hist_item_id` and `{column}` are not aligned: row {row} .* 4 values "
                                        rf"in `hist_item_id` but 2 in `{column}`"):
        enc.transform(broken)
    enc.transform(out)  # the built table itself is aligned


def test_last_events_per_user_are_held_out():
    out = build_sequences(log(), config=SequenceConfig(valid_events=1, test_events=2))
    u = out[out.user_id == "u"].sort_values("timestamp")
    assert u["split"].tolist() == ["train", "train", "valid", "test", "test"]
    assert out[out.user_id == "v"]["split"].tolist() == ["test", "test"]  # a short user may be all held out


def test_global_time_cut_puts_the_newest_events_in_test():
    out = build_sequences(random_log(), config=SequenceConfig(split="time", valid_frac=0.1, test_frac=0.2))
    parts = {s: out.loc[out.split == s, "timestamp"] for s in ("train", "valid", "test")}
    assert parts["train"].max() < parts["valid"].min() and parts["valid"].max() < parts["test"].min()
    assert 0.15 < (out.split == "test").mean() < 0.25


def test_missing_item_fields_keep_histories_aligned_with_items():
    events = log().assign(genre=["x", None, "", "z", "y", "x", "w"])
    out = build_sequences(events, fields=["genre"])
    row = out[(out.user_id == "u") & (out.item_id == "e")].iloc[0]
    assert row.hist_item_id == "a|b|c|d" and row.hist_genre == "x|(none)|(none)|z"


def test_bad_logs_raise_data_errors():
    with pytest.raises(DataError, match="0/1"):
        build_sequences(log().assign(label=2))
    with pytest.raises(DataError, match="not in the event log"):
        build_sequences(log(), fields=["colour"])
    with pytest.raises(DataError, match="separator"):
        build_sequences(log().assign(item_id="a|b"))


def test_parquet_and_csv_outputs_encode_the_same(tmp_path):
    events = log()
    csv = pd.read_csv(write_sequences(build_sequences(events, fields=["genre"]), tmp_path / "s.csv"), dtype=str,
                      keep_default_na=False)
    parquet = pd.read_parquet(write_sequences(build_sequences(events, fields=["genre"], as_lists=True), tmp_path / "s.parquet"))
    enc = FeatureEncoder.fit(csv, sequence_roles(["genre"]), EncoderConfig(min_count=1))
    a, b = enc.transform(csv), enc.transform(parquet)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_primary_genre_is_the_rarest_listed_genre():
    genres = pd.Series(["Comedy|Animation", "Comedy", "Comedy|Drama", "Drama|Comedy", "(no genres listed)"])
    assert primary_genre(genres).tolist() == ["Animation", "Comedy", "Drama", "Drama", ""]


def tiny_embeddings():
    return ItemEmbeddings(np.array(["a", "b", "c"], dtype=object), np.arange(6, dtype=np.float32).reshape(3, 2) + 1)


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_item_tables_round_trip(tmp_path, suffix):
    table = tiny_embeddings()
    loaded = load_item_embeddings(save_item_embeddings(table, tmp_path / f"items{suffix}"))
    assert loaded.ids.tolist() == ["a", "b", "c"] and np.array_equal(loaded.vectors, table.vectors)


def test_embeddings_join_by_item_id_with_zeros_for_unknown_items_and_padding():
    frame = pd.DataFrame({"item_id": ["c", "zzz"], "hist_item_id": ["a|zzz|b|c", ""]})
    joined = join_item_embeddings(frame, tiny_embeddings(), item_column="item_id", history_column="hist_item_id", max_len=3)
    assert joined["item_emb"].tolist() == [[5.0, 6.0], [0.0, 0.0]]
    assert joined["hist_item_emb"].shape == (2, 3, 2)
    assert joined["hist_item_emb"][0].tolist() == [[0.0, 0.0], [3.0, 4.0], [5.0, 6.0]]  # the newest 3: zzz, b, c
    assert not joined["hist_item_emb"][1].any()


def test_content_embeddings_have_one_unit_row_per_item(tmp_path):
    items = pd.DataFrame({"item_id": [1, 2, 3], "text": ["Toy Story. Animation", "Heat. Crime, Thriller", ""]})
    table = compute_item_embeddings(items, method="tfidf", dim=8, cache_dir=tmp_path)
    assert table.vectors.shape == (3, 8) and table.ids.tolist() == ["1", "2", "3"]
    assert np.allclose(np.linalg.norm(table.vectors[:2], axis=1), 1) and not table.vectors[2].any()
    with pytest.raises(DataError, match="unique"):
        compute_item_embeddings(pd.concat([items, items]), method="tfidf", dim=8)


def test_a_malformed_uploaded_item_table_is_refused(tmp_path):
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"item": ["a"], "vec": [[1.0]]}).to_parquet(path)
    with pytest.raises(DataError, match="needs columns"):
        load_item_embeddings(path)


@pytest.mark.slow
def test_public_logs_load_and_build(shared_data):
    movielens = load_movielens(shared_data / "movielens_latest_small")
    assert len(movielens.events) == 100_836 and 0.4 < movielens.events.label.mean() < 0.6
    assert movielens.items["text"].str.contains("Toy Story").any()
    out = build_sequences(movielens.events, fields=movielens.fields, config=SequenceConfig(max_len=20))
    assert out["hist_len"].max() == 20 and (out.split == "test").sum() == movielens.events.user_id.nunique()
    taobao = load_taobao(shared_data / "taobao_userbehavior_sample" / "UserBehavior_sample.csv")
    assert taobao.events.label.sum() == 77 + 190 + 128


@pytest.mark.django_db
def test_command_builds_a_table_from_a_csv_log_and_registers_a_ctr_dataset(tmp_path):
    from django.core.management import call_command

    from datasets.models import Dataset

    events = log().rename(columns={"user_id": "uid", "timestamp": "ts", "label": "clicked"})
    events.to_csv(tmp_path / "events.csv", index=False)
    out = tmp_path / "seq.csv"
    call_command("build_sequence_dataset", str(tmp_path / "events.csv"), "--output", str(out), "--user", "uid",
                 "--time", "ts", "--label", "clicked", "--fields", "genre", "--max-len", "3", "--register",
                 "--name", "tiny sequences")
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 7 and table["hist_item_id"].str.count(r"\|").max() <= 2
    dataset = Dataset.objects.get(name="tiny sequences")
    roles = {c["name"]: c["role"] for c in dataset.columns}
    assert roles["hist_item_id"] == roles["hist_genre"] == roles["hist_time"] == "sequence"
    assert roles["split"] == "split" and roles["label"] == "label" and roles["timestamp"] == "timestamp"


@pytest.mark.slow
@pytest.mark.django_db
def test_command_builds_and_registers_the_taobao_sample_as_parquet(tmp_path, shared_data):
    from django.core.management import call_command

    from datasets.models import Dataset

    out = tmp_path / "taobao.parquet"
    call_command("build_sequence_dataset", "taobao", "--output", str(out), "--split", "time", "--register")
    table = pd.read_parquet(out)
    assert len(table) == 4321 and set(table["split"]) == {"train", "valid", "test"}
    dataset = Dataset.objects.get(name="taobao sequences")
    roles = {c["name"]: c["role"] for c in dataset.columns}
    assert roles["hist_category"] == roles["hist_action"] == roles["hist_label"] == "sequence"
    assert "action" not in table.columns  # the target's action is its label: never a feature
    assert set(table["hist_action"].explode().dropna()) <= {"pv", "fav", "cart", "buy"}
