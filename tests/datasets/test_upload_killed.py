"""A web server killed in the middle of an upload leaves orphan files; the sweep removes every one."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datasets.sweep import sweep_uploads
from tests.conftest import REPO, wait_for, worker_environment
from tests.private_services import free_port

pytestmark = pytest.mark.slow


def files_under(*folders: Path) -> list[Path]:
    return [Path(root) / name for folder in folders if folder.exists() for root, _, names in os.walk(folder)
            for name in names]


def test_upload_killed_mid_request_leaves_nothing_after_the_sweep(transactional_db, user, tmp_path):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user).key
    media, upload_tmp = tmp_path / "media", tmp_path / "upload-tmp"
    staging = media / "datasets" / "_staging"
    port = free_port()
    env = {**worker_environment(), "MEDIA_ROOT": str(media), "FILE_UPLOAD_TEMP_DIR": str(upload_tmp),
           "DATASET_INLINE_PROFILE_MB": "200"}  # profiled in the request, so it is mid-profile when killed
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=REPO,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: _listening(port), 60, message="the web server to listen")
        rows = b"".join(f"{i % 2},site{i},{i * 7 % 1013},{i % 13}.5\n".encode() for i in range(997)) * 1000
        body_file = b"click,site,item,price\n" + rows  # ~20 MB: profiling takes seconds
        boundary = "ctrstudioboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nctr\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
                f"Content-Type: text/csv\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = len(head) + len(body_file) + len(tail)
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall((f"POST /api/datasets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n").encode())
        sock.sendall(head + body_file + tail)
        # the body is on disk in Django's temp file and create_dataset has copied it to a staging folder
        wait_for(lambda: staging.exists() and any(staging.iterdir()), 60, message="the upload to reach staging")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        sock.close()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    orphans = files_under(staging, upload_tmp)
    assert any(p.is_relative_to(staging) for p in orphans) and any(p.is_relative_to(upload_tmp) for p in orphans), orphans
    result = sweep_uploads([staging, upload_tmp], older_than=0)  # as a worker does at start (manage.py sweep_uploads)
    assert len(result.removed) >= 2  # the staging folder and the temp file
    assert files_under(staging, upload_tmp) == [] and list(staging.iterdir()) == [] and result.bytes_freed > 10 * 2**20


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False
