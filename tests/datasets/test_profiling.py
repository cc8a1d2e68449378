"""Schema inference and validation of uploaded tables (no database needed)."""
from __future__ import annotations

import gzip

import pandas as pd
import pytest

from datasets.profiling import DatasetError, profile_file
from modeling.kinds import check_ctr


def write(tmp_path, name: str, content: bytes | str):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def roles(profile):
    return {c["name"]: c["role"] for c in profile.columns}


def test_infers_roles_from_names_and_values(tmp_path):
    rows = ["user_id,item_id,click,price,site,ts,hist"]
    for i in range(300):
        rows.append(f"u{i % 20},i{i % 7},{i % 2},{i * 1.5},{'ab'[i % 2]},{1600000000 + i},a|b|c")
    profile = profile_file(write(tmp_path, "t.csv", "\n".join(rows) + "\n"))
    assert profile.n_rows == 300 and profile.delimiter == ","
    assert roles(profile) == {"user_id": "user_id", "item_id": "item_id", "click": "label", "price": "numeric",
                              "site": "categorical", "ts": "timestamp", "hist": "sequence"}


def test_statistics_count_missing_and_distinct(tmp_path):
    path = write(tmp_path, "t.csv", "label,a,b\n1,x,\n0,y,2\n1,x,3\n0,,4\n")
    cols = {c["name"]: c for c in profile_file(path).columns}
    assert cols["a"]["missing"] == 1 and cols["a"]["missing_pct"] == 25.0 and cols["a"]["distinct"] == 2
    assert cols["b"]["dtype"] == "int" and cols["b"]["min"] == 2 and cols["b"]["max"] == 4
    assert cols["label"]["values"] == {"1": 2, "0": 2}


def test_semicolon_file_is_detected(tmp_path):
    path = write(tmp_path, "t.csv", "label;a;b\n1;x;1\n0;y;2\n")
    profile = profile_file(path)
    assert profile.delimiter == ";" and [c["name"] for c in profile.columns] == ["label", "a", "b"]


def test_wrong_delimiter_is_explained(tmp_path):
    path = write(tmp_path, "t.csv", "label;a;b\n1;x;1\n0;y;2\n")
    with pytest.raises(DatasetError, match="semicolon-separated"):
        profile_file(path, delimiter=",")


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"label,a\n", "no data rows"),
    (b"PK\x03\x04rest-of-a-zip", "Excel"),
    (b"\x00\x01\x02binary", "binary"),
    (b'{"a": 1}', "JSON"),
    ("label,a\n1,caf\xe9\n".encode("latin-1"), "not UTF-8"),
    (b"label,a,a\n1,2,3\n", "Duplicate column names: 'a'"),
    (b"label,a,b\n1,2,3\n0,1,2,3,4\n", "line 3 has 5 fields but the header has 3"),
    (b"only_one_column\n1\n2\n", "single column"),
])
def test_malformed_files_get_clear_messages(tmp_path, content, message):
    with pytest.raises(DatasetError) as err:
        profile_file(write(tmp_path, "bad.csv", content))
    assert message in str(err.value)


def test_gzip_and_parquet_are_read(tmp_path):
    frame = pd.DataFrame({"label": [0, 1] * 50, "f": list(range(100))})
    gz = tmp_path / "t.csv.gz"
    with gzip.open(gz, "wt") as fh:
        frame.to_csv(fh, index=False)
    pq_path = tmp_path / "t.parquet"
    frame.set_index("f", drop=False).to_parquet(pq_path)  # a stored pandas index must not become a column
    for path, fmt in ((gz, "csv.gz"), (pq_path, "parquet")):
        profile = profile_file(path)
        assert profile.file_format == fmt and profile.n_rows == 100
        assert [c["name"] for c in profile.columns] == ["label", "f"]


def test_parquet_list_column_is_a_sequence(tmp_path):
    frame = pd.DataFrame({"label": [0, 1, 0], "hist_item_id": [[1, 2], [3], []], "item_id": [4, 5, 6]})
    path = tmp_path / "seq.parquet"
    frame.to_parquet(path)
    assert roles(profile_file(path))["hist_item_id"] == "sequence"


def test_chunked_reading_gives_same_statistics(tmp_path, monkeypatch):
    import datasets.ingest as ingest

    frame = pd.DataFrame({"label": [0, 1, 1, 0] * 250, "cat": [f"c{i % 13}" for i in range(1000)]})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    whole = profile_file(path).columns
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 512)
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", 37)
    assert profile_file(path).columns == whole


@pytest.mark.parametrize("values, message", [
    ({"0": 5, "1": 3, "2": 1}, "has values {0, 1, 2}; a CTR label must be binary"),
    ({"0": 9}, "only holds the value 0"),
    (None, "more than 20 distinct values"),
])
def test_ctr_label_must_be_binary(values, message):
    columns = [{"name": "clicked", "role": "label", "values": values, "missing": 0, "distinct": 3, "dtype": "int"},
               {"name": "f", "role": "categorical", "values": None, "missing": 0, "distinct": 3, "dtype": "string"}]
    errors, _ = check_ctr(columns, 9)
    assert any(message in e for e in errors), errors


