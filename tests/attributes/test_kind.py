"""The attributes dataset kind: registration, role inference, upload checks, the long-table adapter."""
from __future__ import annotations

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from attributes.pipeline import catalogue_from_table
from datasets.kinds import get_kind
from jobs.registry import algorithms_for_kind

LONG = (
    "sku,title,description,category,attribute,value,brand,session\n"
    "p1,Crocs Women's Clog Red,Light clog,Shoes,Color,Red,Crocs,s1\n"
    "p1,Crocs Women's Clog Red,Light clog,Shoes,Gender,Women's,Crocs,s1\n"
    "p2,Nike Air Navy,,Shoes,Color,Navy,Nike,s1\n"
    "p3,Lipton Mint Tea 20 bags,,Tea,,,Lipton,s2\n"
    "p4,Yogi Chai Tea,,Tea,,,Yogi,s2\n"
)


def upload(api, content: str, name: str = "catalogue.csv"):
    return api.post("/api/datasets/", {"file": SimpleUploadedFile(name, content.encode()), "kind": "attributes"},
                    format="multipart")


def test_kind_and_its_algorithms_are_registered():
    kind = get_kind("attributes")
    assert {"item_id", "title", "description", "category", "attribute", "value", "brand", "group"} <= set(kind.roles)
    assert {a.key for a in algorithms_for_kind("attributes")} == {"hyperpave", "text_similarity",
                                                                 "multilabel_classifier"}


@pytest.mark.django_db
def test_long_table_upload_infers_roles_by_name(api):
    response = upload(api, LONG)
    assert response.status_code == 201, response.json()
    roles = {c["name"]: c["role"] for c in response.json()["columns"]}
    assert roles == {"sku": "item_id", "title": "title", "description": "description", "category": "category",
                     "attribute": "attribute", "value": "value", "brand": "brand", "session": "group"}


@pytest.mark.django_db
@pytest.mark.parametrize("content, message", [
    ("title,attribute,value\nRed clog,Color,Red\n", "No product id column"),
    ("product_id,attribute,value\np1,Color,Red\n", "No title column"),
    ("product_id,title,attribute\np1,Red clog,Color\n", "attribute column but no value column"),
    ("product_id,title,attribute,value\n,Red clog,Color,Red\np2,Blue clog,Color,Blue\n",
     "has 1 empty cells"),
])
def test_bad_catalogues_are_refused_with_what_to_fix(api, content, message):
    response = upload(api, content)
    assert response.status_code == 400
    assert any(message in e for e in response.json()["errors"]), response.json()


@pytest.mark.django_db
def test_catalogue_without_labels_is_accepted_with_a_warning(api):
    response = upload(api, "product_id,title\np1,Red clog\np2,Navy sneaker\n")
    assert response.status_code == 201
    assert any("no product has known values" in w for w in response.json()["warnings"])


def test_long_table_adapter_reads_labels_brand_groups_and_review_decisions():
    frame = pd.read_csv(pd.io.common.StringIO(LONG), dtype=str, keep_default_na=False)
    roles = {"sku": "item_id", "title": "title", "description": "description", "category": "category",
             "attribute": "attribute", "value": "value", "brand": "brand", "session": "group"}
    accepted = pd.DataFrame([["p3", "Flavor", "Mint"]], columns=["product_id", "attribute", "value"])
    rejected = pd.DataFrame([["p1", "Gender", "Women's"]], columns=["product_id", "attribute", "value"])
    products, labels, groups = catalogue_from_table(frame, roles, accepted=accepted, rejected=rejected)
    assert list(products["product_id"]) == ["p1", "p2", "p3", "p4"]
    got = set(map(tuple, labels[["product_id", "attribute", "value"]].to_numpy()))
    assert got == {("p1", "Color", "Red"), ("p2", "Color", "Navy"), ("p1", "Brand", "Crocs"),
                   ("p2", "Brand", "Nike"), ("p3", "Brand", "Lipton"), ("p4", "Brand", "Yogi"),
                   ("p3", "Flavor", "Mint")}
    assert sorted(groups.groupby("group_id")["product_id"].apply(list).to_dict().items()) == [
        ("s1", ["p1", "p2"]), ("s2", ["p3", "p4"])]
