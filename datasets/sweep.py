"""Remove what unfinished uploads left behind: staging folders and Django's upload temp files.

``create_dataset`` removes its staging folder when it fails, but a web process killed mid-upload
(or mid-profiling) cannot: its files stay in ``MEDIA_ROOT/datasets/_staging/`` and in
``FILE_UPLOAD_TEMP_DIR``. :func:`sweep_uploads` deletes every entry of the folders listed in
``UPLOAD_SWEEP_DIRS`` untouched for ``UPLOAD_STALE_SECONDS`` (newest modification time of the entry
and everything inside it, so an upload still being written is never swept). Workers run it at start
and periodically; ``manage.py sweep_uploads`` runs it by hand.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    removed: list[Path] = field(default_factory=list)
    bytes_freed: int = 0


def sweep_uploads(folders: list[str | Path] | None = None, older_than: float | None = None,
                  now: float | None = None) -> SweepResult:
    """Delete stale entries of ``folders`` (default ``UPLOAD_SWEEP_DIRS``); return what went."""
    folders = settings.UPLOAD_SWEEP_DIRS if folders is None else folders
    older_than = settings.UPLOAD_STALE_SECONDS if older_than is None else older_than
    cutoff = (time.time() if now is None else now) - older_than
    result = SweepResult()
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            try:
                newest, size = _newest_mtime_and_size(entry)
                if newest >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:
                continue  # finished or removed by its own request meanwhile
            except OSError as exc:
                logger.warning("upload sweep could not remove %s: %s", entry, exc)
                continue
            result.removed.append(entry)
            result.bytes_freed += size
    if result.removed:
        logger.warning("upload sweep removed %d orphan upload file(s)/folder(s), %.1f MB",
                       len(result.removed), result.bytes_freed / 2**20)
    return result


def _newest_mtime_and_size(entry: Path) -> tuple[float, int]:
    stat = entry.lstat()
    newest, size = stat.st_mtime, stat.st_size
    if entry.is_dir() and not entry.is_symlink():
        for root, dirs, files in os.walk(entry):
            for name in dirs + files:
                sub = os.lstat(os.path.join(root, name))
                newest, size = max(newest, sub.st_mtime), size + sub.st_size
    return newest, size
