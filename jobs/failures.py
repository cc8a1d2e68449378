"""Say in the analyst's words why a job failed when the machine, not the algorithm, was at fault.

A full disk or an unwritable job folder surfaces deep inside an algorithm as ``OSError`` (or as
PyTorch's ``enforce fail ... unexpected pos`` when a checkpoint write is cut short). The runner
turns such an error into a message that names the cause and the folder.
"""
from __future__ import annotations

import errno
import traceback
from pathlib import Path

from mlcore.diskspace import as_disk_error

NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENOENT}


def os_error_in(exc: BaseException) -> OSError | None:
    """The first OSError in ``exc``'s chain (``raise ... from`` and implicit context)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno:
            return current
        current = current.__cause__ or current.__context__
    return None


def disk_failure_message(exc: BaseException, workdir: Path) -> str | None:
    """A message naming the cause when ``exc`` is a disk or folder fault, else ``None``."""
    error = os_error_in(as_disk_error(exc, Path(workdir) / "checkpoint.tmp"))
    if error is None:
        return None
    where = error.filename or workdir
    detail = error.strerror or str(error)
    if error.errno in NO_SPACE:
        return f"no space left on device in the job folder {workdir} ({detail})"
    if error.errno in NOT_WRITABLE:
        return f"job folder not writable: {where} ({detail})"
    if error.errno in NOT_A_FOLDER and _inside(where, workdir):
        return f"job folder not writable: {where} ({detail}; the job folder is missing or is not a folder)"
    if error.errno == errno.EIO:
        return f"input/output error in the job folder {workdir} ({detail})"
    return None


def failure_message(exc: BaseException, workdir: Path) -> str:
    """The error text stored on the job row."""
    return disk_failure_message(exc, workdir) or f"{type(exc).__name__}: {exc}"


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _inside(path: str | Path, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True
