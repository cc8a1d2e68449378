"""Streamed ingest: the Parquet copy and the profile in one pass, type drift, hostile files as clear 4xx,
profiling on a worker for big uploads, and roles that need the analyst's confirmation."""
from __future__ import annotations

import gzip
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from datasets import ingest
from datasets.models import Dataset
from datasets.profiling import DatasetError
from datasets.services import columnar_table, complete_profiling, create_dataset, load_frame
from tests.conftest import wait_for

GOOD = b"click,site,price\n" + b"".join(f"{i % 2},s{i % 5},{i * 0.5}\n".encode() for i in range(200))


def upload(api, content: bytes, name: str = "f.csv", **extra):
    return api.post("/api/datasets/", {"file": SimpleUploadedFile(name, content), **extra}, format="multipart")


# --- the engine (no database) ------------------------------------------------------------------


def test_copy_and_profile_come_from_one_pass_with_bounded_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", 1000)
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 4096)
    frame = pd.DataFrame({"label": [i % 2 for i in range(5000)], "cat": [f"c{i % 7}" for i in range(5000)],
                          "num": [None if i % 10 == 0 else i * 0.25 for i in range(5000)]})
    src, out = tmp_path / "t.csv", tmp_path / "copy.parquet"
    frame.to_csv(src, index=False)
    seen = []
    profile = ingest.ingest_file(src, out, progress=seen.append)
    pf = pq.ParquetFile(out)
    assert pf.metadata.num_rows == 5000 and max(pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)) <= 1000
    assert pf.schema_arrow.field("label").type == pa.int64() and pf.schema_arrow.field("cat").type == pa.string()
    back = pf.read().to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    cols = {c["name"]: c for c in profile.columns}
    assert profile.n_rows == 5000 and cols["num"]["missing"] == 500 and cols["cat"]["distinct"] == 7
    assert cols["num"]["max"] == 4999 * 0.25 and cols["label"]["values"] == {"0": 2500, "1": 2500}
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] < 1  # progress per block, rising


def test_type_drift_after_the_sample_promotes_instead_of_failing(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "TYPE_SAMPLE_BYTES", 1024)
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 2048)
    rows = ["label,n,later_text,empty_first"] + [f"{i % 2},{i},{i}," for i in range(3000)]
    rows += ["1,2.5,abc,7", "0,3,x9,8.5"]
    src, out = tmp_path / "drift.csv", tmp_path / "copy.parquet"
    src.write_text("\n".join(rows) + "\n")
    profile = ingest.ingest_file(src, out)
    schema = pq.read_schema(out)
    assert schema.field("n").type == pa.float64() and schema.field("later_text").type == pa.string()
    assert schema.field("empty_first").type == pa.float64()
    cols = {c["name"]: c for c in profile.columns}
    assert profile.n_rows == 3002 and cols["n"]["dtype"] == "float" and cols["later_text"]["dtype"] == "string"
    assert cols["empty_first"]["missing"] == 3000 and cols["n"]["max"] == 2999


def test_parquet_upload_that_is_already_good_is_its_own_copy(tmp_path):
    src = tmp_path / "t.parquet"
    pd.DataFrame({"label": [0, 1] * 50, "f": range(100)}).to_parquet(src)
    profile = ingest.ingest_file(src, tmp_path / "copy.parquet")
    assert profile.copied is False and not (tmp_path / "copy.parquet").exists()
    dictionary = tmp_path / "d.parquet"
    pq.write_table(pa.table({"label": [0, 1], "c": pa.array(["a", "b"]).dictionary_encode()}), dictionary)
    assert ingest.ingest_file(dictionary, tmp_path / "copy2.parquet").copied
    assert pq.read_schema(tmp_path / "copy2.parquet").field("c").type == pa.string()


