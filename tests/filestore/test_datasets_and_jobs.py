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
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(400)))
    return path


def test_a_host_without_the_files_reads_the_dataset_through_its_cache(user, csv_file, s3_store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "web"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv", name="c")
    assert {dataset.file_path, dataset.columnar_path} <= set(bucket_keys("datasets/"))
    shutil.rmtree(tmp_path / "web")
    settings.MEDIA_ROOT, settings.WORKER_CACHE_DIR = tmp_path / "worker", tmp_path / "worker" / "cache"
    table = dataset_services.columnar_table(Dataset.objects.get(pk=dataset.pk))
    assert len(table.read()) == 400
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


@pytest.fixture
def lr_job(user, csv_file, settings, tmp_path):
    """A two-epoch logistic regression on a tiny dataset, submitted from the web host's folder."""
    from jobs import services as job_services

    settings.MEDIA_ROOT = tmp_path / "web"
    dataset = dataset_services.create_dataset(owner=user, source_file=csv_file, filename="clicks.csv")
    return job_services.submit_job(owner=user, dataset=dataset, algorithm="lr",
                                   params={"epochs": 2, "batch_size": 16, "patience": 5})


def test_runner_uploads_each_checkpoint_and_publishes_the_finished_folder(s3_store, lr_job, settings, tmp_path,
                                                                          monkeypatch, one_torch_thread):
    from jobs.runner import execute_job

    uploads = []
    original = files.publish_file
    monkeypatch.setattr(files, "publish_file", lambda job, path: (uploads.append(path.name), original(job, path)))
    settings.MEDIA_ROOT = tmp_path / "worker"
    assert execute_job(lr_job.pk, "host-b", 1) == "succeeded", Job.objects.get(pk=lr_job.pk).log_tail
    assert uploads.count("checkpoint.pt") == 2  # once per epoch, as soon as the trainer wrote it
    # The log goes up just before each checkpoint: a worker killed right after a checkpoint upload
    # still leaves its log in the store for the host that resumes the job.
    assert all(i > 0 and uploads[i - 1] == "job.log" for i, name in enumerate(uploads) if name == "checkpoint.pt")
    job = Job.objects.get(pk=lr_job.pk)
    assert job.artifact_path == f"jobs/{job.pk}/model.pt"
    assert {f"jobs/{job.pk}/{n}" for n in ("model.pt", "job.log", "checkpoint.pt")} <= set(bucket_keys("jobs/"))
    assert not (tmp_path / "web" / "jobs" / str(job.pk) / "model.pt").exists()


def test_results_the_store_cannot_take_fail_the_job_with_the_reason(s3_store, lr_job, settings, tmp_path,
                                                                    monkeypatch, one_torch_thread):
    from jobs.runner import execute_job

    def refuse(job):
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(files, "publish_folder", refuse)
    settings.MEDIA_ROOT = tmp_path / "worker"
    assert execute_job(lr_job.pk, "host-b", 1) == "failed"
    job = Job.objects.get(pk=lr_job.pk)
    assert "could not copy the job's files to the object store: store unreachable" in job.error
    assert not job.metrics and not job.artifact_path
