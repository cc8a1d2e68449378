"""Celery task that profiles a big upload on a worker (the request only stored the file).

Routed to the cpu queue the job workers serve (``settings.JOB_QUEUE_CPU``); the task is a thin
wrapper over :func:`datasets.services.complete_profiling`, which is safe to run twice.
"""
from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="datasets.profile_dataset", acks_late=True)
def profile_dataset(dataset_id: int) -> None:
    from .services import complete_profiling

    complete_profiling(dataset_id)


def enqueue_profiling(dataset_id: int) -> None:
    profile_dataset.apply_async(args=[dataset_id], queue=settings.JOB_QUEUE_CPU)
