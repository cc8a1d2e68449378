"""Find jobs whose worker died and put them back on the queue.

A SIGKILLed worker cannot mark its job failed. Two things bring the job back: Celery's late
acknowledgement (``task_reject_on_worker_lost`` re-queues the message when a pool process dies
under a live worker), and this sweep, which runs when a worker starts and then with every worker
heartbeat (see :mod:`jobs.reconciler`): a running job is orphaned when its worker is this host and
its process is gone, or when its heartbeat is older than ``JOB_STALE_SECONDS``, whoever's it was.
"""
from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import Job
from .services import requeue_job


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_orphaned(job: Job, hostname: str | None) -> bool:
    """True when nobody can still be running ``job``.

    The job's own heartbeat thread is the truth: a stale heartbeat means orphaned even when a process
    with the recorded pid is alive (an idle pool process, or a pid reused). A dead process on this
    host is recognised at once, without waiting for the heartbeat to go stale.
    """
    if job.status != Job.Status.RUNNING:
        return False
    if hostname and job.worker == hostname and not process_alive(job.worker_pid):
        return True
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)
    return job.heartbeat_at is None or job.heartbeat_at < stale_before


def recover_orphaned_jobs(hostname: str | None = None) -> list[int]:
    """Re-queue every orphaned running job; return their ids."""
    recovered = []
    for job in Job.objects.filter(status=Job.Status.RUNNING):
        if is_orphaned(job, hostname):
            requeue_job(job, f"worker {job.worker or '?'} stopped while running it")
            recovered.append(job.pk)
    return recovered
