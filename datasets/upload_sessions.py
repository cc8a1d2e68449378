"""Chunked, resumable uploads: a multi-GB file arrives in many small requests, then becomes a dataset.

``start_upload`` opens a session; ``append_chunk`` appends bytes at the session's current offset
only (a chunk for any other offset is refused with the offset to resume from); ``complete_upload``
hands the finished file to :func:`datasets.services.create_dataset`, the same ingest as every other
upload. The offset is the staging file's size on disk, so a crash loses at most the chunk in flight.
Unfinished sessions live in ``DATASET_UPLOAD_SESSIONS_DIR`` (one ``<id>.part`` file each).
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from .models import Dataset, UploadSession, upload_sessions_dir
from .uploads import size_limit_message

READ_PIECE = 1024 * 1024
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class UploadError(Exception):
    """A chunk or session request that cannot be honoured; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, offset: int | None = None):
        super().__init__(message)
        self.message, self.status, self.offset = message, status, offset


def start_upload(*, owner, filename: str, size: int) -> UploadSession:
    """Open a session for a file of ``size`` bytes; refused (413) above ``DATASET_MAX_UPLOAD_MB``."""
    if size <= 0:
        raise UploadError("The file is empty (0 bytes).")
    if size > settings.DATASET_MAX_UPLOAD_BYTES:
        raise UploadError(size_limit_message(settings.DATASET_MAX_UPLOAD_BYTES), status=413)
    session = UploadSession.objects.create(owner=owner, filename=Path(filename).name or "upload.csv", size=size)
    upload_sessions_dir().mkdir(parents=True, exist_ok=True)
    session.path.touch()
    return session


def parse_content_range(header: str | None) -> tuple[int, int, int]:
    """``bytes START-END/TOTAL`` (END inclusive) as three ints, or UploadError 400."""
    m = _RANGE.fullmatch((header or "").strip())
    if not m:
        raise UploadError("Send each chunk with a Content-Range header: `bytes START-END/TOTAL` (END inclusive).")
    start, end, total = map(int, m.groups())
    if end < start:
        raise UploadError("Content-Range END must not be before START.", status=416)
    return start, end, total


def append_chunk(session: UploadSession, content_range: str | None, body: IO[bytes], content_length: int | None) -> int:
    """Append one chunk at the current offset and return the new offset.

    409 when the chunk does not start at the received offset (the answer carries it: resume there);
    416 when the range runs past the announced size; 413 for a chunk over ``DATASET_UPLOAD_CHUNK_MB``.
    A chunk cut short is rolled back, so the offset always counts whole chunks.
    """
    start, end, total = parse_content_range(content_range)
    if total != session.size:
        raise UploadError(f"Content-Range total {total:,} differs from the announced size {session.size:,}.")
    if end >= session.size:
        raise UploadError(f"The range ends at byte {end:,}, past the file's last byte ({session.size - 1:,}).",
                          status=416)
    length = end - start + 1
    if length > settings.DATASET_UPLOAD_CHUNK_BYTES:
        raise UploadError(f"Chunks may be at most {settings.DATASET_UPLOAD_CHUNK_BYTES // 1024 // 1024} MB "
                          "(DATASET_UPLOAD_CHUNK_MB).", status=413)
    if content_length is not None and content_length != length:
        raise UploadError(f"The body has {content_length:,} bytes but Content-Range names {length:,}.")
    with open(session.path, "ab") as out:
        fcntl.flock(out, fcntl.LOCK_EX)  # two requests for the same offset: the second sees the first's bytes
        try:
            offset = out.seek(0, os.SEEK_END)
            if start != offset:
                raise UploadError(f"This upload has {offset:,} bytes; send the chunk starting there.", status=409,
                                  offset=offset)
            written = 0
            while written < length:
                piece = body.read(min(READ_PIECE, length - written))
                if not piece:
                    break
                out.write(piece)
                written += len(piece)
            if written != length or body.read(1):
                out.truncate(offset)
                raise UploadError(f"The chunk held {written:,} bytes, not the {length:,} its Content-Range names; "
                                  f"send it again from byte {offset:,}.", offset=offset)
            out.flush()
            os.fsync(out.fileno())
        finally:
            fcntl.flock(out, fcntl.LOCK_UN)
    session.save(update_fields=["updated_at"])  # the sweep of abandoned sessions reads this
    return offset + length


def complete_upload(session: UploadSession, **dataset_fields: Any) -> Dataset:
    """Turn a fully received upload into a dataset through the usual ingest; the session ends either way."""
    from .services import create_dataset

    received = session.received
    if received != session.size:
        raise UploadError(f"The upload has {received:,} of {session.size:,} bytes; send the rest first.", status=409,
                          offset=received)
    try:
        return create_dataset(owner=session.owner, source_file=session.path, filename=session.filename, move=True,
                              **dataset_fields)
    finally:
        abort_upload(session)  # the file was moved into the dataset, or refused (with the reason) and removed


def abort_upload(session: UploadSession) -> None:
    session.path.unlink(missing_ok=True)
    session.delete()
