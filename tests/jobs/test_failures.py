"""Failures the machine causes: database blips are retried, disk and folder faults are named on the row."""
from __future__ import annotations

import errno
import os
import shutil

import pytest
from django.db import InterfaceError, OperationalError, transaction

from jobs import dbretry, registry, services
from jobs.failures import failure_message
from jobs.models import Job
from jobs.runner import execute_job
from mlcore import diskspace
from mlcore.api import Algorithm, Param, RunResult


# --- retry_db ---------------------------------------------------------------------------------------------
def flaky(failures: list[Exception], value="ok"):
    calls = []

    def write():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return value
    return write, calls


def test_retry_db_reconnects_with_backoff_until_the_write_succeeds(monkeypatch):
    closed, waits = [], []
    monkeypatch.setattr(dbretry, "_drop_connection", lambda: closed.append(1))
    write, calls = flaky([OperationalError("the connection is closed"), InterfaceError("gone"), OperationalError("x")])
    assert dbretry.retry_db(write, what="test", within=30, sleep=waits.append) == "ok"
    assert len(calls) == 4 and len(closed) == 3 and waits == [0.2, 0.4, 0.8]


def test_retry_db_gives_up_after_its_time_budget(monkeypatch):
    monkeypatch.setattr(dbretry, "_drop_connection", lambda: None)
    write, calls = flaky([OperationalError("down")] * 100)
    with pytest.raises(OperationalError):
        dbretry.retry_db(write, what="test", within=0.0, sleep=lambda s: None)
    assert len(calls) == 1


def test_retry_db_does_not_retry_other_errors():
    write, calls = flaky([ValueError("a bug")])
    with pytest.raises(ValueError):
        dbretry.retry_db(write, what="test", within=30, sleep=lambda s: None)
    assert len(calls) == 1


@pytest.mark.django_db
def test_retry_db_inside_a_transaction_raises_at_once():
    write, calls = flaky([OperationalError("down")] * 3)
    with transaction.atomic(), pytest.raises(OperationalError):
        dbretry.retry_db(write, what="test", within=30, sleep=lambda s: None)
    assert len(calls) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_retry_db_survives_a_connection_closed_under_it(user):
    """The real blip: the socket under Django's connection is gone (as after a PostgreSQL restart)."""
    from django.db import connection

    from django.contrib.auth.models import User

    User.objects.count()
    connection.connection.close()  # Django still thinks it is open
    assert dbretry.retry_db(lambda: User.objects.filter(pk=user.pk).count(), what="test", within=10) == 1


# --- errno -> message -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("errno_", "expected"), [
    (errno.ENOSPC, "no space left on device in the job folder /m/jobs/7 "),
    (errno.EDQUOT, "no space left on device in the job folder /m/jobs/7 "),
    (errno.EACCES, "job folder not writable: /m/jobs/7/job.log ("),
    (errno.EROFS, "job folder not writable: /m/jobs/7/job.log (Read-only file system)"),
    (errno.ENOTDIR, "job folder not writable: /m/jobs/7/job.log (Not a directory; the job folder is missing or is not a folder)"),
])
def test_os_errors_become_messages_naming_the_cause(errno_, expected, tmp_path):
    workdir = tmp_path / "jobs" / "7"
    error = OSError(errno_, os.strerror(errno_), str(workdir / "job.log"))
    assert failure_message(error, workdir).replace(str(tmp_path), "/m").startswith(expected)


def test_unrelated_missing_file_is_not_called_a_folder_fault(tmp_path):
    error = FileNotFoundError(errno.ENOENT, "No such file or directory", "/elsewhere/data.parquet")
    assert failure_message(error, tmp_path / "jobs" / "7").startswith("FileNotFoundError:")


def test_torch_write_failure_on_a_full_disk_reads_no_space(tmp_path, monkeypatch):
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 4096)
    torch_error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4096 vs 4032")
    assert failure_message(torch_error, tmp_path).startswith("no space left on device in the job folder")
    assert failure_message(ValueError("column x is text"), tmp_path) == "ValueError: column x is text"


# --- the runner records folder and disk faults ---------------------------------------------------------------
def _break_folder_then_log(ctx):
    ctx.progress(0.5, "step 1")
    shutil.rmtree(ctx.workdir)
    ctx.workdir.write_text("not a folder any more")  # root ignores permissions; a file in its place does not
    ctx.log("this line cannot be written")
    return RunResult(metrics={})


BREAKS_FOLDER = Algorithm(key="test_breaks_folder", kind="ctr", label="Breaks its folder (test)", description="",
                          params=(Param("steps", "int", 1, min=1, max=2),), run=_break_folder_then_log)


@pytest.fixture
def breaks_folder():
    registry.register(BREAKS_FOLDER)
    yield
    registry._ALGORITHMS.pop(BREAKS_FOLDER.key, None)


@pytest.mark.django_db
def test_unwritable_job_folder_mid_run_fails_the_job_with_a_clear_message(user, ctr_dataset, breaks_folder):
    job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="test_breaks_folder")
    assert execute_job(job.pk, "host-a", 1) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.error.startswith("job folder not writable:"), job.error
    assert "job.log" in job.error and "this line cannot be written" in job.log_tail
    job.workdir.unlink()


@pytest.mark.django_db
def test_job_folder_that_is_a_file_fails_before_the_algorithm_runs(user, ctr_dataset, echo_algorithm):
    job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="test_echo")
    job.workdir.parent.mkdir(parents=True, exist_ok=True)
    job.workdir.write_text("x")
    assert execute_job(job.pk, "host-a", 1) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("job folder not writable:") and "not a folder" in job.error, job.error
    job.workdir.unlink()


@pytest.mark.django_db
def test_too_little_free_space_fails_the_job_before_it_starts(user, ctr_dataset, echo_algorithm, settings):
    settings.JOB_MIN_FREE_MB = 1e12  # more than any disk has
    job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="test_echo")
    assert execute_job(job.pk, "host-a", 1) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("no space left on device in the job folder") and "JOB_MIN_FREE_MB" in job.error
    assert job.progress == 0 and "read " not in job.log_tail  # the algorithm never ran


@pytest.mark.django_db
def test_result_that_cannot_be_recorded_leaves_the_job_to_the_reconciler(user, ctr_dataset, echo_algorithm,
                                                                        monkeypatch, settings):
    """The database stays away past the retry budget at the end: the row stays running, its heartbeat ages,
    and the reconciler re-queues it (never running forever)."""
    from jobs import runner

    settings.JOB_DB_RETRY_SECONDS = 0
    job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="test_echo")
    real_mine = runner.JobReporter.mine

    def mine(self):
        if self.fraction >= 1.0 and "finished" in (self.lines[-1] if self.lines else ""):
            raise OperationalError("the connection is closed")
        return real_mine(self)
    monkeypatch.setattr(runner.JobReporter, "mine", mine)
    with pytest.raises(OperationalError):
        execute_job(job.pk, "host-a", 2**22 + 5)  # a pid that is not alive
    assert Job.objects.get(pk=job.pk).status == "running"
    from jobs.reconciler import reconcile

    monkeypatch.setattr(services, "enqueue_job", lambda job_id: True)
    assert reconcile("host-a").requeued_running == [job.pk]
    assert Job.objects.get(pk=job.pk).status == "queued"
