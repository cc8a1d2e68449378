"""Run one job inside a worker: claim it, build the algorithm's context, store what it returns.

The Celery task is a thin call to :func:`execute_job`; this module owns the job's life cycle:
claiming (so a re-delivered message never runs a job twice), throttled progress and log writes,
a heartbeat thread, cancellation checks, and the final status with metrics or the traceback.

Every write is fenced by the attempt number this run claimed: when the reconciler re-queued the job
(its heartbeat looked dead) and another run claimed it, this run's writes match no row and it stops
(:class:`Superseded`), so one job never has two runs recording. Writes retry across database
blips (:mod:`jobs.dbretry`); a disk or folder fault fails the job with a message naming the cause
(:mod:`jobs.failures`), and recording that failure never depends on the job folder being writable.
"""
from __future__ import annotations

import collections
import logging
import math
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from datasets.profiling import DatasetError
from datasets.services import columnar_table
from mlcore import checkpoints, diskspace
from mlcore.api import Cancelled, DataError, ParamError, RunContext, RunResult

from . import files
from .dbretry import CONNECTION_ERRORS, retry_db
from .failures import disk_failure_message, failure_message, format_exception
from .leaderboard import headline_fields
from .models import Job
from .recovery import is_orphaned
from .registry import get_algorithm

logger = logging.getLogger(__name__)


def claim_job(job_id: int, hostname: str, pid: int) -> Job | None:
    """Mark the job running on this process, or return None when it must not run here."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_terminal:
            return None
        if job.status == Job.Status.RUNNING and not is_orphaned(job, hostname):
            logger.info("job %s is already running on %s (pid %s); skipping duplicate delivery", job_id, job.worker, job.worker_pid)
            return None
        now = timezone.now()
        if job.cancel_requested:
            job.status, job.finished_at, job.phase = Job.Status.CANCELLED, now, "cancelled before it started"
            job.save(update_fields=["status", "finished_at", "phase"])
            return None
        job.status = Job.Status.RUNNING
        job.worker, job.worker_pid = hostname, pid
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.error = ""
        job.save(update_fields=["status", "worker", "worker_pid", "attempts", "started_at", "heartbeat_at", "error"])
        return job


class Superseded(Exception):
    """This run no longer owns the job (re-queued and claimed again, cancelled away, or deleted)."""


class JobFolderError(OSError):
    """The job folder cannot be written; the job fails with a message naming the cause."""


class JobReporter:
    """Progress, log and cancellation for a running job, with throttled database writes.

    The full log goes to ``job.log`` in the job's work folder; the last lines are kept on the row
    for the live page. Cancellation is read from the database at most every half second. Writes
    match the row only while it is still this run's attempt.
    """

    def __init__(self, job: Job):
        self.job = job
        self.job_id = job.pk
        self.attempt = job.attempts
        self.workdir = job.workdir
        self.interval = settings.JOB_PROGRESS_MIN_INTERVAL
        self.fraction = job.progress
        self.phase = job.phase
        self.lines: collections.deque[str] = collections.deque(maxlen=settings.JOB_LOG_TAIL_LINES)
        self.log_path = job.workdir / "job.log"
        self.folder_error: OSError | None = None
        self._last_write = 0.0
        self._last_log_publish = time.monotonic()
        self._last_cancel_check = 0.0
        self._dirty = False

    def open_folder(self) -> None:
        """Create the job folder and reload the log of earlier attempts; raise when it is unusable."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists():
            self.lines.extend(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines())
        diskspace.ensure_free_space(self.workdir)

    def mine(self):
        """This run's row: the job while it is running under the attempt this run claimed."""
        return Job.objects.filter(pk=self.job_id, attempts=self.attempt, status=Job.Status.RUNNING)

    def progress(self, fraction: float, phase: str) -> None:
        self.fraction = float(min(max(fraction, 0.0), 1.0))
        self.phase = phase[:200]
        self._dirty = True
        self.flush()

    def log(self, message: str) -> None:
        """Append to ``job.log`` and the row's tail; an unwritable folder raises :class:`JobFolderError`."""
        new = self._lines(message)
        self.lines.extend(new)
        self._dirty = True
        try:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write("\n".join(new) + "\n")
        except OSError as exc:
            self.folder_error = self.folder_error or exc
            raise JobFolderError(exc.errno, exc.strerror or str(exc), exc.filename or str(self.log_path)) from exc
        if time.monotonic() - self._last_log_publish >= files.log_interval():
            self.publish_log()
        self.flush()

    def publish_log(self) -> None:
        """Copy ``job.log`` to the object store (no-op with local storage); a failure is only a warning."""
        self._last_log_publish = time.monotonic()
        try:
            files.publish_file(self.job, self.log_path)
        except Exception as exc:  # noqa: BLE001 - the log on the row is still current
            logger.warning("job %s: could not copy job.log to the object store (%s)", self.job_id, exc)

    def checkpoint_written(self, path: Path) -> None:
        """Upload the log, then an epoch checkpoint, so another host can resume from it.

        The log goes first: whenever the store holds a checkpoint it also holds the log of the run that
        wrote it, even if this worker dies between the two uploads. A run that lost the job (re-queued
        elsewhere) stops here rather than overwrite the new run's checkpoint in the store.
        """
        if files.remote() and not retry_db(lambda: self.mine().exists(), what=f"job {self.job_id} ownership"):
            raise Superseded(f"job {self.job_id} attempt {self.attempt} is no longer running here")
        self.publish_log()
        try:
            files.publish_file(self.job, path)
        except Exception as exc:  # noqa: BLE001 - training goes on; a resume elsewhere starts earlier
            logger.warning("job %s: could not upload %s (%s)", self.job_id, path.name, exc)
            self.note(f"warning: could not upload the checkpoint to the object store ({exc})")
            self.publish_log()

    def note(self, message: str) -> None:
        """Log without ever raising: used while recording a failure, when the folder may be the cause."""
        try:
            self.log(message)
        except OSError:
            logger.warning("job %s: could not write job.log (%s); keeping the lines on the row", self.job_id,
                           self.folder_error)

    def check_cancelled(self) -> None:
        now = time.monotonic()
        if now - self._last_cancel_check < 0.5:
            return
        self._last_cancel_check = now
        if retry_db(lambda: Job.objects.filter(pk=self.job_id, cancel_requested=True).exists(), what=f"job {self.job_id} cancel check"):
            raise Cancelled()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._dirty or (not force and now - self._last_write < self.interval):
            return
        updated = retry_db(lambda: self.mine().update(
            progress=self.fraction, phase=self.phase, log_tail="\n".join(self.lines), heartbeat_at=timezone.now()
        ), what=f"job {self.job_id} progress")
        if not updated:
            raise Superseded(f"job {self.job_id} attempt {self.attempt} is no longer running here")
        self._last_write = now
        self._dirty = False

    @staticmethod
    def _lines(message: str) -> list[str]:
        stamp = timezone.now().strftime("%H:%M:%S")
        return [f"[{stamp}] {line}" for line in str(message).splitlines() or [""]]


