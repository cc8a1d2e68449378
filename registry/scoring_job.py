"""The scoring job: one job type for every kind, run by the ordinary runner (progress, cancel, log).

Its dataset is the table of new rows; ``params`` name the run whose model scores them
(``source_job``) and the registry version it came through (``model_version``, 0 for none). The
table is streamed with ``ctx.table.iter_frames`` in chunks of ``chunk_rows``; each scored chunk is
appended to a Parquet file in the job folder, which is then registered as a ``predictions``
dataset (source: derived) linked from the job page. When the new rows carry labels, the job's
summary holds the same metrics on them beside the training run's held-out numbers (``drift``).
"""
from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mlcore.api import Algorithm, Param, RunContext, RunResult

PREDICTIONS_FILE = "predictions.parquet"
DRIFT_KEYS = {
    "ctr": ("auc", "logloss"),
    "uplift": ("sklift_qini_ctr", "sklift_auuc_ctr", "sklift_qini_ctcvr", "sklift_auuc_ctcvr"),
    "attributes": (),
}


class PredictionWriter:
    """Appends scored frames to one Parquet file; the first non-empty frame fixes the schema."""

    def __init__(self, path: Path):
        self.path, self.writer, self.rows = path, None, 0

    def write(self, frame) -> None:
        if frame is None or not len(frame):
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows += len(frame)

    def close(self, empty_columns: list[str]) -> None:
        if self.writer is None:  # nothing scored (e.g. no value passed the threshold): an empty table
            pq.write_table(pa.table({c: pa.array([], pa.string()) for c in empty_columns}), self.path)
        else:
            self.writer.close()


def stream_scores(ctx: RunContext, scorer, out_path: Path) -> tuple[int, int, float]:
    """Feed the table to ``scorer`` chunk by chunk; returns (rows read, rows written, seconds scoring)."""
    table = ctx.table
    columns = scorer.read_columns(table.columns)
    total = max(table.n_rows, 1)
    writer = PredictionWriter(out_path)
    done, seconds = 0, 0.0
    try:
        for frame in table.iter_frames(columns, batch_rows=ctx.params["chunk_rows"]):
            ctx.check_cancelled()
            started = time.perf_counter()
            scored = scorer.score(frame, done)
            seconds += time.perf_counter() - started
            writer.write(scored)
            done += len(frame)
            ctx.progress(0.9 * done / total, f"scored {done:,} of {table.n_rows:,} rows")
        finish = getattr(scorer, "finish", None)
        if finish is not None:
            started = time.perf_counter()
            for scored in finish():
                ctx.check_cancelled()
                writer.write(scored)
            seconds += time.perf_counter() - started
    finally:
        writer.close(["product_id", "attribute", "value", "score"])
    return done, writer.rows, seconds


def run_scoring(ctx: RunContext) -> RunResult:
    """Django side: resolve the source run, build the kind's scorer, stream, register the predictions."""
    from datasets.models import Dataset
    from filestore import services as filestore
    from datasets.services import columnar_table, create_dataset
    from jobs.models import Job

    from .models import ModelVersion
    from .serving import AttributeScorer, CTRScorer, UpliftScorer
    from .services import run_schema

    job = Job.objects.select_related("dataset", "owner").get(pk=ctx.extra["job_id"])
    source = Job.objects.select_related("dataset").get(pk=ctx.params["source_job"])
    version = ModelVersion.objects.filter(pk=ctx.params["model_version"]).first()
    schema = run_schema(source)
    artifact = filestore.local_copy(source.artifact_path)  # fetched from the object store on another host
    ctx.progress(0.0, "loading the model")
    ctx.log(f"scoring {ctx.table.n_rows:,} rows of `{job.dataset.name}` with {source.display_name}"
            + (f" ({version.label})" if version else ""))
    if source.kind == "ctr":
        scorer = CTRScorer(artifact, source.algorithm, schema, ctx.device)
    elif source.kind == "uplift":
        scorer = UpliftScorer(artifact, schema, ctx.device)
    else:
        training = columnar_table(source.dataset).read()
        scorer = AttributeScorer(artifact, schema, training, source.dataset.roles, ctx.device)
    out_path = Path(ctx.workdir) / PREDICTIONS_FILE
    rows, written, seconds = stream_scores(ctx, scorer, out_path)
    rate = rows / seconds if seconds > 0 else 0.0
    ctx.log(f"scored {rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s); {written:,} prediction rows")
    ctx.progress(0.92, "registering the predictions dataset")
    with out_path.open("rb") as handle:
        predictions = create_dataset(
            owner=job.owner, source_file=handle, filename=f"scores_job{job.pk}.parquet", kind="predictions",
            name=f"{job.dataset.name}: predictions of {version.label if version else source.display_name} (job #{job.pk})",
            description=f"Scored by job #{job.pk} with run #{source.pk} ({source.algorithm})"
                        + (f", model {version.label}" if version else "") + f" from `{job.dataset.name}`.",
            source=Dataset.Source.DERIVED)
    out_path.unlink()  # the dataset keeps its own copy
    new = scorer.metrics()
    drift = [{"metric": key, "training": source.metrics.get(key), "new_rows": new.get(key)}
             for key in DRIFT_KEYS[source.kind] if key in new]
    ctx.log(f"registered dataset #{predictions.pk} `{predictions.name}`")
    summary = {"source_job": source.pk, "source_name": source.display_name, "source_kind": source.kind,
               "source_algorithm": source.algorithm, "model_version": version.label if version else "",
               "rows_scored": rows, "prediction_rows": written, "scoring_seconds": round(seconds, 3),
               "scoring_rows_per_s": round(rate, 1), "predictions_dataset_id": predictions.pk,
               "predictions_dataset_name": predictions.name, "labelled_metrics": new, "drift": drift}
    return RunResult(metrics={}, summary=summary)


SCORING_ALGORITHM = Algorithm(
    "score", "scoring", "Score new rows with a trained model",
    "Not a training run: scores a table of new rows with a finished run's model (or a registered model's "
    "production version) and writes the predictions as a new dataset.",
    (Param("source_job", "int", 0, "Id of the finished run whose model scores the rows.", min=1, max=2**31 - 1),
     Param("model_version", "int", 0, "Registry version the run was chosen through (0: the run itself).", min=0,
           max=2**31 - 1),
     Param("chunk_rows", "int", 65_536, "Rows read and scored at a time (bounds memory).", min=1_000, max=1_000_000)),
    run_scoring)
