"""Out-of-core uplift training at scale: ECUP, one epoch, on generated MT-LIFT-like rows.

Usage (from the repository root):
    .venv/bin/python bench/uplift_scale.py [--sizes 2000000 4000000] [--threads 1] [--time-limit S]
        [--folder DIR] [--json results.json]

For each size, a Parquet file is generated in 250,000-row chunks with :func:`uplift.synthetic.make_chain_uplift`
(12 dense features, a control arm and 4 treated arms, click and conversion, and the true per-row
effects; each chunk its own seed, never the whole table in memory). Then the uplift pipeline
(``uplift.pipeline.train_uplift``) trains ECUP (its defaults: embedding 16, towers 128-128, batch
2048; ``n_bootstrap`` 10 to keep the report cheap) for one epoch in a fresh subprocess per case,
with a :class:`~mlcore.api.RunContext` whose ``table`` is the file's :class:`~mlcore.columnar.ColumnarTable`
(the job never calls ``read_table``). At the first size the training batches come from memory
(``CTRSTUDIO_TRAIN_DATA_PATH=memory``) and then streamed from the encoded splits on disk; every
larger size streams. Printed per case: peak RSS (VmHWM of the subprocess), training samples/s,
held-out CTR Qini and Spearman with the true effect, wall seconds, and the job log with the
resident memory (now / peak) at each step. ``--time-limit S`` cuts the epoch of the larger sizes
after S seconds of training on a busy machine (peak RSS and samples/s so far; no metrics).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

GEN_CHUNK = 250_000
N_FEATURES, N_TREATMENTS = 12, 4


def generate(path: Path, n_rows: int, seed: int = 1) -> None:
    """Write ``n_rows`` generated uplift rows to ``path`` chunk by chunk."""
    from uplift.synthetic import make_chain_uplift

    tmp = path.with_suffix(".tmp")
    writer = None
    for i, start in enumerate(range(0, n_rows, GEN_CHUNK)):
        frame = make_chain_uplift(min(GEN_CHUNK, n_rows - start), N_FEATURES, N_TREATMENTS, seed=seed * 100_003 + i)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=GEN_CHUNK)
    writer.close()
    tmp.replace(path)


def peak_rss_gib(field: str = "VmHWM") -> float:
    """Peak (``VmHWM``) or current (``VmRSS``) resident memory of this process, GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def run_case(path: Path, mode: str, threads: int, time_limit: float = 0.0) -> dict:
    """One ECUP epoch through ``train_uplift`` (called in a fresh subprocess); ``mode`` is memory or stream."""
    import torch

    from epoch_clock import EpochClock
    from mlcore.api import Cancelled, RunContext
    from mlcore.columnar import ColumnarTable
    from uplift.algorithms import UPLIFT_ALGORITHMS
    from uplift.pipeline import train_uplift
    from uplift.synthetic import synthetic_roles

    torch.set_num_threads(threads)
    print(f"after imports: RSS {peak_rss_gib('VmRSS'):.2f} GiB", file=sys.stderr)
    algorithm = next(a for a in UPLIFT_ALGORITHMS if a.key == "ecup")
    table = ColumnarTable(path)
    roles = synthetic_roles(pd.DataFrame(columns=table.columns))
    log: list[str] = []
    t0 = time.perf_counter()
    clock = EpochClock(time_limit)
    training, progress, check_cancelled = clock.training, clock.progress, clock.check_cancelled

    def note(message: str) -> None:
        log.append(f"{time.perf_counter() - t0:7.1f}s  RSS {peak_rss_gib('VmRSS'):.2f} / peak {peak_rss_gib():.2f} GiB  "
                   f"{message}")

    def read_table(columns=None):
        raise AssertionError("the job read the whole table")

    out = {"rows": table.n_rows, "mode": mode}
    with tempfile.TemporaryDirectory(prefix="uplift-scale-") as work:
        ctx = RunContext(params=algorithm.validate({"epochs": 1, "n_bootstrap": 10}), roles=roles, read_table=read_table,
                         workdir=Path(work), table=table, extra={"train_data_path": mode}, progress=progress,
                         check_cancelled=check_cancelled, log=note)
        try:
            result = train_uplift(ctx, "ecup")
            out.update(samples_per_s=result.summary["samples_per_s"], train_data_path=result.summary["train_data_path"],
                       qini_ctr=round(result.metrics["sklift_qini_ctr"], 4),
                       spearman_ctr=round(result.metrics["spearman_true_ctr"], 4))
        except Cancelled:
            n_train = round(table.n_rows * 0.7)
            seconds = training["now"] - training["start"]
            out.update(samples_per_s=round(training["fraction"] * n_train / seconds, 1), qini_ctr=None,
                       partial_epoch=round(training["fraction"], 4))
            note(f"stopped after {seconds:,.0f} s of training ({training['fraction']:.1%} of the epoch)")
    return {**out, "peak_rss_gib": round(peak_rss_gib(), 3), "wall_s": round(time.perf_counter() - t0, 1), "log": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[2_000_000, 4_000_000])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path("var/bench-uplift-scale"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory run at the first size")
    parser.add_argument("--time-limit", type=float, default=0.0,
                        help="cut the epoch of every size after the first after this many seconds of training "
                             "(samples/s and peak RSS so far, no metrics); 0 = whole epochs")
    parser.add_argument("--case", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(Path(args.case[0]), args.case[1], args.threads, args.time_limit)))
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    results = []
    for i, n in enumerate(args.sizes):
        path = args.folder / f"uplift_chain_{n}.parquet"
        if not path.exists():
            t0 = time.perf_counter()
            generate(path, n)
            print(f"generated {n:,} rows in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 2**20:,.0f} MiB)",
                  flush=True)
        for mode in (("memory", "stream") if i == 0 and not args.no_memory else ("stream",)):
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TORCH_THREADS": str(args.threads)}
            out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--case", str(path), mode,
                                  "--time-limit", str(args.time_limit if i else 0)], capture_output=True, text=True,
                                 env=env)
            if out.returncode:
                sys.exit(f"{n:,} rows ({mode}) failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(row)
            quality = (f"Qini(ctr) {row['qini_ctr']:.4f}, Spearman(true ctr uplift) {row['spearman_ctr']:.4f}"
                       if row["qini_ctr"] is not None else f"{row['partial_epoch']:.0%} of the epoch, no metrics")
            print(f"{n:>11,} rows  {mode:6}  peak RSS {row['peak_rss_gib']:.2f} GiB  "
                  f"{row['samples_per_s']:>9,.0f} samples/s  {quality}  {row['wall_s']:,.0f} s", flush=True)
            for line in row["log"]:
                print("      " + line)
    streamed = [r for r in results if r["mode"] == "stream"]
    print("streamed path: peak RSS " + ", ".join(f"{r['rows']:,}: {r['peak_rss_gib']:.2f} GiB" for r in streamed)
          + "; samples/s " + ", ".join(f"{r['rows']:,}: {r['samples_per_s']:,.0f}" for r in streamed))
    if args.json:
        args.json.write_text(json.dumps({"runs": results}, indent=2))


if __name__ == "__main__":
    main()