@pytest.mark.parametrize("content, message", [
    (b"label,a,b\n1,2,3\n0,1\n1,2,3\n", "line 3 has 2 fields but the header has 3"),  # short row
    (b"label,a,b\n1,2,3\n0,1,2,3,4\n", "line 3 has 5 fields but the header has 3"),  # long row
    (b'label,"a\nb",c\n1,2,3\n', "contains a line break"),
    (b'label,a\n1,"abc\n0,2\n1,3\n', "quote that is never closed"),
    (b"x" * (200 * 1024), "no line breaks"),
])
def test_malformed_csv_names_the_real_cause(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as err:
        ingest.ingest_file(path, tmp_path / "copy.parquet")
    assert message in str(err.value)
    assert not (tmp_path / "copy.parquet").exists() and not list(tmp_path.glob("*.tmp"))


def test_gzip_bomb_stops_at_the_decompressed_limit(tmp_path):
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * (4 * 1024 * 1024)))  # 16 MB of text, ~20 KB on disk
    with pytest.raises(DatasetError, match="expands to more than 1 MB"):
        ingest.ingest_file(bomb, None, max_decompressed_bytes=1024 * 1024)


def test_parquet_binary_column_is_refused_unless_it_is_text(tmp_path):
    bad = tmp_path / "bin.parquet"
    pq.write_table(pa.table({"label": [0, 1], "raw": pa.array([b"\xff\xfe", b"ok"], pa.binary())}), bad)
    with pytest.raises(DatasetError, match="binary data .*not UTF-8"):
        ingest.ingest_file(bad, None)
    fine = tmp_path / "text.parquet"
    pq.write_table(pa.table({"label": [0, 1], "raw": pa.array([b"a", b"b"], pa.binary())}), fine)
    assert {c["name"]: c["dtype"] for c in ingest.ingest_file(fine, None).columns}["raw"] == "string"


# --- hostile uploads through the API: clear 4xx, nothing kept -----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name, content, message", [
    ("short.csv", b"click,a,b\n1,2,3\n0,1\n", "line 3 has 2 fields"),
    ("nl.csv", b'click,"a\nb"\n1,2\n0,3\n', "line break"),
    ("quote.csv", b'click,a\n1,"abc\n0,2\n', "never closed"),
    ("one_line.csv", b"click" + b",x" * 60_000, "no line breaks"),
])
def test_hostile_csv_uploads_are_400_with_the_cause(api, name, content, message):
    response = upload(api, content, name)
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["errors"])
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_hostile_parquet_and_gzip_uploads_are_400(api):
    buf = io.BytesIO()
    pq.write_table(pa.table({"click": [0, 1], "raw": pa.array([b"\xff", b"\xfe"], pa.binary())}), buf)
    assert upload(api, buf.getvalue(), "bin.parquet").status_code == 400
    bomb = gzip.compress(b"click,a\n" + b"1,2\n" * (1024 * 1024))
    with override_settings(DATASET_MAX_DECOMPRESSED_BYTES=1024 * 1024):
        response = upload(api, bomb, "bomb.csv.gz")
    assert response.status_code == 400 and "DATASET_MAX_DECOMPRESSED_MB" in response.json()["errors"][0]


