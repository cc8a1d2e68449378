"""publish / fetch / exists / delete / download behave the same on local disk and on an S3 server."""
from __future__ import annotations

import urllib.request

import pytest

from filestore import services
from tests.filestore.conftest import bucket_keys


@pytest.fixture(params=["local", "s3"])
def store(request, settings, tmp_path):
    """Each test runs once with the local store (a folder) and once against moto's S3 server."""
    if request.param == "s3":
        request.getfixturevalue("s3_store")
    else:
        settings.STORAGES = {**settings.STORAGES, "objects": {
            "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "store")}}}
    return request.param


def test_publish_then_fetch_round_trips_bytes_and_replaces_old_content(store, tmp_path):
    source = tmp_path / "model.pt"
    source.write_bytes(b"first version")
    services.publish(source, "jobs/7/model.pt")
    source.write_bytes(b"second, longer version")
    services.publish(source, "jobs/7/model.pt")  # same key, new content: replaced, not renamed
    assert services.exists("jobs/7/model.pt") and not services.exists("jobs/7/other.pt")
    assert services.size("jobs/7/model.pt") == len(b"second, longer version")
    copy = services.fetch("jobs/7/model.pt", tmp_path / "elsewhere" / "model.pt")
    assert copy.read_bytes() == b"second, longer version"
    with services.open_stream("jobs/7/model.pt") as fh:
        assert fh.read() == b"second, longer version"
    assert not list((tmp_path / "elsewhere").glob(".*part"))  # no temp file left behind


def test_fetch_of_a_missing_key_is_file_not_found(store, tmp_path):
    with pytest.raises(FileNotFoundError):
        services.fetch("jobs/8/checkpoint.pt", tmp_path / "checkpoint.pt")
    assert not (tmp_path / "checkpoint.pt").exists()


def test_delete_prefix_removes_only_that_folder(store, tmp_path):
    source = tmp_path / "f"
    source.write_bytes(b"x")
    for key in ("datasets/a/one.csv", "datasets/a/sub/two.parquet", "datasets/ab/three.csv"):
        services.publish(source, key)
    assert services.delete_prefix("datasets/a") == 2
    assert not services.exists("datasets/a/one.csv") and services.exists("datasets/ab/three.csv")
    with pytest.raises(ValueError):
        services.delete_prefix("datasets")


def test_keys_may_not_climb_out_of_the_store(store, tmp_path):
    with pytest.raises(ValueError):
        services.fetch("../etc/passwd", tmp_path / "x")


def test_local_store_at_media_root_copies_nothing(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "objects": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    path = tmp_path / "jobs" / "3" / "model.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights")
    services.publish(path, "jobs/3/model.pt")
    assert services.fetch("jobs/3/model.pt", path) == path
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["model.pt"]


def test_s3_download_is_a_presigned_redirect_that_serves_the_file(s3_store, tmp_path):
    source = tmp_path / "model.pt"
    source.write_bytes(b"weights")
    services.publish(source, "jobs/9/model.pt")
    assert bucket_keys("jobs/") == ["jobs/9/model.pt"]
    response = services.download_response("jobs/9/model.pt", "job-9.pt")
    assert response.status_code == 302 and "X-Amz-Signature" in response["Location"]
    with urllib.request.urlopen(response["Location"], timeout=10) as fetched:
        assert fetched.read() == b"weights"
        assert "job-9.pt" in fetched.headers["Content-Disposition"]
    streamed = services.download_response("jobs/9/model.pt", "job-9.pt", presign=False)
    assert streamed.status_code == 200 and b"".join(streamed.streaming_content) == b"weights"


def test_presigned_links_are_signed_for_the_public_address(s3_store, settings, tmp_path):
    port = settings.AWS_S3_ENDPOINT_URL.rsplit(":", 1)[1]
    settings.OBJECT_STORAGE_PUBLIC_URL = f"http://localhost:{port}"  # how a browser reaches the same server
    source = tmp_path / "scores.parquet"
    source.write_bytes(b"scores")
    services.publish(source, "jobs/4/scores.parquet")
    location = services.download_response("jobs/4/scores.parquet", "scores.parquet")["Location"]
    assert location.startswith(f"http://localhost:{port}/")
    with urllib.request.urlopen(location, timeout=10) as fetched:
        assert fetched.read() == b"scores"


def test_default_local_store_follows_media_root(settings, tmp_path):
    """``make run``: the store is whatever MEDIA_ROOT is, so files already there are never copied."""
    settings.MEDIA_ROOT = tmp_path / "media"
    assert not services.is_remote()
    path = tmp_path / "media" / "datasets" / "x" / "columnar.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"copy")
    services.publish(path, "datasets/x/columnar.parquet")
    assert services.local_copy("datasets/x/columnar.parquet") == path
    assert services.exists("datasets/x/columnar.parquet")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["columnar.parquet"]
