"""Out-of-core training at scale: DeepFM, one epoch, on generated Criteo-shaped rows.

Usage (from the repository root):
    .venv/bin/python bench/scale.py [--sizes 1000000 5000000] [--big] [--threads 1] [--folder DIR]
        [--json results.json]

For each size, a Parquet file of Criteo-shaped rows (label, 13 numeric I1..I13 with 10 % missing,
26 hashed categoricals C1..C26 of 4 to 100k values, Zipf-like) is generated in chunks (never the
whole table in memory) with a planted signal: the click probability is
``sigmoid(-1.4 + 0.8·z(I1) - 0.6·z(I2) + e1[C1] + e2[C2] + e3[C3])`` with fixed random category
effects, so a held-out AUC above 0.5 means the model learned it (the Bayes AUC is printed beside).
Then the CTR algorithm's ``run`` trains DeepFM for one epoch in a fresh subprocess per case, with a
:class:`~mlcore.api.RunContext` whose ``table`` is the file's :class:`~mlcore.columnar.ColumnarTable`.
Every size runs on the streamed (out-of-core) path; at the first size the in-memory path runs too,
for the speed ratio. Printed per case: peak RSS (VmHWM of the subprocess), training samples/s,
held-out AUC, wall seconds. ``--big`` adds 20M rows. Files are kept in ``--folder`` between runs.
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

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

N_NUM, N_CAT = 13, 26
CARDINALITIES = [4, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000] * 3
GEN_CHUNK = 250_000


def _effects(seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1.0, CARDINALITIES[k]) for k in range(3)]


def _chunk(rng: np.random.Generator, n: int, effects: list[np.ndarray]) -> tuple[pa.Table, np.ndarray]:
    nums = rng.lognormal(1.0, 1.0, (n, N_NUM))
    z1, z2 = (np.log(nums[:, 0]) - 1.0), (np.log(nums[:, 1]) - 1.0)
    cats = [np.minimum((CARDINALITIES[k] * rng.random(n) ** 2).astype(np.int64), CARDINALITIES[k] - 1)
            for k in range(N_CAT)]
    logit = -1.4 + 0.8 * z1 - 0.6 * z2 + sum(effects[k][cats[k]] for k in range(3))
    p = 1 / (1 + np.exp(-logit))
    label = (rng.random(n) < p).astype(np.int8)
    nums[rng.random((n, N_NUM)) < 0.10] = np.nan
    columns = {"label": pa.array(label)}
    for j in range(N_NUM):
        columns[f"I{j + 1}"] = pa.array(nums[:, j], from_pandas=True)
    for k in range(N_CAT):
        hexes = np.char.mod("%08x", (cats[k] * 2654435761 + k * 40503) % 2**32)  # hashed-looking ids
        columns[f"C{k + 1}"] = pa.array(hexes.astype(object), pa.string())
    return pa.table(columns), p


def generate(path: Path, n_rows: int, seed: int = 1) -> float:
    """Write ``n_rows`` rows to ``path`` chunk by chunk; returns the Bayes AUC on a 200k-row sample."""
    from mlcore.metrics import auc

    rng, effects = np.random.default_rng(seed), _effects()
    tmp = path.with_suffix(".tmp")
    writer, bayes = None, None
    for start in range(0, n_rows, GEN_CHUNK):
        table, p = _chunk(rng, min(GEN_CHUNK, n_rows - start), effects)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema)
            y = table.column("label").to_numpy()
            bayes = auc(y[:200_000].astype(float), p[:200_000])
        writer.write_table(table, row_group_size=GEN_CHUNK)
    writer.close()
    tmp.replace(path)
    return float(bayes)


def peak_rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def run_case(path: Path, mode: str, threads: int) -> dict:
    """One DeepFM epoch through the CTR algorithm's ``run`` (called in a fresh subprocess)."""
    import torch

    from mlcore.api import RunContext
    from mlcore.columnar import ColumnarTable
    from modeling.algorithms import CTR_ALGORITHMS

    torch.set_num_threads(threads)
    algorithm = next(a for a in CTR_ALGORITHMS if a.key == "deepfm")
    table = ColumnarTable(path)
    roles = {"label": "label", **{f"I{j + 1}": "numeric" for j in range(N_NUM)},
             **{f"C{k + 1}": "categorical" for k in range(N_CAT)}}
    log: list[str] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scale-") as work:
        ctx = RunContext(params=algorithm.validate({"epochs": 1}), roles=roles, read_table=table.read,
                         workdir=Path(work), table=table, extra={"train_data_path": mode},
                         log=lambda m: log.append(f"{time.perf_counter() - t0:7.1f}s {m}"))
        result = algorithm.run(ctx)
    return {"rows": table.n_rows, "mode": mode, "peak_rss_gib": round(peak_rss_gib(), 3),
            "samples_per_s": result.summary["samples_per_s"], "auc": round(result.metrics["auc"], 4),
            "wall_s": round(time.perf_counter() - t0, 1), "log": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 5_000_000])
    parser.add_argument("--big", action="store_true", help="add 20M rows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path("var/bench-scale"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--case", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(Path(args.case[0]), args.case[1], args.threads)))
        return
    sizes = args.sizes + ([20_000_000] if args.big else [])
    args.folder.mkdir(parents=True, exist_ok=True)
    results = []
    for i, n in enumerate(sizes):
        path = args.folder / f"criteo_like_{n}.parquet"
        if not path.exists():
            t0 = time.perf_counter()
            bayes = generate(path, n)
            print(f"generated {n:,} rows in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 2**20:,.0f} MiB); "
                  f"Bayes AUC of the planted rule {bayes:.4f}", flush=True)
        for mode in (("memory", "stream") if i == 0 else ("stream",)):
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TORCH_THREADS": str(args.threads)}
            out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--case", str(path), mode],
                                 capture_output=True, text=True, env=env)
            if out.returncode:
                sys.exit(f"{n:,} rows ({mode}) failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(row)
            print(f"{n:>11,} rows  {mode:6}  peak RSS {row['peak_rss_gib']:.2f} GiB  "
                  f"{row['samples_per_s']:>9,.0f} samples/s  AUC {row['auc']:.4f}  {row['wall_s']:,.0f} s", flush=True)
            for line in row["log"]:
                print("      " + line)
    first = [r for r in results if r["rows"] == sizes[0]]
    memory, stream = (next(r for r in first if r["mode"] == m) for m in ("memory", "stream"))
    print(f"\nat {sizes[0]:,} rows: out-of-core / in-memory training samples/s = "
          f"{stream['samples_per_s'] / memory['samples_per_s']:.2f}")
    streamed = [r for r in results if r["mode"] == "stream"]
    print("streamed path: peak RSS " + ", ".join(f"{r['rows']:,}: {r['peak_rss_gib']:.2f} GiB" for r in streamed)
          + "; samples/s " + ", ".join(f"{r['rows']:,}: {r['samples_per_s']:,.0f}" for r in streamed))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
