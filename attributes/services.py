"""Everything that changes extracted values: store a job's output, review, export, the CTR bridge.

Views, the REST API and the job hook all call these functions, so each rule lives in one place.
The engine (``pipeline``, ``evaluation``...) stays free of Django; this module is where its
output meets the database.
"""
from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.db import transaction
from django.utils import timezone

from datasets.models import Dataset
from datasets.profiling import DatasetError
from mlcore.api import Algorithm, RunContext, RunResult
from mlcore.csvsafe import safe_row

from .evaluation import find_evidence
from .models import ExtractedValue
from .pipeline import catalogue_from_table

BULK_BATCH = 5000
Status = ExtractedValue.Status


class ReviewError(ValueError):
    """A review decision that would silently overwrite a label; the message says what to do."""


# --- the job hook -----------------------------------------------------------------------------------

def review_labels(dataset: Dataset) -> dict[str, pd.DataFrame]:
    """``accepted_labels`` and ``rejected_labels`` for the next run of ``dataset``.

    When the same value was decided more than once (on different jobs), the latest decision wins.
    """
    latest: dict[tuple[str, str, str], str] = {}
    rows = (ExtractedValue.objects.filter(dataset=dataset, status__in=[Status.ACCEPTED, Status.REJECTED])
            .order_by("reviewed_at", "id").values_list("product_id", "attribute", "value", "status"))
    for product_id, attribute, value, status in rows.iterator():
        latest[(product_id, attribute, value)] = status
    frames = {}
    for status, key in ((Status.ACCEPTED, "accepted_labels"), (Status.REJECTED, "rejected_labels")):
        keys = [k for k, s in latest.items() if s == status]
        frames[key] = pd.DataFrame(keys, columns=["product_id", "attribute", "value"])
    return frames


def with_extracted_values(algorithm: Algorithm) -> Algorithm:
    """The same algorithm, run with reviewed labels and storing its predictions as rows."""

    def run(ctx: RunContext) -> RunResult:
        from jobs.models import Job

        job = Job.objects.select_related("dataset").get(pk=ctx.extra["job_id"])
        ctx.extra.update(review_labels(job.dataset))
        result = algorithm.run(ctx)
        ctx.progress(0.99, "storing extracted values")
        result.summary["extracted_rows"], result.curves["extraction"] = store_extracted_values(job, ctx, result)
        return result

    return replace(algorithm, run=run)


def store_extracted_values(job, ctx: RunContext, result: RunResult) -> tuple[int, dict]:
    """Bulk-insert the job's predictions and the labels it learned from.

    Returns the row count and the facets the pages filter by (``categories``: name -> products,
    ``attributes``). A re-run of the same job (after a worker died) replaces its rows.
    """
    frame = ctx.read_table([c for c, r in ctx.roles.items() if r != "ignore"])
    products, labels, _ = catalogue_from_table(frame, ctx.roles, accepted=ctx.extra.get("accepted_labels"),
                                               rejected=ctx.extra.get("rejected_labels"))
    predictions = pd.read_parquet(Path(ctx.workdir) / result.summary.get("predictions_file", "predictions.parquet"))
    products = products.set_index("product_id")
    if len(labels):
        evidence = find_evidence(products.loc[labels["product_id"], "title"].tolist(),
                                 products.loc[labels["product_id"], "description"].tolist(),
                                 labels["value"].tolist())
        labels = pd.concat([labels[["product_id", "attribute", "value"]].reset_index(drop=True), evidence], axis=1)
        labels = labels.assign(score=1.0, split="labelled", is_new_value=False, correct=pd.NA,
                               status=Status.FROM_LABELS)
    predictions = predictions.assign(status=Status.PREDICTED)
    rows = pd.concat([labels, predictions], ignore_index=True).sort_values(["product_id", "status"], kind="stable")
    rows = rows.join(products[["title", "description", "category"]], on="product_id")
    rows["evidence_text"] = np.where(rows["evidence_field"] == "title", rows["title"],
                                     np.where(rows["evidence_field"] == "description", rows["description"], ""))
    with transaction.atomic():
        ExtractedValue.objects.filter(job=job).delete()
        for start in range(0, len(rows), BULK_BATCH):
            ExtractedValue.objects.bulk_create(_objects(job, rows.iloc[start:start + BULK_BATCH]),
                                               batch_size=BULK_BATCH)
    stored = products.loc[rows["product_id"].unique()]
    facets = {"categories": {str(k): int(v) for k, v in stored.groupby("category").size().items()},
              "attributes": sorted(rows["attribute"].unique().tolist())}
    return len(rows), facets


