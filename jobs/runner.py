"""Run one job inside a worker: claim it, build the algorithm's context, store what it returns.

The Celery task is a thin call to :func:`execute_job`; this module owns the job's life cycle:
claiming (so a re-delivered message never runs a job twice), throttled progress and log writes,
a heartbeat thread, cancellation checks, and the final status with metrics or the traceback.
"""
from __future__ import annotations

import collections
import logging
import math
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from datasets.profiling import DatasetError
from datasets.services import columnar_table
from mlcore.api import Cancelled, DataError, ParamError, RunContext, RunResult

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


class JobReporter:
    """Progress, log and cancellation for a running job, with throttled database writes.

    The full log goes to ``job.log`` in the job's work folder; the last lines are kept on the row
    for the live page. Cancellation is read from the database at most every half second.
    """

    def __init__(self, job: Job):
        self.job_id = job.pk
        self.interval = settings.JOB_PROGRESS_MIN_INTERVAL
        self.fraction = job.progress
        self.phase = job.phase
        self.lines: collections.deque[str] = collections.deque(maxlen=settings.JOB_LOG_TAIL_LINES)
        job.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = job.workdir / "job.log"
        if self.log_path.exists():
            self.lines.extend(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines())
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._dirty = False

    def progress(self, fraction: float, phase: str) -> None:
        self.fraction = float(min(max(fraction, 0.0), 1.0))
        self.phase = phase[:200]
        self._dirty = True
        self.flush()

    def log(self, message: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        new = [f"[{stamp}] {line}" for line in str(message).splitlines() or [""]]
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(new) + "\n")
        self.lines.extend(new)
        self._dirty = True
        self.flush()

    def check_cancelled(self) -> None:
        now = time.monotonic()
        if now - self._last_cancel_check < 0.5:
            return
        self._last_cancel_check = now
        if Job.objects.filter(pk=self.job_id, cancel_requested=True).exists():
            raise Cancelled()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._dirty or (not force and now - self._last_write < self.interval):
            return
        Job.objects.filter(pk=self.job_id).update(
            progress=self.fraction, phase=self.phase, log_tail="\n".join(self.lines), heartbeat_at=timezone.now()
        )
        self._last_write = now
        self._dirty = False


@contextmanager
def heartbeat(job_id: int) -> Iterator[None]:
    """Touch the job's heartbeat from a side thread, so long data loading never looks like a death."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
                Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
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
    job = claim_job(job_id, hostname, pid)
    if job is None:
        return None
    if settings.TORCH_THREADS > 0:
        import torch

        torch.set_num_threads(settings.TORCH_THREADS)
    reporter = JobReporter(job)
    device = resolve_device(job)
    Job.objects.filter(pk=job.pk).update(device=device)
    reporter.log(f"attempt {job.attempts} on {hostname} (pid {pid}), device {device}, algorithm {job.algorithm}")
    dataset = job.dataset
    algorithm = get_algorithm(job.algorithm)

    with heartbeat(job.pk):
        try:
            table = columnar_table(dataset)
            ctx = RunContext(
                params=dict(job.params), roles=dataset.roles, read_table=table.read, table=table, workdir=job.workdir,
                device=device, progress=reporter.progress, log=reporter.log, check_cancelled=reporter.check_cancelled,
                extra={"job_id": job.pk, "dataset_name": dataset.name, "dataset_columns": dataset.columns,
                       "ddp_timeout_s": settings.JOB_DDP_TIMEOUT_SECONDS},
            )
            result = algorithm.run(ctx)
        except Cancelled:
            reporter.log(f"stopped on request during {reporter.phase or 'preparation'}")
            return _finish(job, reporter, Job.Status.CANCELLED, phase=f"cancelled during {reporter.phase or 'preparation'}")
        except (ParamError, DataError, DatasetError) as exc:
            reporter.log(f"error: {exc}")
            return _finish(job, reporter, Job.Status.FAILED, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure must end the job, with its traceback
            reporter.log(traceback.format_exc())
            return _finish(job, reporter, Job.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    shown = ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items() if isinstance(v, float))
    reporter.log(f"finished: {shown}" if shown else "finished")
    return _finish(job, reporter, Job.Status.SUCCEEDED, result=result)


def _finish(job: Job, reporter: JobReporter, status: str, *, error: str = "", phase: str = "",
            result: RunResult | None = None) -> str:
    fields: dict[str, Any] = {
        "status": status, "finished_at": timezone.now(), "error": error, "heartbeat_at": timezone.now(),
        "phase": phase or {"succeeded": "done", "failed": "failed"}.get(status, status),
        "log_tail": "\n".join(reporter.lines), "progress": 1.0 if status == Job.Status.SUCCEEDED else reporter.fraction,
    }
    if result is not None:
        fields.update(metrics=jsonable(result.metrics), curves=jsonable(result.curves), summary=jsonable(result.summary))
        if result.artifact:
            fields["artifact_path"] = str(Path(result.artifact).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
    Job.objects.filter(pk=job.pk).update(**fields)
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
