"""Make the queue agree with the job rows: the row is the source of truth.

Two kinds of drift are repaired, by every worker when it starts and then with each worker heartbeat
(``WORKER_HEARTBEAT_SECONDS``; no extra process, so ``make run`` needs nothing new):

* a ``queued`` job whose message was sent more than ``JOB_REQUEUE_AFTER_SECONDS`` ago (or never,
  when the broker or database was down at submission) and is not waiting on the broker any more
  (Redis restarted without persistence, a publish that failed) is sent again;
* a ``running`` job whose heartbeat is older than ``JOB_STALE_SECONDS`` (or whose process on this
  host is gone) is put back to ``queued`` and sent again (:mod:`jobs.recovery`); whichever process
  held it, the job's own heartbeat thread is the truth.

Both are idempotent with :func:`jobs.runner.claim_job`: a duplicate message finds the job running
or finished and is skipped, and a run that lost its job to a re-queue stops at its next write.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import Job
from .recovery import recover_orphaned_jobs
from .services import enqueue_job

logger = logging.getLogger(__name__)


@dataclass
class Reconciliation:
    requeued_running: list[int] = field(default_factory=list)
    resent_queued: list[int] = field(default_factory=list)
    still_waiting: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requeued_running or self.resent_queued)


def reconcile(hostname: str | None = None) -> Reconciliation:
    """One pass: re-queue orphaned running jobs, re-send lost queued ones."""
    result = Reconciliation(requeued_running=recover_orphaned_jobs(hostname))
    for job in lost_queued_candidates():
        if message_waiting(job):
            result.still_waiting.append(job.pk)
            Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(enqueued_at=timezone.now())
        elif _take_turn(job) and enqueue_job(job.pk):
            result.resent_queued.append(job.pk)
    if result:
        logger.warning("reconciler: re-queued running jobs %s, re-sent queued jobs %s",
                       result.requeued_running, result.resent_queued)
    return result


def lost_queued_candidates() -> list[Job]:
    """Queued jobs whose last message went out longer ago than ``JOB_REQUEUE_AFTER_SECONDS``."""
    before = timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS)
    return list(Job.objects.filter(status=Job.Status.QUEUED, cancel_requested=False).filter(
        Q(enqueued_at__lt=before) | Q(enqueued_at__isnull=True, created_at__lt=before),
    ).only("pk", "queue", "celery_task_id", "enqueued_at"))


def _take_turn(job: Job) -> bool:
    """Compare-and-set on ``enqueued_at``, so two workers reconciling at once send one message."""
    return bool(Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED, enqueued_at=job.enqueued_at)
                .update(enqueued_at=timezone.now()))


def message_waiting(job: Job) -> bool:
    """True when the job's last message is still on its broker queue (Redis list or queue folder).

    A message taken by a worker but not yet claimed is not counted: its worker may be gone, and a
    duplicate is harmless. When the broker cannot be inspected, False: sending again is safe.
    """
    if not job.celery_task_id or not job.queue:
        return False
    try:
        from ctrsite.celery import app

        url = app.conf.broker_url or ""
        if url.startswith("filesystem://"):
            folder = Path(app.conf.broker_transport_options.get("data_folder_in", ""))
            return any(job.celery_task_id in path.read_text(errors="replace")
                       for path in folder.glob(f"*.{job.queue}.msg"))
        if url.startswith(("redis://", "rediss://")):
            with app.connection_for_read() as conn:
                channel = conn.default_channel
                keys = [channel._q_for_pri(job.queue, pri) for pri in channel.priority_steps]
                needle = job.celery_task_id.encode()
                return any(needle in raw for key in dict.fromkeys(keys) for raw in channel.client.lrange(key, 0, -1))
    except Exception as exc:  # noqa: BLE001 - broker down or unreadable: treat the message as lost
        logger.info("reconciler: could not inspect the queue for job %s (%s)", job.pk, exc)
    return False
