"""Everything that changes jobs: submit, enqueue, cancel, re-queue. Views, API and admin call these."""
from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from datasets.models import Dataset
from mlcore.api import ParamError

from .dbretry import retry_db
from .models import Job
from .registry import get_algorithm
from .selectors import gpu_worker_available

logger = logging.getLogger(__name__)


class JobError(ValueError):
    """A job request the analyst must fix; ``errors`` maps a field to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def not_ready_message(dataset: Dataset) -> str:
    """Why jobs cannot run on ``dataset`` yet, in the analyst's words."""
    if dataset.status == Dataset.Status.PROFILING:
        return (f"`{dataset.name}` is still being profiled ({dataset.progress:.0%} read); submit the job once its "
                "page says it is ready.")
    if dataset.status == Dataset.Status.NEEDS_ROLES:
        return f"`{dataset.name}` needs its column roles confirmed on the dataset page before training."
    return f"`{dataset.name}` did not pass validation: {' '.join(dataset.errors)}"


def submit_job(*, owner, dataset: Dataset, algorithm: str, params: dict | None = None, name: str = "",
               device_preference: str = Job.DevicePreference.AUTO) -> Job:
    """Validate the request, create the job and put it on the right queue once the row is committed."""
    try:
        algo = get_algorithm(algorithm)
    except KeyError as exc:
        raise JobError({"algorithm": str(exc.args[0])}) from None
    if algo.kind != dataset.kind:
        raise JobError({"algorithm": f"{algo.label} trains on {algo.kind} datasets; `{dataset.name}` is a {dataset.kind} dataset."})
    if dataset.status != Dataset.Status.READY:
        raise JobError({"dataset": not_ready_message(dataset)})
    missing = [role for role in algo.required_roles if not dataset.columns_with_role(role)]
    if missing:
        raise JobError({"dataset": f"{algo.label} needs a column with role {', '.join(missing)}; set it on the dataset page."})
    if device_preference not in Job.DevicePreference.values:
        raise JobError({"device_preference": f"choose one of {', '.join(Job.DevicePreference.values)}"})
    try:  # everything the algorithm can know before it runs: types, bounds, width lists, split vs columns
        clean = algo.validate_request(params, dataset.roles)
    except ParamError as exc:
        raise JobError(exc.errors) from None
    if int(clean.get("devices", 1)) > settings.JOB_MAX_DEVICES:
        raise JobError({"devices": f"at most {settings.JOB_MAX_DEVICES} devices per job on this installation"})
    job = retry_db(lambda: Job.objects.create(
        owner=owner, dataset=dataset, kind=algo.kind, algorithm=algo.key, params=clean, name=name.strip(),
        device_preference=device_preference,
    ), what="job submission", within=settings.JOB_SUBMIT_RETRY_SECONDS)
    transaction.on_commit(lambda: enqueue_job(job.pk))
    return job


class JobConflict(JobError):
    """The job is in a state that does not allow the request (e.g. re-running a job still running)."""


def rerun_job(job: Job, *, owner) -> Job:
    """A new job with ``job``'s dataset, algorithm, hyperparameters, name and device; validated again
    (the dataset's roles may have changed since). Only finished, failed or cancelled jobs re-run."""
    if job.is_active:
        raise JobConflict({"status": f"Job {job.display_name} is still {job.status}; cancel it or wait for it to finish."})
    if job.kind == "scoring":  # scoring jobs were checked against their model when first queued; copy them
        again = Job.objects.create(owner=owner, dataset=job.dataset, kind=job.kind, algorithm=job.algorithm,
                                   params=dict(job.params), name=job.name, device_preference=job.device_preference)
        transaction.on_commit(lambda: enqueue_job(again.pk))
        return again
    return submit_job(owner=owner, dataset=job.dataset, algorithm=job.algorithm, params=dict(job.params),
                      name=job.name, device_preference=job.device_preference)


