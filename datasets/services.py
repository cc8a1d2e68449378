"""Everything that changes datasets: upload, roles, re-validation, deletion.

The browser, the API, the admin and the demo loader all call these functions, so a rule lives in
one place. A failed upload leaves neither a row nor a file behind.
"""
from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from filestore import cache as filestore_cache
from filestore import services as filestore
from mlcore.columnar import ColumnarTable

from .kinds import get_kind
from .models import Dataset
from .ingest import ingest_file
from .profiling import BASE_ROLES, DatasetError, TableProfile, detect_format
from .uploads import size_limit_message

COPY_CHUNK = 4 * 1024 * 1024
COLUMNAR_NAME = "columnar.parquet"
INLINE_EXPANSION = 16  # a gzip profiled in the request may expand to this many times the inline size


def datasets_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "datasets"


@dataclass
class IngestResult:
    """What one streamed pass learned: the profile, the columns with roles, and the verdict."""

    profile: TableProfile
    columns: list[dict[str, Any]]
    errors: list[str]
    warnings: list[str]
    pending: list[str]  # guesses that change the data's meaning, to be confirmed by the analyst

    @property
    def status(self) -> str:
        if self.errors:
            return Dataset.Status.INVALID
        return Dataset.Status.NEEDS_ROLES if self.pending else Dataset.Status.READY


def _ingest(path: Path, columnar: Path, kind, delimiter: str | None, overrides: dict[str, str],
            progress=None, keep_known: bool = False, max_decompressed_bytes: int | None = None) -> IngestResult:
    """Profile ``path`` and write its columnar copy to ``columnar`` in one pass; raise DatasetError."""
    limit = settings.DATASET_MAX_DECOMPRESSED_BYTES
    profile = ingest_file(path, columnar, delimiter=delimiter, progress=progress,
                          max_decompressed_bytes=min(limit, max_decompressed_bytes or limit))
    if keep_known:  # re-validation: keep earlier roles only for columns that are still there
        names = {c["name"] for c in profile.columns}
        overrides = {n: r for n, r in overrides.items() if n in names}
    columns = _apply_roles(profile, kind, overrides)
    errors, warnings = kind.check(columns, profile.n_rows)
    pending = [message for column, message in kind.unconfirmed_roles(columns) if column not in overrides]
    return IngestResult(profile, columns, errors, profile.warnings + warnings + pending, pending)


def _result_fields(result: IngestResult, folder: Path, path: Path) -> dict[str, Any]:
    """The Dataset fields a finished ingest sets (the verdict included)."""
    columnar = folder / COLUMNAR_NAME if result.profile.copied else path
    return dict(
        status=result.status, progress=1.0, file_format=result.profile.file_format,
        delimiter=result.profile.delimiter or "", n_rows=result.profile.n_rows, columns=result.columns,
        preview=result.profile.preview, warnings=result.warnings, errors=result.errors,
        columnar_path=str(columnar.relative_to(settings.MEDIA_ROOT)), validated_at=timezone.now(),
    )