def _objects(job, chunk: pd.DataFrame) -> Iterator[ExtractedValue]:
    for r in chunk.itertuples(index=False):
        yield ExtractedValue(
            job=job, dataset_id=job.dataset_id, product_id=r.product_id, title=r.title, category=r.category,
            attribute=r.attribute, value=r.value[:500], confidence=float(r.score), stated=bool(r.stated),
            evidence_field=r.evidence_field or "",
            evidence_start=None if pd.isna(r.evidence_start) else int(r.evidence_start),
            evidence_end=None if pd.isna(r.evidence_end) else int(r.evidence_end),
            evidence_text=r.evidence_text, is_new_value=bool(r.is_new_value), split=str(r.split or ""),
            correct=None if pd.isna(r.correct) else bool(r.correct), status=r.status)


# --- review -------------------------------------------------------------------------------------------

def conflicting_label(value: ExtractedValue) -> ExtractedValue | None:
    """A label (from the file or accepted) of the same product and attribute with another value."""
    return (ExtractedValue.objects
            .filter(dataset_id=value.dataset_id, product_id=value.product_id, attribute=value.attribute,
                    status__in=[Status.FROM_LABELS, Status.ACCEPTED])
            .exclude(value=value.value).order_by("-status", "id").first())


def review_value(value: ExtractedValue, *, user, decision: str) -> ExtractedValue:
    """Accept or reject one predicted value. An accept that contradicts a label is refused."""
    if decision not in ("accept", "reject"):
        raise ReviewError(f"Unknown decision {decision!r}; use accept or reject.")
    if value.status == Status.FROM_LABELS:
        raise ReviewError("This value comes from the uploaded labels; change it in the source file instead.")
    if decision == "accept":
        other = conflicting_label(value)
        if other is not None:
            origin = "the uploaded labels" if other.status == Status.FROM_LABELS else "an earlier accepted value"
            raise ReviewError(
                f"Not accepted: product {value.product_id} already has {value.attribute} = “{other.value}” from "
                f"{origin}. Reject this prediction, or fix the label in the source file and run again.")
    value.status = Status.ACCEPTED if decision == "accept" else Status.REJECTED
    value.reviewed_by, value.reviewed_at = user, timezone.now()
    value.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return value


# --- export ---------------------------------------------------------------------------------------------

EXPORT_FIELDS = ("product_id", "title", "category", "attribute", "value", "confidence", "status", "stated",
                 "evidence_field", "evidence_start", "evidence_end", "is_new_value", "split", "correct")


def _rows(queryset, chunk_size: int = 2000) -> Iterator[tuple]:
    return queryset.order_by("id").values_list(*EXPORT_FIELDS).iterator(chunk_size=chunk_size)


class _Echo:
    def write(self, text: str) -> str:
        return text


def export_csv(queryset) -> Iterator[str]:
    """The rows as CSV text, a line at a time (for a streaming response); formula-like text is escaped."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_FIELDS)
    for row in _rows(queryset):
        yield writer.writerow(safe_row(row))  # titles and values are the catalogue's text: no formulas


class _ChunkSink(io.RawIOBase):
    """A write-only file that hands its bytes out as they come, keeping its position for Parquet."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


PARQUET_SCHEMA = pa.schema([
    ("product_id", pa.string()), ("title", pa.string()), ("category", pa.string()), ("attribute", pa.string()),
    ("value", pa.string()), ("confidence", pa.float64()), ("status", pa.string()), ("stated", pa.bool_()),
    ("evidence_field", pa.string()), ("evidence_start", pa.int64()), ("evidence_end", pa.int64()),
    ("is_new_value", pa.bool_()), ("split", pa.string()), ("correct", pa.bool_()),
])


