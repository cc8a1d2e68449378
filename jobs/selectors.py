"""Read-only queries on jobs and workers."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from .models import Job, Worker


def jobs_visible_to(user) -> QuerySet[Job]:
    """Staff see every job; everyone else only their own."""
    qs = Job.objects.select_related("dataset", "owner")
    if user.is_staff:
        return qs
    return qs.filter(owner=user)


def live_workers() -> QuerySet[Worker]:
    """Workers whose heartbeat is recent enough to trust."""
    cutoff = timezone.now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)
    return Worker.objects.filter(online=True, last_seen__gte=cutoff)


def gpu_worker_available(queue: str | None = None) -> bool:
    """Whether a live worker with CUDA consumes ``queue`` (default: the one-GPU queue)."""
    queue = queue or settings.JOB_QUEUE_GPU
    return any(w.has_cuda and queue in w.queues for w in live_workers())