@contextmanager
def heartbeat(job_id: int, attempt: int) -> Iterator[None]:
    """Touch the job's heartbeat from a side thread, so long data loading never looks like a death.

    A database blip is survived (the next beat reconnects); the thread stops when the row is no
    longer this attempt's, so a superseded run stops vouching for a job it does not own.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
                try:
                    if not Job.objects.filter(pk=job_id, attempts=attempt, status=Job.Status.RUNNING).update(
                            heartbeat_at=timezone.now()):
                        return
                except CONNECTION_ERRORS as exc:
                    logger.warning("job %s heartbeat: database unavailable (%s)", job_id, str(exc).strip())
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def resolve_device(job: Job) -> str:
    """cuda when this worker has a GPU and the analyst did not ask for CPU, else cpu."""
    import torch

    if job.device_preference != Job.DevicePreference.CPU and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def execute_job(job_id: int, hostname: str, pid: int) -> str | None:
    """Run the job to a terminal status (unless the process dies); return the status."""
    job = retry_db(lambda: claim_job(job_id, hostname, pid), what=f"job {job_id} claim")
    if job is None:
        return None
    if settings.TORCH_THREADS > 0:
        import torch

        torch.set_num_threads(settings.TORCH_THREADS)
    diskspace.MIN_FREE_BYTES = int(settings.JOB_MIN_FREE_MB * 1024 * 1024)
    reporter = JobReporter(job)
    try:
        with heartbeat(job.pk, job.attempts):
            return _run(job, reporter, hostname, pid)
    except Superseded as exc:
        logger.warning("%s; this run stops without recording", exc)
        return None


def _run(job: Job, reporter: JobReporter, hostname: str, pid: int) -> str | None:
    try:
        restored = files.restore(job)
        reporter.open_folder()
        device = resolve_device(job)
        retry_db(lambda: reporter.mine().update(device=device), what=f"job {job.pk} device")
        reporter.log(f"attempt {job.attempts} on {hostname} (pid {pid}), device {device}, algorithm {job.algorithm}")
        if restored:
            reporter.log(f"fetched {', '.join(restored)} from the object store")
        dataset = job.dataset
        algorithm = get_algorithm(job.algorithm)
        table = columnar_table(dataset)
        ctx = RunContext(
            params=dict(job.params), roles=dataset.roles, read_table=table.read, table=table, workdir=job.workdir,
            device=device, progress=reporter.progress, log=reporter.log, check_cancelled=reporter.check_cancelled,
            extra={"job_id": job.pk, "dataset_name": dataset.name, "dataset_columns": dataset.columns,
                   "ddp_timeout_s": settings.JOB_DDP_TIMEOUT_SECONDS},
        )
        with checkpoints.on_written(reporter.checkpoint_written):
            result = algorithm.run(ctx)
        shown = ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items() if isinstance(v, float))
        reporter.log(f"finished: {shown}" if shown else "finished")
    except (Superseded, *CONNECTION_ERRORS):
        raise  # not the job's fault: the reconciler re-queues it once its heartbeat is stale
    except Cancelled:
        reporter.note(f"stopped on request during {reporter.phase or 'preparation'}")
        return _finish(job, reporter, Job.Status.CANCELLED, phase=f"cancelled during {reporter.phase or 'preparation'}")
    except (ParamError, DataError, DatasetError) as exc:
        reporter.note(f"error: {exc}")
        return _finish(job, reporter, Job.Status.FAILED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure must end the job, with its traceback
        disk = disk_failure_message(exc, job.workdir)
        logger.error("job %s failed: %s", job.pk, disk or exc, exc_info=not disk)
        reporter.note(f"error: {disk}" if disk else format_exception(exc))
        return _finish(job, reporter, Job.Status.FAILED, error=failure_message(exc, job.workdir))
    return _finish(job, reporter, Job.Status.SUCCEEDED, result=result)


def _finish(job: Job, reporter: JobReporter, status: str, *, error: str = "", phase: str = "",
            result: RunResult | None = None) -> str | None:
    """Publish the job's files, record the terminal status; if the database stays away, the reconciler
    re-queues the job."""
    if files.remote() and not retry_db(lambda: reporter.mine().exists(), what=f"job {job.pk} ownership"):
        raise Superseded(f"job {job.pk} attempt {reporter.attempt} is no longer running here; its files are not published")
    try:
        files.publish_folder(job)
    except Exception as exc:  # noqa: BLE001 - results nobody can read are not a success
        logger.error("job %s: could not copy its files to the object store: %s", job.pk, exc)
        reporter.note(f"error: could not copy the job's files to the object store ({exc})")
        if status == Job.Status.SUCCEEDED:
            status, result, error = Job.Status.FAILED, None, f"could not copy the job's files to the object store: {exc}"
    fields: dict[str, Any] = {
        "status": status, "finished_at": timezone.now(), "error": error, "heartbeat_at": timezone.now(),
        "phase": phase or {"succeeded": "done", "failed": "failed"}.get(status, status),
        "log_tail": "\n".join(reporter.lines), "progress": 1.0 if status == Job.Status.SUCCEEDED else reporter.fraction,
    }
    if result is not None:
        fields.update(metrics=jsonable(result.metrics), curves=jsonable(result.curves), summary=jsonable(result.summary))
        fields.update(headline_fields(fields["metrics"]))  # the leaderboard ranks from these indexed columns
        if result.artifact:
            fields["artifact_path"] = str(Path(result.artifact).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
    try:
        updated = retry_db(lambda: reporter.mine().update(**fields), what=f"job {job.pk} result")
    except CONNECTION_ERRORS:
        logger.error("job %s: could not record status %s (%s); the reconciler will re-queue it", job.pk, status, error)
        raise
    if not updated:
        raise Superseded(f"job {job.pk} attempt {reporter.attempt} is no longer running here; its {status} is not recorded")
    return status


def jsonable(value: Any) -> Any:
    """Make metrics JSON-safe: NumPy scalars to Python, NaN/inf to None."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Path):
        return str(value)
    return value