def create_dataset(
    *,
    owner,
    source_file: IO[bytes] | Path,
    filename: str,
    name: str = "",
    kind: str = "ctr",
    description: str = "",
    delimiter: str | None = None,
    role_overrides: dict[str, str] | None = None,
    source: str = Dataset.Source.UPLOAD,
    move: bool = False,
    inline: bool | None = None,
) -> Dataset:
    """Store an uploaded table, stream it once into its columnar copy and profile, and return the dataset.

    ``source_file`` is read in chunks (an UploadedFile or an open binary file) or taken from a path
    (copied, or moved when ``move``). Files up to ``DATASET_INLINE_PROFILE_MB`` (or any, with
    ``inline=True``) are profiled here: on a problem :class:`DatasetError` is raised and nothing is
    kept; otherwise the dataset is *ready* or *needs roles*. Bigger files (or ``inline=False``) are
    stored, the row is created as *profiling* and a worker profiles it (``datasets.tasks``); its
    errors then stay on the dataset page.
    """
    dataset_kind = get_kind(kind)
    overrides = dict(role_overrides or {})
    filename = Path(filename).name or "upload.csv"
    staging = datasets_root() / "_staging" / uuid.uuid4().hex
    staging.mkdir(parents=True, exist_ok=True)
    final_dir: Path | None = None
    try:
        target = staging / _safe_name(filename)
        size = _store(source_file, target, move)
        digest = _start_sha256(target)
        if inline is None:
            inline = size <= settings.DATASET_INLINE_PROFILE_BYTES
        result = None
        if inline:
            # A small gzip may expand a thousandfold: past INLINE_EXPANSION x the inline size, stop
            # reading in the request and let a worker finish (and apply the real limit).
            inline_text = settings.DATASET_INLINE_PROFILE_BYTES * INLINE_EXPANSION
            try:
                result = _ingest(target, staging / COLUMNAR_NAME, dataset_kind, delimiter, overrides,
                                 max_decompressed_bytes=inline_text)
            except DatasetError as exc:
                if getattr(exc, "decompressed_limit", None) != inline_text or inline_text >= settings.DATASET_MAX_DECOMPRESSED_BYTES:
                    raise
            if result is not None and result.errors:
                raise DatasetError(result.errors)
        final_dir = datasets_root() / uuid.uuid4().hex
        staging.rename(final_dir)
        path = final_dir / target.name
        fields = dict(
            name=name.strip() or Path(filename).stem, kind=kind, owner=owner, description=description, source=source,
            file_path=str(path.relative_to(settings.MEDIA_ROOT)), original_filename=filename, size_bytes=size,
            sha256=digest.result(), file_format=detect_format(path), delimiter=delimiter or "", requested_roles=overrides,
            status=Dataset.Status.PROFILING, progress=0.0,
        )
        if result is not None:
            fields.update(_result_fields(result, final_dir, path))
        publish_files(fields)
        with transaction.atomic():
            dataset = Dataset.objects.create(**fields)
            if result is None:
                pk = dataset.pk
                transaction.on_commit(lambda: _enqueue_profiling(pk))
        return dataset
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if final_dir is not None:
            shutil.rmtree(final_dir, ignore_errors=True)
        raise


def _enqueue_profiling(dataset_id: int) -> None:
    from .tasks import enqueue_profiling

    enqueue_profiling(dataset_id)


PROGRESS_INTERVAL = 0.5  # seconds between progress writes while profiling


def complete_profiling(dataset_id: int) -> Dataset | None:
    """Profile a stored upload (status *profiling*) on a worker, with progress, and record the verdict.

    An unreadable file or a failed check makes the dataset *invalid* with its errors kept for the
    analyst; nothing is deleted. Returns None when the dataset is gone or was already profiled (a
    redelivered task).
    """
    dataset = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PROFILING).first()
    if dataset is None:
        return None
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            Dataset.objects.filter(pk=dataset_id).update(progress=round(fraction, 4))

    try:
        filestore.local_copy(dataset.file_path)
        result = _ingest(dataset.path, dataset.folder / COLUMNAR_NAME, get_kind(dataset.kind),
                         dataset.delimiter or None, dataset.requested_roles or {}, progress)
    except (DatasetError, FileNotFoundError) as exc:
        messages = exc.messages if isinstance(exc, DatasetError) else [f"The stored file is missing: {exc}"]
        fields = dict(status=Dataset.Status.INVALID, errors=messages, progress=1.0, validated_at=timezone.now())
    else:
        fields = _result_fields(result, dataset.folder, dataset.path)
        publish_files(fields)
    # update(), not save(): a dataset deleted meanwhile must not come back.
    Dataset.objects.filter(pk=dataset_id).update(**fields)
    return Dataset.objects.filter(pk=dataset_id).first()


