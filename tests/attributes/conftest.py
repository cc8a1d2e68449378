"""Tiny hand-made catalogues for the attribute-extraction tests."""
from __future__ import annotations

import itertools

import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture
def catalogue_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """24 products in two categories; every value is written in the title."""
    products, labels = [], []
    shoes = itertools.product(["Crocs", "Nike", "Clarks", "Vans"], ["Red", "Navy", "Black"])
    for i, (brand, color) in enumerate(shoes):
        pid = f"shoe-{i}"
        products.append({"product_id": pid, "title": f"{brand} Women's Sneaker, {color}, 8 M US",
                         "description": "Comfortable everyday shoe.", "category": "Shoes"})
        labels += [{"product_id": pid, "attribute": "Brand", "value": brand},
                   {"product_id": pid, "attribute": "Color", "value": color}]
    teas = itertools.product(["Twinings", "Lipton", "Yogi"], ["Mint", "Lemon", "Chai", "Earl Grey"])
    for i, (brand, flavor) in enumerate(teas):
        pid = f"tea-{i}"
        products.append({"product_id": pid, "title": f"{brand} {flavor} Tea, 20 bags",
                         "description": "", "category": "Tea"})
        labels += [{"product_id": pid, "attribute": "Brand", "value": brand},
                   {"product_id": pid, "attribute": "Flavor", "value": flavor}]
    products = pd.DataFrame(products).assign(source_split="")
    labels = pd.DataFrame(labels).assign(evidence_start=pd.NA, evidence_end=pd.NA,
                                         evidence_field="")
    return products, labels


@pytest.fixture
def catalogue(catalogue_frames):
    from attributes.hypergraph import encode_catalogue

    return encode_catalogue(*catalogue_frames)


@pytest.fixture
def listed_catalogue(catalogue_frames):
    """The same catalogue with an analyst vocabulary listing every value (no category)."""
    from attributes.hypergraph import encode_catalogue

    products, labels = catalogue_frames
    return encode_catalogue(products, labels, labels[["attribute", "value"]].drop_duplicates())


@pytest.fixture
def features(catalogue, tmp_path):
    from attributes.features import encode_node_features

    return encode_node_features(catalogue, method="tfidf", dim=64, cache_dir=tmp_path)


# --- the app: attribute datasets and jobs in the database ------------------------------------------

def oa_mine_long_table(n_products: int = 90, n_unlabelled: int = 15) -> "pd.DataFrame":
    """A real OA-Mine slice as analysts upload it: one row per product × attribute × value.

    The last ``n_unlabelled`` products keep one row with an empty attribute and value (to extract for).
    """
    from attributes.io import load_extractgpt, to_long_table

    products, labels = load_extractgpt("oa-mine", splits=("test",))
    products = products.head(n_products)
    return to_long_table(products, labels, unlabelled=products["product_id"].tail(n_unlabelled))


@pytest.fixture
def oa_mine_csv(tmp_path, shared_data):
    path = tmp_path / "oa_mine_slice.csv"
    oa_mine_long_table().to_csv(path, index=False)
    return path


@pytest.fixture
def attributes_dataset(user, oa_mine_csv):
    from datasets.services import create_dataset

    return create_dataset(owner=user, source_file=oa_mine_csv, filename="oa_mine_slice.csv",
                          name="OA-Mine slice", kind="attributes")


def run_attribute_job(user, dataset, algorithm: str = "text_similarity", **params):
    """Submit and run an attribute job in this process; return it refreshed."""
    import contextlib
    import os
    from unittest import mock

    from jobs.runner import execute_job
    from jobs.services import submit_job

    params = {"n_splits": 2, **params}
    job = submit_job(owner=user, dataset=dataset, algorithm=algorithm, params=params)
    # no heartbeat thread: its writes would wait on the test's open transaction (SQLite locks)
    with mock.patch("jobs.runner.heartbeat", lambda *args: contextlib.nullcontext()):
        execute_job(job.pk, "pytest", os.getpid())
    job.refresh_from_db()
    assert job.status == "succeeded", job.error or job.log_tail
    return job


@pytest.fixture
def extraction_job(user, attributes_dataset):
    return run_attribute_job(user, attributes_dataset)


@pytest.fixture
def stored_values(user, tmp_path):
    """A finished attribute job with hand-made values: 30 products, 2 categories, known and predicted.

    Product ``p<i>``: Brand from the labels; Color predicted with confidence ``(i + 1) / 100`` (stated in
    the title for even ``i``), plus a predicted Brand "Acme" conflicting with the label for ``p0``.
    """
    from attributes.models import ExtractedValue
    from datasets.services import create_dataset
    from jobs.models import Job

    path = tmp_path / "catalogue.csv"
    lines = ["product_id,title,category,attribute,value"]
    for i in range(30):
        lines.append(f"p{i},Brand{i % 3} shoe {'red' if i % 2 == 0 else 'comfy'},{'Shoes' if i < 20 else 'Bags'},"
                     f"Brand,Brand{i % 3}")
    path.write_text("\n".join(lines) + "\n")
    dataset = create_dataset(owner=user, source_file=path, filename="catalogue.csv", name="Hand-made",
                             kind="attributes")
    job = Job.objects.create(owner=user, dataset=dataset, kind="attributes", algorithm="text_similarity",
                             params={"n_splits": 1}, status=Job.Status.SUCCEEDED,
                             metrics={"micro_f1": 0.5, "micro_f1_std": 0.01, "hit@1": 0.4, "hit@1_std": 0.02})
    rows = []
    for i in range(30):
        title = f"Brand{i % 3} shoe {'red' if i % 2 == 0 else 'comfy'}"
        common = dict(job=job, dataset=dataset, product_id=f"p{i}", title=title,
                      category="Shoes" if i < 20 else "Bags", evidence_text=title)
        rows.append(ExtractedValue(**common, attribute="Brand", value=f"Brand{i % 3}", confidence=1.0, stated=True,
                                   evidence_field="title", evidence_start=0, evidence_end=6,
                                   status=ExtractedValue.Status.FROM_LABELS))
        stated = i % 2 == 0
        rows.append(ExtractedValue(**common, attribute="Color", value="Red", confidence=(i + 1) / 100, stated=stated,
                                   evidence_field="title" if stated else "",
                                   evidence_start=len(title) - 3 if stated else None,
                                   evidence_end=len(title) if stated else None, is_new_value=i >= 25))
    rows.append(ExtractedValue(job=job, dataset=dataset, product_id="p0", title="Brand0 shoe red",
                               category="Shoes", attribute="Brand", value="Acme", confidence=0.001))
    ExtractedValue.objects.bulk_create(rows)
    return job
