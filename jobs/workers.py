"""Worker bookkeeping through Celery signals: register, heartbeat, reconcile the queue, sign off.

At start and with every heartbeat the worker runs the reconciler (:mod:`jobs.reconciler`); at
start and every ``UPLOAD_SWEEP_EVERY_SECONDS`` it sweeps orphan upload files (:mod:`datasets.sweep`).

Each worker records the queues it serves and whether it has CUDA, so the web process can route
a job to the ``gpu`` queue only when a GPU worker is actually up.
"""
from __future__ import annotations

import logging
import threading
import time

from celery.signals import celeryd_after_setup, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)
_state: dict = {"queues": [], "stop": threading.Event()}


def _cuda() -> tuple[bool, str]:
    try:
        import torch

        if torch.cuda.is_available():
            return True, torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a broken CUDA install means "no GPU" here
        logger.exception("CUDA check failed")
    return False, ""


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


@celeryd_after_setup.connect
def remember_queues(sender, instance, **kwargs) -> None:
    _state["queues"] = sorted(instance.app.amqp.queues.consume_from.keys())


@worker_ready.connect
def register_worker(sender, **kwargs) -> None:
    from .models import Worker
    from .reconciler import reconcile
    from .services import queue_devices

    hostname = sender.hostname
    has_cuda, device_name = _cuda()
    queues = _state["queues"]
    if settings.JOB_QUEUE_GPU in queues and not has_cuda:
        logger.error("worker %s consumes the %s queue but has no CUDA device; jobs will not be routed to it",
                     hostname, settings.JOB_QUEUE_GPU)
    gpus = _gpu_count() if has_cuda else 0
    for queue in queues:
        if queue_devices(queue) > max(gpus, 1):
            logger.error("worker %s consumes %s but shows %d GPU(s); the jobs it takes from there will fail",
                         hostname, queue, gpus)
    now = timezone.now()
    Worker.objects.update_or_create(
        hostname=hostname,
        defaults={"queues": queues, "has_cuda": has_cuda, "device_name": device_name, "started_at": now,
                  "last_seen": now, "online": True},
    )
    try:
        reconcile(hostname)
    except Exception:  # noqa: BLE001 - the heartbeat tries again
        logger.exception("reconciling at worker start failed")
    _sweep_uploads()
    close_old_connections()
    thread = threading.Thread(target=_heartbeat_loop, args=(hostname,), name="ctrstudio-worker-heartbeat", daemon=True)
    thread.start()


def _heartbeat_loop(hostname: str) -> None:
    from .models import Worker
    from .reconciler import reconcile

    last_sweep = time.monotonic()
    try:
        while not _state["stop"].wait(settings.WORKER_HEARTBEAT_SECONDS):
            try:
                Worker.objects.filter(hostname=hostname).update(last_seen=timezone.now(), online=True)
                reconcile(hostname)
            except Exception as exc:  # noqa: BLE001 - a database or broker hiccup must not kill the heartbeat
                logger.warning("worker heartbeat failed: %s: %s", type(exc).__name__, exc)
                connection.close()
            if time.monotonic() - last_sweep >= settings.UPLOAD_SWEEP_EVERY_SECONDS:
                _sweep_uploads()
                last_sweep = time.monotonic()
    finally:
        connection.close()


def _sweep_uploads() -> None:
    from datasets.sweep import sweep_uploads

    try:
        sweep_uploads()
    except Exception:  # noqa: BLE001 - a sweep that fails must not stop the worker
        logger.exception("sweeping orphan upload files failed")


@worker_shutdown.connect
def sign_off(sender, **kwargs) -> None:
    from .models import Worker

    _state["stop"].set()
    try:
        Worker.objects.filter(hostname=sender.hostname).update(online=False, last_seen=timezone.now())
    except Exception:  # noqa: BLE001
        logger.exception("could not mark worker offline")
