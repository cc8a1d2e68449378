"""Site-wide bits: the favicon everywhere, the admin job list on a phone, `make run`'s worker log."""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_favicon_ico_is_served_without_login_and_the_admin_names_an_icon(client, staff_user):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    assert b"".join(icon).startswith(b"\x00\x00\x01\x00")  # an ICO header
    client.force_login(staff_user)
    admin = client.get(reverse("admin:index")).content.decode()
    assert 'rel="icon"' in admin and "css/admin.css" in admin


def test_admin_job_list_puts_status_and_progress_first():
    from django.contrib import admin

    from jobs.models import Job

    columns = admin.site._registry[Job].list_display
    assert columns[1:3] == ("status", "progress_percent")


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.embedded
def test_make_run_writes_the_worker_log_to_the_file_and_nothing_to_the_terminal(transactional_db, tmp_path):
    """The worker command `make run` starts: its whole output lands in WORKER_LOG, none in the terminal."""
    from tests.conftest import worker_environment

    log = tmp_path / "worker.log"
    plan = subprocess.run(["make", "-n", "run", f"WORKER_LOG={log}", "VENV=.venv"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout
    line = next(ln for ln in plan.splitlines() if "celery -A ctrsite worker" in ln)
    command = line.split(" & ")[0].replace("cpu@%h", f"cpu@make-run-{uuid.uuid4().hex[:6]}")
    env = {**worker_environment(), "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["bash", "-c", command], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (log.exists() and " ready." in log.read_text(errors="replace")):
            assert proc.poll() is None, f"worker exited: {proc.stderr.read().decode()[-2000:]}"
            time.sleep(0.3)
        assert log.exists() and " ready." in log.read_text(errors="replace"), shlex.quote(command)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert out == b"" and err == b""  # the terminal stays for the web server
    assert "Connected to" in log.read_text(errors="replace")