# --- profiling on a worker ---------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(DATASET_INLINE_PROFILE_BYTES=100)
def test_big_upload_is_stored_as_profiling_and_a_task_finishes_it(api, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("datasets.tasks.profile_dataset.apply_async", lambda args, queue: queued.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, GOOD, "big.csv")
    assert response.status_code == 202 and response["Location"].endswith(f"/api/datasets/{response.json()['id']}/")
    dataset = Dataset.objects.get()
    assert dataset.status == "profiling" and dataset.columns == [] and queued == [([dataset.pk], "cpu")]
    assert api.get(response["Location"]).json()["status"] == "profiling"
    complete_profiling(dataset.pk)  # what the worker's task runs
    dataset.refresh_from_db()
    assert dataset.status == "ready" and dataset.n_rows == 200 and dataset.progress == 1.0
    assert columnar_table(dataset).n_rows == 200 and dataset.columnar_path.endswith("columnar.parquet")
    assert complete_profiling(dataset.pk) is None  # a redelivered task does nothing


@pytest.mark.django_db
def test_worker_keeps_the_errors_of_an_invalid_big_upload(user):
    dataset = create_dataset(owner=user, source_file=io.BytesIO(b"click,a\n1,2\n0\n"), filename="bad.csv", inline=False)
    assert dataset.status == "profiling"
    complete_profiling(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == "invalid" and "line 3 has 1 fields" in dataset.errors[0] and dataset.path.exists()


@pytest.mark.django_db
def test_dataset_page_polls_while_profiling_then_reloads(client, user):
    dataset = create_dataset(owner=user, source_file=io.BytesIO(GOOD), filename="big.csv", inline=False)
    client.force_login(user)
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "Profiling the file" in page and 'hx-trigger="every 1s"' in page
    assert client.get(f"/datasets/{dataset.pk}/progress/").get("HX-Refresh") is None
    complete_profiling(dataset.pk)
    assert client.get(f"/datasets/{dataset.pk}/progress/")["HX-Refresh"] == "true"
    assert "Schema and column statistics" in client.get(dataset.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_jobs_wait_for_a_ready_dataset(user):
    from jobs.services import JobError, submit_job

    dataset = create_dataset(owner=user, source_file=io.BytesIO(GOOD), filename="big.csv", inline=False)
    with pytest.raises(JobError, match="still being profiled"):
        submit_job(owner=user, dataset=dataset, algorithm="lr")


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.embedded
@override_settings(DATASET_INLINE_PROFILE_BYTES=100)
def test_a_real_worker_profiles_a_big_upload(start_worker, api, client, user):
    start_worker()
    response = upload(api, GOOD, "big.csv")
    assert response.status_code == 202
    pk = response.json()["id"]
    wait_for(lambda: Dataset.objects.get(pk=pk).status != "profiling", timeout=60, message="profiling on the worker")
    dataset = Dataset.objects.get(pk=pk)
    assert dataset.status == "ready" and dataset.n_rows == 200 and load_frame(dataset, ["price"])["price"].max() == 99.5


# --- roles that change the meaning of the data ---------------------------------------------------


@pytest.mark.django_db
def test_uplift_treatment_guessed_from_values_needs_confirmation(api, client, user):
    rows = "".join(f"{i % 7},{i % 2},{(i // 2) % 2},{i * 0.1:.1f}\n" for i in range(300))
    response = upload(api, ("group_size,visit,conversion,f0\n" + rows).encode(), "no_treatment.csv", kind="uplift")
    assert response.status_code == 201, response.json()
    body = response.json()
    roles = {c["name"]: c["role"] for c in body["columns"]}
    assert body["status"] == "needs_roles" and roles["group_size"] == "treatment"
    assert any("guessed as the treatment" in w for w in body["warnings"])
    dataset = Dataset.objects.get()
    client.force_login(user)
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert "Confirm roles" in page and 'value="treatment" selected' in page  # the guess is pre-selected
    from jobs.services import JobError, submit_job

    with pytest.raises(JobError, match="roles confirmed"):
        submit_job(owner=user, dataset=dataset, algorithm="s_learner")
    confirmed = api.patch(f"/api/datasets/{dataset.pk}/roles/", {"roles": roles}, format="json")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "ready"


@pytest.mark.django_db
def test_uplift_treatment_given_at_upload_or_named_is_ready(api):
    rows = "".join(f"{i % 3},{i % 2},{(i // 2) % 2},{i * 0.1:.1f}\n" for i in range(300))
    named = upload(api, ("treatment,visit,conversion,f0\n" + rows).encode(), "named.csv", kind="uplift")
    assert named.json()["status"] == "ready"


@pytest.mark.django_db
def test_non_binary_visit_is_reported_as_not_binary(api):
    rows = "".join(f"{i % 2},{i % 5},{i % 2},{i * 0.1:.1f}\n" for i in range(300))
    response = upload(api, ("treatment,visit,conversion,f0\n" + rows).encode(), "visits.csv", kind="uplift")
    errors = " ".join(response.json()["errors"])
    assert response.status_code == 400 and "`visit`" in errors and "must be binary" in errors
    assert "No click" not in errors


@pytest.mark.django_db
@override_settings(DATASET_INLINE_PROFILE_BYTES=64 * 1024, DATASET_MAX_DECOMPRESSED_BYTES=4 * 1024 * 1024)
def test_small_gzip_that_expands_a_lot_goes_to_a_worker_which_applies_the_limit(api, django_capture_on_commit_callbacks,
                                                                                 monkeypatch):
    monkeypatch.setattr("datasets.tasks.profile_dataset.apply_async", lambda args, queue: None)
    bomb = gzip.compress(b"click,a\n" + b"1,2\n" * (2 * 1024 * 1024))  # 8 MB of text, a few KB on disk
    assert len(bomb) < 64 * 1024
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, bomb, "bomb.csv.gz")
    assert response.status_code == 202  # the request stopped reading at 16 x 64 KB of text
    complete_profiling(response.json()["id"])
    dataset = Dataset.objects.get()
    assert dataset.status == "invalid" and "DATASET_MAX_DECOMPRESSED_MB" in dataset.errors[0]


@pytest.mark.django_db
def test_columnar_copy_is_written_on_first_use_for_older_datasets(user):
    dataset = create_dataset(owner=user, source_file=io.BytesIO(GOOD), filename="old.csv")
    (dataset.folder / "columnar.parquet").unlink()
    Dataset.objects.filter(pk=dataset.pk).update(columnar_path="")
    dataset.refresh_from_db()
    assert columnar_table(dataset).n_rows == 200
    dataset.refresh_from_db()
    assert dataset.columnar_path.endswith("columnar.parquet") and (dataset.folder / "columnar.parquet").exists()


@pytest.mark.django_db
def test_new_job_form_says_why_a_dataset_is_not_ready(client, user):
    dataset = create_dataset(owner=user, source_file=io.BytesIO(GOOD), filename="big.csv", inline=False)
    client.force_login(user)
    page = client.get(f"/jobs/new/?dataset={dataset.pk}", follow=True).content.decode()
    assert "still being profiled" in page


@pytest.mark.parametrize("cap, distinct, capped", [(100, 50, False), (30, 30, True)])
def test_distinct_counts_stay_exact_across_blocks_until_the_cap(tmp_path, monkeypatch, cap, distinct, capped):
    monkeypatch.setattr(ingest, "DISTINCT_CAP", cap)
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 256)  # many blocks, so per-block values are merged
    src = tmp_path / "t.csv"
    src.write_text("label,c\n" + "".join(f"{i % 2},v{(i * 7) % 50}\n" for i in range(2000)))
    col = {c["name"]: c for c in ingest.ingest_file(src, None).columns}["c"]
    assert (col["distinct"], col["distinct_capped"]) == (distinct, capped)


def test_integer_ids_past_2_to_the_53_are_profiled_not_refused(tmp_path):
    big = [2**62 + i for i in range(100)]  # hashed ids: a float64 cannot hold them exactly
    src = tmp_path / "ids.csv"
    src.write_text("label,item\n" + "".join(f"{i % 2},{v}\n" for i, v in enumerate(big)))
    col = {c["name"]: c for c in ingest.ingest_file(src, tmp_path / "copy.parquet").columns}["item"]
    assert col["dtype"] == "int" and col["distinct"] == 100 and col["max"] == float(big[-1])
    assert col["mean"] == pytest.approx(sum(big) / 100, rel=1e-12)
    assert pq.read_table(tmp_path / "copy.parquet").column("item").to_pylist() == big


@pytest.mark.django_db
@pytest.mark.parametrize("source", ["path", "moved path", "in-memory upload", "spooled upload", "open file"])
def test_stored_upload_keeps_its_bytes_size_and_sha256_from_every_kind_of_source(user, tmp_path, source):
    import hashlib

    from django.core.files.uploadedfile import TemporaryUploadedFile

    path = tmp_path / "f.csv"
    path.write_bytes(GOOD)
    if source in ("path", "moved path"):
        given = path
    elif source == "in-memory upload":
        given = SimpleUploadedFile("f.csv", GOOD)
    elif source == "spooled upload":
        given = TemporaryUploadedFile("f.csv", "text/csv", len(GOOD), None)
        given.write(GOOD)
        given.flush()
    else:
        given = open(path, "rb")
    dataset = create_dataset(owner=user, source_file=given, filename="f.csv", move=source == "moved path", inline=True)
    if hasattr(given, "close"):
        given.close()
    assert dataset.sha256 == hashlib.sha256(GOOD).hexdigest() and dataset.size_bytes == len(GOOD)
    assert dataset.path.read_bytes() == GOOD and path.exists() == (source != "moved path")


@pytest.mark.django_db
@override_settings(DATASET_MAX_UPLOAD_BYTES=1000)
def test_a_path_over_the_upload_limit_is_refused_before_it_is_copied(user, tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(GOOD)
    with pytest.raises(DatasetError, match="larger than the upload limit"):
        create_dataset(owner=user, source_file=path, filename="f.csv", inline=True)
    assert not Dataset.objects.exists()
