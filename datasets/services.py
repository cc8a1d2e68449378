"""Everything that changes datasets: upload, roles, re-validation, deletion.

The browser, the API, the admin and the demo loader all call these functions, so a rule lives in
one place. A failed upload leaves neither a row nor a file behind.
"""
from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlcore.columnar import ColumnarTable

from .kinds import get_kind
from .models import Dataset
from .profiling import BASE_ROLES, DatasetError, TableProfile, iter_chunks, profile_file
from .uploads import size_limit_message

COPY_CHUNK = 4 * 1024 * 1024


def datasets_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "datasets"


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
) -> Dataset:
    """Store, profile and validate an uploaded table; return the new ready dataset.

    ``source_file`` is read in chunks (an UploadedFile or an open binary file) or copied from a
    path. Raises :class:`DatasetError` with messages for the analyst; then nothing is kept.
    """
    dataset_kind = get_kind(kind)
    filename = Path(filename).name or "upload.csv"
    staging = datasets_root() / "_staging" / uuid.uuid4().hex
    staging.mkdir(parents=True, exist_ok=True)
    final_dir: Path | None = None
    try:
        target = staging / _safe_name(filename)
        size, digest = _copy_with_hash(source_file, target)
        if size > settings.DATASET_MAX_UPLOAD_BYTES:
            raise DatasetError(size_limit_message(settings.DATASET_MAX_UPLOAD_BYTES))
        profile = profile_file(target, delimiter=delimiter or None)
        columns = _apply_roles(profile, dataset_kind, role_overrides or {})
        errors, warnings = dataset_kind.check(columns, profile.n_rows)
        if errors:
            raise DatasetError(errors)
        final_dir = datasets_root() / uuid.uuid4().hex
        staging.rename(final_dir)
        with transaction.atomic():
            dataset = Dataset.objects.create(
                name=name.strip() or Path(filename).stem,
                kind=kind,
                owner=owner,
                description=description,
                source=source,
                status=Dataset.Status.READY,
                file_path=str((final_dir / target.name).relative_to(settings.MEDIA_ROOT)),
                original_filename=filename,
                file_format=profile.file_format,
                delimiter=profile.delimiter or "",
                size_bytes=size,
                sha256=digest,
                n_rows=profile.n_rows,
                columns=columns,
                preview=profile.preview,
                warnings=profile.warnings + warnings,
                validated_at=timezone.now(),
            )
        return dataset
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if final_dir is not None:
            shutil.rmtree(final_dir, ignore_errors=True)
        raise


def _safe_name(filename: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
    return keep.strip("._") or "upload"


def _copy_with_hash(source: IO[bytes] | Path, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    limit = settings.DATASET_MAX_UPLOAD_BYTES
    if isinstance(source, (str, Path)):
        source_fh: IO[bytes] = open(source, "rb")
        close = True
    else:
        source_fh, close = source, False
        if hasattr(source_fh, "seek"):
            source_fh.seek(0)
    try:
        chunks = source_fh.chunks(COPY_CHUNK) if hasattr(source_fh, "chunks") else iter(lambda: source_fh.read(COPY_CHUNK), b"")
        with open(target, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise DatasetError(size_limit_message(limit))
                digest.update(chunk)
                out.write(chunk)
    finally:
        if close:
            source_fh.close()
    return size, digest.hexdigest()


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
    dataset.save(update_fields=["columns", "warnings"])
    return dataset


def revalidate_dataset(dataset: Dataset) -> Dataset:
    """Profile the stored file again (admin action); keeps the analyst's roles where columns remain."""
    kind = get_kind(dataset.kind)
    previous = dataset.roles
    try:
        profile = profile_file(dataset.path, delimiter=dataset.delimiter or None)
        columns = [dict(c) for c in profile.columns]
        kind.infer_roles(columns)
        for c in columns:
            if c["name"] in previous and previous[c["name"]] in kind.roles:
                c["role"] = previous[c["name"]]
        errors, warnings = kind.check(columns, profile.n_rows)
        dataset.columns, dataset.n_rows, dataset.preview = columns, profile.n_rows, profile.preview
        dataset.warnings = warnings
    except (DatasetError, FileNotFoundError) as exc:
        errors = exc.messages if isinstance(exc, DatasetError) else [f"The stored file is missing: {exc}"]
    dataset.errors = errors
    dataset.status = Dataset.Status.INVALID if errors else Dataset.Status.READY
    dataset.validated_at = timezone.now()
    dataset.save()
    return dataset


def delete_dataset(dataset: Dataset) -> None:
    """Delete the row, its jobs and every file (the post_delete signal removes the folder)."""
    dataset.delete()


def load_frame(dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
    """The dataset as a DataFrame (only ``columns`` when given), for training and scoring."""
    return columnar_table(dataset).read(columns)


COLUMNAR_NAME = "columnar.parquet"


def columnar_table(dataset: Dataset) -> ColumnarTable:
    """The dataset's typed columnar copy (Parquet), written from the original file on first use."""
    if dataset.file_format == "parquet":
        return ColumnarTable(dataset.path)
    target = dataset.folder / COLUMNAR_NAME
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        writer = None
        try:
            for chunk in iter_chunks(dataset.path, dataset.file_format, dataset.delimiter or None):
                chunk.columns = [str(c).strip() for c in chunk.columns]
                batch = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, batch.schema)
                writer.write_table(batch.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        tmp.replace(target)
    return ColumnarTable(target)


def all_roles() -> tuple[str, ...]:
    return BASE_ROLES
