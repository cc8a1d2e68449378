"""The one Celery task: run any job through the algorithm registry."""
from __future__ import annotations

import os
import socket

from celery import shared_task
from django.db import close_old_connections

from . import workers  # noqa: F401  (connects the worker start/heartbeat/stop signals)
from .runner import execute_job


@shared_task(name="jobs.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self, job_id: int) -> str | None:
    """Late acknowledgement: if the process dies mid-job the message goes back to the queue."""
    close_old_connections()
    return execute_job(job_id, self.request.hostname or socket.gethostname(), os.getpid())
