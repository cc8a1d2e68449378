"""Readers: hand-made files in every format, and the real files' row counts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from attributes import io
from mlcore.paths import shared_data_dir

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(not (DATA / "extractgpt_avs").exists(),
                                reason="shared data folder not available")


def test_label_table_accepts_aliases_and_drops_not_applicable(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,attribute_name,attribute_value\n1,Color,Red\n1,Size,n/a\n2,Color,\n")
    labels = io.read_labels_table(path)
    assert labels[["product_id", "attribute", "value"]].values.tolist() == [["1", "Color", "Red"]]
    assert list(labels.columns) == list(io.LABEL_COLUMNS)


def test_product_table_without_title_is_rejected(tmp_path):
    path = tmp_path / "products.jsonl"
    path.write_text(json.dumps({"id": "1", "category": "Tea"}) + "\n")
    with pytest.raises(io.DataError, match="title"):
        io.read_products_table(path)


def test_mave_lines_merge_into_one_product_with_description_offsets(tmp_path):
    paragraphs = [{"text": "Acme Red Kettle", "source": "title"},
                  {"text": "Holds 2 litres.", "source": "feature"},
                  {"text": "Steel body.", "source": "description"}]
    lines = [
        {"id": "a", "category": "Kitchen", "paragraphs": paragraphs,
         "attributes": [{"key": "Color", "evidences": [{"value": "Red", "pid": 0,
                                                        "begin": 5, "end": 8}]}]},
        {"id": "b", "category": "Kitchen", "paragraphs": paragraphs,
         "attributes": [{"key": "Material", "evidences": [{"value": "Steel", "pid": 2,
                                                           "begin": 0, "end": 5}]},
                        {"key": "Brand", "evidences": []}]},
    ]
    path = tmp_path / "mave_positives.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    products, labels = io.read_mave_jsonl([path])
    assert len(products) == 1 and products["product_id"][0] == "a"
    description = products["description"][0]
    assert description == "Holds 2 litres.\nSteel body."
    material = labels[labels["attribute"] == "Material"].iloc[0]
    assert material["evidence_field"] == "description"
    assert description[material["evidence_start"]:material["evidence_end"]] == "Steel"
    assert set(labels["attribute"]) == {"Color", "Material"}


@needs_data
@pytest.mark.parametrize("name, products, attributes", [("oa-mine", 1452 + 491, 51),
                                                        ("ae-110k", 1568 + 524, 50)])
def test_extractgpt_loaders_read_every_record(name, products, attributes):
    frame, labels = io.load_extractgpt(name)
    assert len(frame) == products and frame["product_id"].is_unique
    assert labels["attribute"].nunique() == attributes
    assert set(labels["product_id"]) <= set(frame["product_id"])
    assert not labels["value"].str.lower().eq("n/a").any()


@needs_data
def test_wdc_pave_mave_offsets_point_at_the_values():
    products, labels = io.load_wdc_pave()
    assert len(products) == 1420
    assert len(labels) == 9256
    merged = labels.merge(products, on="product_id")
    text = np.where(merged["evidence_field"] == "title", merged["title"], merged["description"])
    spans = [t[s:e] for t, s, e in zip(text, merged["evidence_start"], merged["evidence_end"])]
    assert np.mean(np.array(spans) == merged["value"].to_numpy()) > 0.99


@needs_data
def test_implicitave_loader_reads_every_row():
    products, labels = io.load_implicitave()
    assert len(products) == 54881 + 13723 + 1610
    assert len(labels) == len(products)
    assert not products["title"].str.startswith("[Title]").any()
