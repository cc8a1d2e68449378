"""A job's folder in the object store: what a worker restores, uploads while training, and publishes.

The worker trains in a local job folder (``MEDIA_ROOT/jobs/<pk>``, its own host's disk). With an
object store (``OBJECT_STORAGE=s3``) the store holds the truth: each epoch checkpoint is uploaded as
soon as it is written, the log every ``OBJECT_STORAGE_LOG_SECONDS``, and every file the job made when
it ends; a run that starts on another host first fetches the newest checkpoint and log, so a job
re-queued after a worker death resumes from its last epoch. The web reads finished jobs' files
through :func:`local_file` (fetched on demand into its own working area). With local storage every
function here copies nothing.
"""
from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from filestore import services as filestore

from .models import Job

logger = logging.getLogger(__name__)

RESUME_FILES = ("checkpoint.pt", "job.log")  # what a run on a new host needs to carry on
SKIP_FOLDERS = ("encoded",)  # rebuilt from the dataset by any run; never worth the upload


def key(job: Job, name: str = "") -> str:
    """The store key of a file in the job's folder (its path under MEDIA_ROOT)."""
    return f"jobs/{job.pk}/{name}" if name else f"jobs/{job.pk}"


def restore(job: Job) -> list[str]:
    """Fetch the checkpoint (when newer than this host's) and the log from the store; return their names.

    The log is merged, not replaced: lines this host appended since (the re-queue note) follow the
    stored log, and a host whose own log already holds the stored one keeps its own.
    """
    if not filestore.is_remote():
        return []
    fetched = []
    checkpoint, log = job.workdir / RESUME_FILES[0], job.workdir / RESUME_FILES[1]
    if filestore.exists(key(job, checkpoint.name)) and not (
            checkpoint.exists() and checkpoint.stat().st_mtime >= filestore.modified_timestamp(key(job, checkpoint.name))):
        filestore.fetch(key(job, checkpoint.name), checkpoint)
        fetched.append(checkpoint.name)
    if filestore.exists(key(job, log.name)):
        stored = filestore.fetch(key(job, log.name), log.with_name(".job.log.stored"))
        stored_text = stored.read_text(encoding="utf-8", errors="replace")
        local_text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if not local_text.startswith(stored_text):
            log.write_text(stored_text + local_text, encoding="utf-8")
            fetched.append(log.name)
        stored.unlink()
    return fetched


def publish_file(job: Job, path: Path) -> None:
    """Upload one file of the job folder (a checkpoint just written, the log)."""
    if filestore.is_remote() and path.exists():
        filestore.publish(path, key(job, Path(path).relative_to(job.workdir).as_posix()))


def publish_folder(job: Job) -> list[str]:
    """Upload every file the job wrote (model, scores, plan, predictions, encoder, log); return keys."""
    if not filestore.is_remote() or not job.workdir.is_dir():
        return []
    published = []
    for path in sorted(job.workdir.rglob("*")):
        relative = path.relative_to(job.workdir)
        if not path.is_file() or relative.parts[0] in SKIP_FOLDERS or path.suffix in (".tmp", ".part"):
            continue
        filestore.publish(path, key(job, relative.as_posix()))
        published.append(key(job, relative.as_posix()))
    return published


def local_file(job: Job, name: str) -> Path:
    """A finished job's file on this host, fetched from the store when this host lacks it.

    Returns the local path even when the file exists nowhere, so callers keep their own "missing"
    handling (``path.exists()``).
    """
    try:
        return filestore.local_copy(key(job, name))
    except FileNotFoundError:
        return job.workdir / name


def artifact_key(job: Job) -> str:
    """The model file's key (``artifact_path`` is recorded relative to MEDIA_ROOT, which is the key)."""
    return Path(job.artifact_path).as_posix()


def delete(job: Job) -> None:
    """Remove the job's objects from the store (its local folder is removed by the signal)."""
    if filestore.is_remote():
        try:
            filestore.delete_prefix(key(job))
        except Exception as exc:  # noqa: BLE001 - the row is gone either way; say what was left behind
            logger.warning("job %s: could not delete its files from the object store (%s)", job.pk, exc)


def remote() -> bool:
    """True when job files must be copied to an object store (``OBJECT_STORAGE=s3``)."""
    return filestore.is_remote()


def log_interval() -> float:
    return float(settings.OBJECT_STORAGE_LOG_SECONDS)