def gpu_queue(devices: int = 1) -> str:
    """The queue of jobs needing ``devices`` GPUs: ``gpu`` for one, ``gpu-x<N>`` for more. Only a worker
    on a host with at least N GPUs consumes ``gpu-x<N>`` (one job at a time), so it takes such a job
    only when it has the devices free; a worker that has fewer fails the job saying so."""
    return settings.JOB_QUEUE_GPU if devices <= 1 else f"{settings.JOB_QUEUE_GPU}-x{devices}"


def queue_devices(queue: str) -> int:
    """GPUs a job on ``queue`` asks for (the inverse of :func:`gpu_queue`; 0 for a CPU queue)."""
    prefix = f"{settings.JOB_QUEUE_GPU}-x"
    if queue == settings.JOB_QUEUE_GPU:
        return 1
    return int(queue[len(prefix):]) if queue.startswith(prefix) and queue[len(prefix):].isdigit() else 0


def choose_queue(device_preference: str, devices: int = 1) -> str:
    """Route to the GPU queue for ``devices`` GPUs when asked, or (on auto) when a live worker with CUDA
    serves it; else the CPU queue (where a multi-device job trains on ``devices`` CPU processes)."""
    if device_preference == Job.DevicePreference.CPU:
        return settings.JOB_QUEUE_CPU
    queue = gpu_queue(devices)
    if device_preference == Job.DevicePreference.GPU:
        return queue
    return queue if gpu_worker_available(queue) else settings.JOB_QUEUE_CPU


def enqueue_job(job_id: int) -> bool:
    """Send the job's message to its queue and remember the Celery task id; return whether it was sent.

    Called after the job's row is committed. A broker or database blip here must not fail the request
    that created the job: the row stays ``queued`` and the reconciler sends the message later.
    """
    from .tasks import run_job

    try:
        job = Job.objects.get(pk=job_id)
        if job.is_terminal:
            return False
        queue = choose_queue(job.device_preference, int((job.params or {}).get("devices", 1)))
        task_id = str(uuid.uuid4())
        Job.objects.filter(pk=job_id).update(queue=queue, celery_task_id=task_id, enqueued_at=timezone.now())
        run_job.apply_async(args=[job_id], queue=queue, task_id=task_id)
    except Exception as exc:  # noqa: BLE001 - any broker or database error: the reconciler retries
        try:
            Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(enqueued_at=None)
        except Exception:  # noqa: BLE001 - the database may be the cause; created_at still ages the row
            pass
        logger.warning("could not send job %s to the queue (%s: %s); the reconciler will send it",
                       job_id, type(exc).__name__, exc)
        return False
    return True


def cancel_job(job: Job) -> Job:
    """Cancel a queued job at once; ask a running job to stop at its next batch."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_terminal:
            return job
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
            job.finished_at = timezone.now()
            job.phase = "cancelled before it started"
        job.cancel_requested = True
        job.save(update_fields=["status", "finished_at", "phase", "cancel_requested"])
    return job


def requeue_job(job: Job, reason: str) -> None:
    """Put an orphaned running job back on the queue; it resumes from its last checkpoint."""
    line = f"[{timezone.now():%H:%M:%S}] re-queued: {reason}"
    with transaction.atomic():
        updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.QUEUED, worker="", worker_pid=None, phase=f"re-queued: {reason}",
            log_tail=(job.log_tail + "\n" + line).strip(),
        )
        if updated:
            append_to_log_file(job, line)
            transaction.on_commit(lambda: enqueue_job(job.pk))


def append_to_log_file(job: Job, line: str) -> None:
    """The full log lives in the job folder; the runner reloads its tail from there on resume.

    An unwritable folder does not stop a re-queue: the line is on the row, and the next run fails
    with a message naming the folder's fault.
    """
    try:
        job.workdir.mkdir(parents=True, exist_ok=True)
        with open(job.workdir / "job.log", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as exc:
        logger.warning("job %s: could not append to job.log (%s)", job.pk, exc)


def delete_job(job: Job) -> None:
    """Delete the job and its work folder; a running job is asked to stop first."""
    if job.is_active:
        cancel_job(job)
    job.delete()
