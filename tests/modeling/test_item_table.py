"""Item tables: uploading item vectors and feeding them to sequence models through ``item_table``."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from datasets.profiling import DatasetError
from datasets.services import create_dataset
from jobs import services
from jobs.runner import execute_job
from modeling.item_side import ItemEmbeddings, save_item_embeddings
from modeling.sequences import SequenceConfig, build_sequences, sequence_roles

pytestmark = pytest.mark.django_db
DIM = 6


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    """A fresh media folder per test: job ids repeat across rolled-back tests, and so would work folders."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.WORKER_HEARTBEAT_SECONDS = 3600  # an in-process job's heartbeat thread would wait on the test's DB lock


def item_vectors(n_items=200, seed=0) -> ItemEmbeddings:
    rng = np.random.default_rng(seed)
    return ItemEmbeddings(np.array([str(i) for i in range(n_items)], dtype=object),
                          rng.normal(size=(n_items, DIM)).astype(np.float32))


def upload_item_table(owner, tmp_path, name="items") -> object:
    path = save_item_embeddings(item_vectors(), tmp_path / f"{name}.parquet")
    return create_dataset(owner=owner, source_file=path, filename=path.name, name=name, kind="item_table")


@pytest.fixture
def sequence_dataset(user, tmp_path):
    rng = np.random.default_rng(1)
    n = 1500
    events = pd.DataFrame({"user_id": rng.integers(0, 30, n).astype(str), "item_id": rng.integers(0, 200, n).astype(str),
                           "timestamp": rng.integers(0, 10_000, n), "label": rng.integers(0, 2, n)})
    table = build_sequences(events, config=SequenceConfig(max_len=8, valid_events=2, test_events=3))
    path = tmp_path / "seq.csv"
    table.to_csv(path, index=False)
    return create_dataset(owner=user, source_file=path, filename=path.name, name="tiny sequences", kind="ctr",
                          role_overrides=sequence_roles(()))


def test_item_tables_upload_from_parquet_lists_and_csv_columns(user, tmp_path):
    parquet = upload_item_table(user, tmp_path)
    assert parquet.kind == "item_table" and parquet.n_rows == 200
    assert {c["name"]: c["role"] for c in parquet.columns} == {"item_id": "item_id", "embedding": "embedding"}
    csv = tmp_path / "items.csv"
    pd.DataFrame({"movieId": [1, 2, 3], "title": ["a", "b", "c"], "e0": [0.1, 0.2, 0.3], "e1": [1.0, 0.0, -1.0]}).to_csv(
        csv, index=False)
    roles = {c["name"]: c["role"] for c in create_dataset(owner=user, source_file=csv, filename="items.csv",
                                                          kind="item_table").columns}
    assert roles == {"movieId": "item_id", "title": "ignore", "e0": "embedding", "e1": "embedding"}


def test_an_item_table_without_vectors_or_with_repeated_ids_is_refused(user, tmp_path):
    csv = tmp_path / "bad.csv"
    pd.DataFrame({"item_id": [1, 2, 3], "title": ["a", "b", "c"]}).to_csv(csv, index=False)
    with pytest.raises(DatasetError, match="No vector column"):
        create_dataset(owner=user, source_file=csv, filename="bad.csv", kind="item_table")
    pd.DataFrame({"item_id": [1, 1, 3], "e0": [0.1, 0.2, 0.3]}).to_csv(csv, index=False)
    with pytest.raises(DatasetError, match="must be unique"):
        create_dataset(owner=user, source_file=csv, filename="bad.csv", kind="item_table")


QIN_PARAMS = {"epochs": 1, "batch_size": 256, "embedding_dim": 4, "num_layers": 1, "max_len": 8, "min_count": 1}


def run_job(user, dataset, algorithm="qin", **params):
    job = services.submit_job(owner=user, dataset=dataset, algorithm=algorithm, params={**QIN_PARAMS, **params})
    execute_job(job.pk, "host-a", os.getpid())
    job.refresh_from_db()
    return job


def test_qin_reads_the_item_table_named_in_its_setting(user, tmp_path, sequence_dataset):
    table = upload_item_table(user, tmp_path)
    job = run_job(user, sequence_dataset, item_table=table.pk)
    assert job.status == "succeeded", job.error
    assert job.summary["multimodal_dim"] == DIM and job.summary["item_table_coverage"] == 1.0
    assert f"item table #{table.pk}: 200 items × {DIM}" in job.log_tail
    plain = run_job(user, sequence_dataset)
    assert plain.status == "succeeded" and "multimodal_dim" not in plain.summary
    assert job.summary["params_count"] > plain.summary["params_count"]  # the projection of the vectors


def test_an_item_table_the_owner_cannot_see_or_without_vectors_is_refused(user, other_user, tmp_path, sequence_dataset):
    theirs = upload_item_table(other_user, tmp_path, name="theirs")
    job = run_job(user, sequence_dataset, item_table=theirs.pk)
    assert job.status == "failed" and f"no dataset #{theirs.pk} that you can see" in job.error
    job = run_job(user, sequence_dataset, item_table=sequence_dataset.pk)
    assert job.status == "failed" and "is not an item table" in job.error


def test_suan_takes_the_item_table_too(user, tmp_path, sequence_dataset):
    table = upload_item_table(user, tmp_path)
    job = services.submit_job(owner=user, dataset=sequence_dataset, algorithm="suan",
                              params={"epochs": 1, "max_len": 8, "embedding_dim": 4, "n_layers": 1, "n_heads": 1,
                                      "hidden_units": "8", "item_table": table.pk, "min_count": 1})
    execute_job(job.pk, "host-a", os.getpid())
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.summary["multimodal_dim"] == DIM and job.summary["item_side"] is True


@pytest.mark.slow
def test_build_command_registers_the_item_embeddings_as_an_item_table(tmp_path, shared_data):
    from django.core.management import call_command
    from io import StringIO

    from datasets.models import Dataset

    if not (shared_data / "taobao_userbehavior_sample").is_dir():
        pytest.skip("no Taobao sample in the shared data folder")
    out = StringIO()
    call_command("build_sequence_dataset", "taobao", "--output", str(tmp_path / "t.parquet"), "--item-embeddings",
                 str(tmp_path / "items.parquet"), "--embedding-method", "tfidf", "--register", stdout=out)
    table = Dataset.objects.get(kind="item_table")
    assert f"item_table={table.pk}" in out.getvalue() and table.name.startswith("taobao sequences: item vectors")
    assert {c["name"]: c["role"] for c in table.columns} == {"item_id": "item_id", "embedding": "embedding"}
    assert Dataset.objects.filter(kind="ctr", name="taobao sequences").exists()


def test_the_item_table_page_and_the_api_show_its_roles(client, api, user, tmp_path):
    from django.urls import reverse

    table = upload_item_table(user, tmp_path)
    client.force_login(user)
    page = client.get(reverse("datasets:detail", args=[table.pk]))
    assert page.status_code == 200 and "embedding" in page.content.decode()
    data = api.get(f"/api/datasets/{table.pk}/").json()
    assert data["kind"] == "item_table"
