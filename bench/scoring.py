"""Scoring throughput: a DeepFM run scores 1M generated rows through the scoring job's streaming path.

    python bench/scoring.py [--rows 1000000] [--chunk-rows 65536] [--threads 1]

Generates a click table (8 categorical fields of 10 to 100,000 values, 4 numeric fields) as Parquet,
trains DeepFM (default sizes: embedding 16, MLP 400-400-400) for one epoch on its first 50,000 rows,
then streams all rows through ``registry.scoring_job.stream_scores`` exactly as a scoring job does:
read a chunk from the columnar file, encode it (unseen categories to OOV), forward, append the
scored chunk to a Parquet file. Prints rows/s end to end (read + encode + forward + write) and for
the scorer alone (encode + forward). Django is not needed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from mlcore.api import RunContext  # noqa: E402
from mlcore.columnar import ColumnarTable  # noqa: E402
from modeling.algorithms import NET_FACTORIES, _run_deepfm  # noqa: E402
from modeling.algorithms import CTR_ALGORITHMS  # noqa: E402

CARDINALITIES = (10, 50, 200, 1_000, 5_000, 20_000, 50_000, 100_000)


def make_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = {f"c{i}": rng.zipf(1.3, n) % k for i, k in enumerate(CARDINALITIES)}
    frame = {k: v.astype(str) for k, v in frame.items()}
    for j in range(4):
        frame[f"n{j}"] = rng.gamma(2.0, 3.0, n).round(3)
    logit = -2.0 + 0.3 * (np.asarray(frame["c0"]).astype(int) % 3) - 0.05 * frame["n0"]
    frame["click"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=65_536)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from registry.scoring_job import stream_scores
    from registry.serving import CTRScorer, schema_for_run

    roles = {**{f"c{i}": "categorical" for i in range(len(CARDINALITIES))},
             **{f"n{j}": "numeric" for j in range(4)}, "click": "label"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        table_path = tmp / "rows.parquet"
        writer = None
        for start in range(0, args.rows, 250_000):
            part = make_rows(min(250_000, args.rows - start), seed=start)
            batch = pa.Table.from_pandas(part, preserve_index=False)
            writer = writer or pq.ParquetWriter(table_path, batch.schema)
            writer.write_table(batch)
        writer.close()
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        train = make_rows(50_000, seed=10**9)
        algo = next(a for a in CTR_ALGORITHMS if a.key == "deepfm")
        params = algo.validate({"epochs": 1, "batch_size": 2048})
        workdir = tmp / "run"
        workdir.mkdir()
        ctx = RunContext(params=params, roles=roles, read_table=lambda cols=None: train[cols] if cols else train,
                         workdir=workdir)
        result = _run_deepfm(ctx)
        print(f"trained DeepFM on 50,000 rows: test AUC {result.metrics['auc']:.4f}, "
              f"{result.summary['params_count']:,} parameters")
        columns = [{"name": c, "role": r} for c, r in roles.items()]
        schema = schema_for_run("ctr", "deepfm", result.artifact, columns)
        assert set(NET_FACTORIES) >= {"deepfm"}
        scorer = CTRScorer(result.artifact, "deepfm", schema)
        score_ctx = RunContext(params={"chunk_rows": args.chunk_rows}, roles={}, read_table=None, workdir=tmp,
                               table=ColumnarTable(table_path))
        started = time.perf_counter()
        rows, written, scoring_seconds = stream_scores(score_ctx, scorer, tmp / "predictions.parquet")
        wall = time.perf_counter() - started
        auc = scorer.metrics().get("auc", float("nan"))
        print(f"scored {rows:,} rows ({written:,} written) in {wall:.1f} s: {rows / wall:,.0f} rows/s end to end, "
              f"{rows / scoring_seconds:,.0f} rows/s encode + forward; chunk {args.chunk_rows:,}, "
              f"{args.threads} thread(s); AUC on the scored rows {auc:.4f}")


if __name__ == "__main__":
    main()
