"""Free-space checks for a job's folder, and the errors a full or unwritable disk turns into.

Django-free: the worker sets :data:`MIN_FREE_BYTES` from ``JOB_MIN_FREE_MB`` before a job starts;
the trainer calls :func:`ensure_free_space` before each checkpoint.
"""
from __future__ import annotations

import errno
import shutil
from pathlib import Path

MIN_FREE_BYTES = 100 * 1024 * 1024


def free_bytes(folder: Path) -> int:
    """Free bytes on the file system holding ``folder`` (or its nearest existing parent)."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def ensure_free_space(folder: Path, min_bytes: int | None = None) -> None:
    """Raise ``OSError(ENOSPC)`` when ``folder``'s file system has less than ``min_bytes`` free."""
    need = MIN_FREE_BYTES if min_bytes is None else min_bytes
    free = free_bytes(folder)
    if free < need:
        raise OSError(errno.ENOSPC, f"No space left on device: {free / 2**20:,.1f} MB free, "
                                    f"at least {need / 2**20:,.0f} MB needed (JOB_MIN_FREE_MB)", str(folder))


def is_torch_write_failure(exc: BaseException) -> bool:
    """PyTorch's zip writer reports a failed write (disk full) as ``enforce fail ... unexpected pos``."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("unexpected pos" in text or "PytorchStreamWriter failed" in text)


def as_disk_error(exc: BaseException, path: Path) -> BaseException:
    """The OSError a failed checkpoint write really was: ENOSPC when the disk is (nearly) full."""
    if isinstance(exc, OSError) or not is_torch_write_failure(exc):
        return exc
    if free_bytes(Path(path).parent) < max(MIN_FREE_BYTES, 1024 * 1024):
        return OSError(errno.ENOSPC, f"No space left on device while writing {Path(path).name} ({exc})", str(path))
    return OSError(errno.EIO, f"could not write {Path(path).name}: {exc}", str(path))
