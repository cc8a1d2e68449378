"""Datasets and job folders through the S3 store, in one process with a different MEDIA_ROOT per "host"."""
from __future__ import annotations

import shutil

import pytest

from datasets import services as dataset_services
from datasets.models import Dataset
from jobs import files
from jobs.models import Job
from tests.filestore.conftest import bucket_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(60)))
    return path


def test_a_host_without_the_files_reads_the_dataset_through_its_cache(user, csv_file, s3_store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "web"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv", name="c")
    assert {dataset.file_path, dataset.columnar_path} <= set(bucket_keys("datasets/"))
    shutil.rmtree(tmp_path / "web")
    settings.MEDIA_ROOT, settings.WORKER_CACHE_DIR = tmp_path / "worker", tmp_path / "worker" / "cache"
    table = dataset_services.columnar_table(Dataset.objects.get(pk=dataset.pk))
    assert len(table.read()) == 60
    assert table.path.parent == tmp_path / "worker" / "cache" and table.path.name.startswith(dataset.sha256)
    assert not (tmp_path / "web").exists()


def test_worker_profiling_fetches_the_upload_and_publishes_its_copy(user, csv_file, s3_store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "web"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv", inline=False)
    assert dataset.status == Dataset.Status.PROFILING and bucket_keys("datasets/") == [dataset.file_path]
    settings.MEDIA_ROOT = tmp_path / "worker"  # another host: the upload is only in the store
    profiled = dataset_services.complete_profiling(dataset.pk)
    assert profiled.status in (Dataset.Status.READY, Dataset.Status.NEEDS_ROLES), profiled.errors
    assert profiled.columnar_path in bucket_keys("datasets/")


def test_deleting_a_dataset_removes_its_objects(user, csv_file, s3_store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "web"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv")
    other = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv")
    dataset_services.delete_dataset(dataset)
    assert bucket_keys("datasets/") == sorted({other.file_path, other.columnar_path})


def test_restore_takes_the_stores_checkpoint_and_merges_the_log(user, csv_file, s3_store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "host-a"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv")
    job = Job.objects.create(owner=user, dataset=dataset, kind="ctr", algorithm="lr")
    job.workdir.mkdir(parents=True)
    (job.workdir / "checkpoint.pt").write_bytes(b"epoch 2")
    (job.workdir / "job.log").write_text("attempt 1\nepoch 1\nepoch 2\n")
    files.publish_file(job, job.workdir / "checkpoint.pt")
    files.publish_file(job, job.workdir / "job.log")
    assert files.restore(job) == []  # this host already has both

    settings.MEDIA_ROOT = tmp_path / "host-b"
    job.workdir.mkdir(parents=True)
    (job.workdir / "job.log").write_text("re-queued\n")  # what the re-queue appended on this host
    assert files.restore(job) == ["checkpoint.pt", "job.log"]
    assert (job.workdir / "checkpoint.pt").read_bytes() == b"epoch 2"
    assert (job.workdir / "job.log").read_text() == "attempt 1\nepoch 1\nepoch 2\nre-queued\n"
    assert not list(job.workdir.glob(".*"))  # no temp files left


def test_a_finished_jobs_folder_is_published_without_its_encoded_splits(user, csv_file, s3_store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "worker"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv")
    job = Job.objects.create(owner=user, dataset=dataset, kind="ctr", algorithm="lr")
    (job.workdir / "encoded" / "train").mkdir(parents=True)
    (job.workdir / "encoded" / "train" / "x.npy").write_bytes(b"big")
    for name in ("model.pt", "scores.parquet", "job.log", "checkpoint.tmp"):
        (job.workdir / name).write_bytes(name.encode())
    assert files.publish_folder(job) == [files.key(job, n) for n in ("job.log", "model.pt", "scores.parquet")]
    settings.MEDIA_ROOT = tmp_path / "web"  # the web reads it on demand into its own working area
    assert files.local_file(job, "scores.parquet").read_bytes() == b"scores.parquet"
    assert not files.local_file(job, "missing.parquet").exists()
    job.delete()
    assert bucket_keys(f"jobs/{job.pk}/") == []