def test_ctr_needs_a_label_and_a_feature():
    errors, _ = check_ctr([{"name": "x", "role": "ignore", "values": None, "missing": 0, "distinct": 1, "dtype": "int"}], 10)
    assert any("No label column" in e for e in errors) and any("No feature columns" in e for e in errors)


# ---------------------------------------------------------------------------------------------
# Sequence columns (issue 3): delimited ids, list columns, user and item ids


@pytest.mark.parametrize("sep", ["^", "|", ","])
def test_delimited_id_columns_are_sequences(tmp_path, sep):
    frame = pd.DataFrame({
        "clk": [i % 2 for i in range(60)],
        "userid": [i % 7 for i in range(60)],
        "adgroup_id": [100 + i % 11 for i in range(60)],
        "click_sequence": [sep.join(str(100 + j) for j in range(i % 4 + 1)) if i % 3 else None for i in range(60)],
        "recent": [sep.join(str(j) for j in range(i % 3 + 1)) for i in range(60)],
    })
    path = tmp_path / "seq.csv"
    frame.to_csv(path, index=False)
    profile = profile_file(path)
    assert roles(profile) == {"clk": "label", "userid": "user_id", "adgroup_id": "item_id",
                              "click_sequence": "sequence", "recent": "sequence"}
    stats = {c["name"]: c for c in profile.columns}["click_sequence"]["sequence"]
    assert stats["sep"] == sep and stats["parse_share"] == 1.0
    assert check_ctr(profile.columns, profile.n_rows) == ([], [])


def test_a_few_multi_id_values_need_a_sequence_name(tmp_path):
    # 10% of values hold "^": a column named like a history is a sequence, another one is not
    frame = pd.DataFrame({"label": [0, 1] * 50,
                          "hist_items": [f"{i}^{i + 1}" if i % 10 == 0 else str(i) for i in range(100)],
                          "codes": [f"{i}^{i + 1}" if i % 10 == 0 else str(i) for i in range(100)]})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    r = roles(profile_file(path))
    assert r["hist_items"] == "sequence" and r["codes"] != "sequence"


def test_free_text_with_commas_is_not_a_sequence(tmp_path):
    frame = pd.DataFrame({"label": [0, 1] * 50, "city": ["Paris, France", "Lyon, France", "Rome, Italy", "Oslo"] * 25,
                          "tags": ["a b", "c"] * 50})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    r = roles(profile_file(path))
    assert r["city"] == "categorical" and r["tags"] == "categorical"


def test_taobao_fixture_roles(shared_data):
    path = shared_data / "ctr_tiny_fixtures" / "fuxictr_taobao_tiny" / "train_sample.csv"
    if not path.exists():
        pytest.skip("shared Taobao fixture not available")
    profile = profile_file(path)
    r = roles(profile)
    assert (r["clk"], r["userid"], r["adgroup_id"], r["click_sequence"]) == ("label", "user_id", "item_id", "sequence")
    assert r["time_stamp"] == "timestamp" and r["pid"] == "categorical"
    assert check_ctr(profile.columns, profile.n_rows)[0] == []


@pytest.mark.parametrize("values, message", [
    (["a great product, fast delivery and a friendly seller who answered all my questions", "ok"], "not lists of ids"),
    (["|", "1|2"] * 5, "not lists of ids"),
])
def test_unreadable_sequence_column_is_refused(tmp_path, values, message):
    frame = pd.DataFrame({"label": [0, 1] * (len(values) // 2), "item_id": range(len(values)), "s": values})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    columns = [dict(c, role="sequence") if c["name"] == "s" else c for c in profile_file(path).columns]
    errors, _ = check_ctr(columns, len(values))
    assert any(message in e and "`s`" in e for e in errors), errors


def test_decimal_column_cannot_be_a_sequence(tmp_path):
    path = write(tmp_path, "t.csv", "label,x\n0,1.5\n1,2.5\n")
    columns = [dict(c, role="sequence") if c["name"] == "x" else c for c in profile_file(path).columns]
    assert any("decimal numbers, so it cannot be a sequence" in e for e in check_ctr(columns, 2)[0])


def test_a_sequence_without_an_item_column_is_flagged():
    columns = [{"name": "clk", "role": "label", "dtype": "int", "missing": 0, "distinct": 2, "values": {"0": 5, "1": 5}},
               {"name": "ad", "role": "categorical", "dtype": "int", "missing": 0, "distinct": 4, "values": None},
               {"name": "click_sequence", "role": "sequence", "dtype": "string", "missing": 0, "distinct": 9,
                "values": None, "sequence": {"sep": "^", "multi_share": 0.5, "id_share": 1.0, "parse_share": 1.0,
                                             "bad_example": None}}]
    errors, warnings = check_ctr(columns, 10)
    assert errors == [] and any("`click_sequence` has no target item column" in w for w in warnings)
    columns[1]["role"] = "item_id"
    assert check_ctr(columns, 10) == ([], [])
    columns[1].update(role="categorical", name="ad_id")
    columns[2]["name"] = "hist_ad_id"  # named after a categorical column: paired by name
    assert check_ctr(columns, 10) == ([], [])
