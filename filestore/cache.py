"""A bounded local cache of files staged from the store (a worker's copies of dataset tables).

Entries are named by what they contain (a dataset's checksum and copy version), so two hosts or two
jobs never disagree about what a name holds and a changed copy never hits a stale entry. The cache
is kept under ``WORKER_CACHE_MAX_MB``: after staging, the least recently used entries (file mtime,
touched on every hit) are removed until the rest fits; the entry just staged is never removed.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from django.conf import settings

from . import services

logger = logging.getLogger(__name__)


def cache_name(checksum: str, version: str, suffix: str = "") -> str:
    """An entry's file name: the content checksum plus a short hash of the copy's version."""
    tag = hashlib.sha256(version.encode()).hexdigest()[:12]
    return f"{checksum}-{tag}{suffix}"


def stage(key: str, name: str, folder: Path | None = None, max_bytes: int | None = None) -> Path:
    """``key`` as a local file in the cache (fetched on a miss), marked as just used."""
    folder = Path(folder or settings.WORKER_CACHE_DIR)
    path = folder / name
    if path.exists():
        os.utime(path)
        return path
    services.fetch(key, path)
    limit = int(settings.WORKER_CACHE_MAX_MB * 1024 * 1024) if max_bytes is None else max_bytes
    evict(folder, limit, keep=path)
    return path


def evict(folder: Path, max_bytes: int, keep: Path | None = None) -> list[Path]:
    """Remove least recently used entries until the folder holds at most ``max_bytes``; return them."""
    entries = []
    for path in folder.iterdir() if folder.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if keep is not None and path == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
        logger.info("cache: evicted %s (%d bytes)", path.name, size)
    return removed