def _safe_name(filename: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
    return keep.strip("._") or "upload"


def _store(source: IO[bytes] | Path, target: Path, move: bool) -> int:
    """Put the upload at ``target`` (moving a path when ``move``) and return its size.

    A file on disk (a path, or an upload Django spooled to a temporary file) is copied by the
    kernel (``shutil.copyfile``: no bytes through Python); anything else is copied in chunks. The
    checksum is not computed here: see :func:`_start_sha256`.
    """
    limit = settings.DATASET_MAX_UPLOAD_BYTES
    on_disk = source if isinstance(source, (str, Path)) else getattr(source, "temporary_file_path", lambda: None)()
    if on_disk is not None:
        size = Path(on_disk).stat().st_size
        if size > limit:
            raise DatasetError(size_limit_message(limit))
        if move and isinstance(source, (str, Path)):
            shutil.move(str(source), target)
        else:
            shutil.copyfile(on_disk, target)
        return size
    size = 0
    if hasattr(source, "seek"):
        source.seek(0)
    chunks = source.chunks(COPY_CHUNK) if hasattr(source, "chunks") else iter(lambda: source.read(COPY_CHUNK), b"")
    with open(target, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise DatasetError(size_limit_message(limit))
            out.write(chunk)
    return size


def _start_sha256(path: Path) -> Future:
    """The SHA-256 of the stored upload, computed on a thread while the ingest reads the file
    (hashlib releases the GIL), instead of before it: the result is a future of the hex digest.
    The file is opened here, so moving its folder meanwhile does not matter."""
    fh = open(path, "rb", buffering=0)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-sha256")
    try:
        return pool.submit(_sha256, fh)
    finally:
        pool.shutdown(wait=False)


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(COPY_CHUNK)
    view = memoryview(buffer)
    with fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def _apply_roles(profile: TableProfile, kind, overrides: dict[str, str]) -> list[dict[str, Any]]:
    columns = [dict(c) for c in profile.columns]
    kind.infer_roles(columns)
    names = {c["name"] for c in columns}
    missing = [n for n in overrides if n not in names]
    if missing:
        raise DatasetError(
            f"Column(s) {', '.join(repr(m) for m in missing)} not found in the file. Columns are: {', '.join(sorted(names))}."
        )
    allowed = set(kind.roles)
    for column in columns:
        role = overrides.get(column["name"])
        if role:
            if role not in allowed:
                raise DatasetError(f"Role {role!r} is not valid for a {kind.label} dataset; choose one of {', '.join(kind.roles)}.")
            if role in {"label"}:
                for other in columns:
                    if other["role"] == role and other["name"] != column["name"] and other["name"] not in overrides:
                        other["role"] = "categorical"
            column["role"] = role
    return columns


def update_roles(dataset: Dataset, roles: dict[str, str]) -> Dataset:
    """Apply the analyst's corrections of column roles, re-running the kind's checks.

    Raises :class:`DatasetError` (and changes nothing) when the new roles break a rule, e.g. two
    label columns or a non-binary label.
    """
    kind = get_kind(dataset.kind)
    if dataset.status == Dataset.Status.PROFILING:
        raise DatasetError("The file is still being profiled; set roles once its columns are known.")
    if not dataset.columns:
        raise DatasetError("The file could not be read, so it has no columns to give roles to; delete it and upload "
                           "a corrected file.")
    names = {c["name"] for c in dataset.columns}
    unknown = [n for n in roles if n not in names]
    if unknown:
        raise DatasetError(f"Unknown column(s): {', '.join(unknown)}.")
    bad = {n: r for n, r in roles.items() if r not in kind.roles}
    if bad:
        raise DatasetError(
            "; ".join(f"role {r!r} for {n!r} is not valid; choose one of {', '.join(kind.roles)}" for n, r in bad.items())
        )
    columns = [dict(c, role=roles.get(c["name"], c["role"])) for c in dataset.columns]
    errors, warnings = kind.check(columns, dataset.n_rows)
    if errors:
        raise DatasetError(errors)
    dataset.columns = columns
    dataset.warnings = warnings
    dataset.errors = []
    dataset.status = Dataset.Status.READY  # the analyst has now seen and confirmed every role
    dataset.save(update_fields=["columns", "warnings", "errors", "status"])
    return dataset


def revalidate_dataset(dataset: Dataset) -> Dataset:
    """Profile the stored file again and rewrite its columnar copy (admin action); keeps the
    analyst's roles where columns remain."""
    kind = get_kind(dataset.kind)
    previous = {n: r for n, r in dataset.roles.items() if r in kind.roles}
    try:
        filestore.local_copy(dataset.file_path)
        result = _ingest(dataset.path, dataset.folder / COLUMNAR_NAME, kind, dataset.delimiter or None,
                         previous if dataset.columns else dataset.requested_roles or {}, keep_known=True)
    except (DatasetError, FileNotFoundError) as exc:
        errors = exc.messages if isinstance(exc, DatasetError) else [f"The stored file is missing: {exc}"]
        fields = dict(status=Dataset.Status.INVALID, errors=errors, validated_at=timezone.now(), progress=1.0)
    else:
        fields = _result_fields(result, dataset.folder, dataset.path)
        publish_files(fields)
    for key, value in fields.items():
        setattr(dataset, key, value)
    dataset.save()
    return dataset


def delete_dataset(dataset: Dataset) -> None:
    """Delete the row, its jobs and every file (the post_delete signal removes the folder)."""
    dataset.delete()


def load_frame(dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
    """The dataset as a DataFrame (only ``columns`` when given), for training and scoring."""
    return columnar_table(dataset).read(columns)


def columnar_table(dataset: Dataset) -> ColumnarTable:
    """The dataset's typed columnar copy (Parquet): the one way every reader gets at the data.

    Ingest writes it up front (``columnar_path``); for a dataset that predates that, it is written
    here on first use by the same streamed ingest, and recorded. With an object store, a host that
    does not have the copy in its own working area (a worker on another machine) stages it into its
    bounded cache (:mod:`filestore.cache`), keyed by the dataset's checksum and copy version.
    """
    if dataset.columnar_path:
        path = Path(settings.MEDIA_ROOT) / dataset.columnar_path
        if path.exists():
            return ColumnarTable(path)
        if filestore.is_remote() and filestore.exists(dataset.columnar_path):
            return ColumnarTable(filestore_cache.stage(dataset.columnar_path, columnar_cache_name(dataset)))
    filestore.local_copy(dataset.file_path)
    target = dataset.folder / COLUMNAR_NAME
    profile = ingest_file(dataset.path, target, delimiter=dataset.delimiter or None,
                          max_decompressed_bytes=settings.DATASET_MAX_DECOMPRESSED_BYTES)
    path = target if profile.copied else dataset.path
    dataset.columnar_path = str(path.relative_to(settings.MEDIA_ROOT))
    filestore.publish(path, dataset.columnar_path)
    Dataset.objects.filter(pk=dataset.pk).update(columnar_path=dataset.columnar_path)
    return ColumnarTable(path)


def columnar_cache_name(dataset: Dataset) -> str:
    """The cache entry for a dataset's copy: its checksum, and the copy's path and validation time
    (re-validation rewrites the copy, so it must not hit the old entry)."""
    version = f"{dataset.columnar_path}@{dataset.validated_at.isoformat() if dataset.validated_at else ''}"
    return filestore_cache.cache_name(dataset.sha256, version, suffix=Path(dataset.columnar_path).suffix or ".parquet")


def publish_files(fields: dict[str, Any]) -> None:
    """Copy a dataset's original and columnar copy (keys = their MEDIA_ROOT paths) to the store."""
    for key in dict.fromkeys(k for k in (fields.get("file_path"), fields.get("columnar_path")) if k):
        filestore.publish(Path(settings.MEDIA_ROOT) / key, key)


def all_roles() -> tuple[str, ...]:
    return BASE_ROLES