def export_parquet(queryset, row_group: int = 50_000) -> Iterator[bytes]:
    """The rows as a Parquet file, one row group at a time (bounded memory at any size)."""
    sink = _ChunkSink()
    writer = pq.ParquetWriter(sink, PARQUET_SCHEMA)
    batch: list[tuple] = []

    def flush() -> bytes:
        columns = list(zip(*batch)) if batch else [[] for _ in EXPORT_FIELDS]
        writer.write_table(pa.Table.from_arrays([pa.array(list(c), type=f.type)
                                                 for c, f in zip(columns, PARQUET_SCHEMA)], schema=PARQUET_SCHEMA))
        batch.clear()
        return sink.take()

    for row in _rows(queryset):
        batch.append(row)
        if len(batch) >= row_group:
            yield flush()
    if batch:
        yield flush()
    writer.close()
    yield sink.take()


# --- the CTR bridge ---------------------------------------------------------------------------------------

BRIDGE_STATUSES = (Status.FROM_LABELS, Status.ACCEPTED)


def attribute_features(job) -> pd.DataFrame:
    """One row per product, one column per attribute: known and accepted values (several joined by " / ")."""
    rows = (ExtractedValue.objects.filter(job=job, status__in=BRIDGE_STATUSES)
            .values_list("product_id", "attribute", "value"))
    frame = pd.DataFrame(list(rows), columns=["product_id", "attribute", "value"]).drop_duplicates()
    if frame.empty:
        return pd.DataFrame({"product_id": pd.Series(dtype=str)})
    joined = frame.sort_values("value").groupby(["product_id", "attribute"])["value"].agg(" / ".join)
    return joined.unstack("attribute").reset_index()


def _column_name(attribute: str, taken: set[str]) -> str:
    base = "attr_" + "".join(ch if ch.isalnum() else "_" for ch in attribute.lower()).strip("_")
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def add_attributes_to_ctr(job, ctr_dataset: Dataset, *, owner, name: str = "") -> Dataset:
    """A new CTR dataset: ``ctr_dataset`` with the job's known and accepted attributes as categorical columns.

    Rows are joined on the CTR dataset's item id column and the catalogue's product id; a row whose
    item has no value gets an empty cell. The result goes through ``create_dataset``, so it is
    profiled and validated like an upload. Raises :class:`DatasetError` with what to fix.
    """
    from datasets.services import create_dataset, load_frame

    if ctr_dataset.kind != "ctr":
        raise DatasetError(f"`{ctr_dataset.name}` is a {ctr_dataset.kind} dataset; pick a CTR dataset.")
    items = ctr_dataset.columns_with_role("item_id")
    if not items:
        raise DatasetError(f"`{ctr_dataset.name}` has no item id column; set the role item_id on the column "
                           "that holds the product id, then try again.")
    features = attribute_features(job)
    if len(features.columns) <= 1:
        raise DatasetError("This job has no known or accepted values yet; accept some in the review queue first.")
    frame = load_frame(ctr_dataset)
    item = items[0]
    taken = set(frame.columns)
    renames = {a: _column_name(a, taken) for a in features.columns if a != "product_id"}
    features = features.rename(columns=renames)
    keys = frame[item].astype(str).str.strip()
    keys = keys.str.replace(r"\.0$", "", regex=True) if frame[item].dtype.kind == "f" else keys
    matched = keys.isin(set(features["product_id"]))
    if not matched.any():
        sample = ", ".join(keys.drop_duplicates().head(3))
        raise DatasetError(f"None of the item ids in `{item}` (e.g. {sample}) is a product id of the catalogue "
                           f"`{job.dataset.name}`; check that both columns hold the same ids.")
    joined = frame.assign(_key=keys.to_numpy()).merge(features, how="left", left_on="_key",
                                                      right_on="product_id").drop(columns=["_key", "product_id"])
    roles = {c: r for c, r in ctr_dataset.roles.items() if c in joined.columns}
    roles.update({c: "categorical" for c in renames.values()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "with_attributes.parquet"
        joined.to_parquet(path, index=False)
        dataset = create_dataset(
            owner=owner, source_file=path, filename=f"{Path(ctr_dataset.original_filename).stem}_attributes.parquet",
            name=name or f"{ctr_dataset.name} + attributes", kind="ctr", source=Dataset.Source.DERIVED,
            description=f"{ctr_dataset.name} joined on `{item}` with the known and accepted attribute values of "
                        f"job #{job.pk} ({matched.mean():.1%} of rows matched a product).",
            role_overrides=roles)
    return dataset
