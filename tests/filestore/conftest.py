"""A real S3 API server (moto's standalone server, on a free loopback port) and settings that use it."""
from __future__ import annotations

import logging
import socket
import uuid

import pytest

S3_KEY, S3_SECRET = "testing-key", "testing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> str:
    """moto's S3 server in a thread of this process; other processes (workers) reach it over HTTP."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_server, settings, tmp_path):
    """Switch this process to the S3 store (a fresh bucket per test); return the worker's environment."""
    bucket = f"ctrstudio-{uuid.uuid4().hex[:10]}"
    settings.OBJECT_STORAGE = "s3"
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = s3_server
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = S3_KEY, S3_SECRET
    settings.OBJECT_STORAGE_CREATE_BUCKET = True
    settings.STORAGES = {**settings.STORAGES, "objects": {"BACKEND": "storages.backends.s3.S3Storage",
                                                          "OPTIONS": {"file_overwrite": True}}}
    return {
        "OBJECT_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": bucket, "AWS_S3_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "OBJECT_STORAGE_CREATE_BUCKET": "1",
    }


def bucket_keys(prefix: str = "") -> list[str]:
    from filestore.services import objects

    store = objects()
    return sorted(o.key for o in store.bucket.objects.filter(Prefix=prefix))
