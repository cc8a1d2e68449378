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
and the speed ratio is measured twice: from the two whole runs, and by alternating batches from
memory and from the store in one process (robust to a shared machine's changing load). Printed per case: peak RSS (VmHWM of the subprocess), training samples/s,
held-out AUC, wall seconds. ``--big`` adds 20M rows. Files are kept in ``--folder`` between runs. On a busy machine,
``--time-limit S`` cuts the epochs of the larger sizes after S seconds of training (peak RSS and
samples/s so far; no AUC).
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


def _vocabularies() -> list[pa.Array]:
    """Hashed-looking 8-hex-digit ids per categorical column."""
    return [pa.array(np.char.mod("%08x", (np.arange(CARDINALITIES[k]) * 2654435761 + k * 40503) % 2**32).astype(object),
                     pa.string()) for k in range(N_CAT)]


def _chunk(rng: np.random.Generator, n: int, effects: list[np.ndarray], vocabs: list[pa.Array]) -> tuple[pa.Table, np.ndarray]:
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
        columns[f"C{k + 1}"] = vocabs[k].take(pa.array(cats[k]))
    return pa.table(columns), p


def generate(path: Path, n_rows: int, seed: int = 1) -> float:
    """Write ``n_rows`` rows to ``path`` chunk by chunk; returns the Bayes AUC on a 200k-row sample."""
    from mlcore.metrics import auc

    rng, effects, vocabs = np.random.default_rng(seed), _effects(), _vocabularies()
    tmp = path.with_suffix(".tmp")
    writer, bayes = None, None
    for start in range(0, n_rows, GEN_CHUNK):
        table, p = _chunk(rng, min(GEN_CHUNK, n_rows - start), effects, vocabs)
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


ROLES = {"label": "label", **{f"I{j + 1}": "numeric" for j in range(N_NUM)},
         **{f"C{k + 1}": "categorical" for k in range(N_CAT)}}


def speed_case(path: Path, threads: int, rounds: int = 2, batches: int = 128) -> dict:
    """Training samples/s of the same DeepFM fed from memory and from the store, alternating.

    On a shared machine, two runs one after the other see different loads; alternating
    ``rounds`` × (``batches`` steps from the in-memory tensors, then as many from the store: one
    shuffle buffer's worth, so the streamed side pays its reads in full) in one process, and
    comparing the best round of each, cancels most of that noise. Both wall and CPU time are reported.
    """
    import torch
    from torch import nn

    from mlcore.api import RunContext
    from mlcore.batching import TensorSource
    from mlcore.columnar import ColumnarTable
    from modeling.encoded import encode_splits
    from modeling.features import EncoderConfig
    from modeling.nets import DeepFM

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="scale-speed-") as work:
        table = ColumnarTable(path)
        ctx = RunContext(params={}, roles=ROLES, read_table=table.read, workdir=Path(work), table=table,
                         extra={"train_data_path": "stream"})
        data = encode_splits(ctx, ROLES, method="random", valid_frac=0.1, test_frac=0.1, seed=2024, config=EncoderConfig())
        sources = {"memory": TensorSource(data.train.load()), "stream": data.train}
        torch.manual_seed(0)
        model = DeepFM(data.encoder.schema, 16, [400, 400, 400], 0.0, False)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(0)
        best = {name: {"wall": 0.0, "cpu": 0.0} for name in sources}
        for _ in range(rounds):
            for name, source in sources.items():
                wall, cpu, rows = time.perf_counter(), time.process_time(), 0
                for _, batch in zip(range(batches), source.iter_batches(1024, shuffle=True, generator=generator)):
                    loss = nn.functional.binary_cross_entropy_with_logits(model(batch), batch["label"])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    rows += len(batch["label"])
                best[name]["wall"] = max(best[name]["wall"], rows / (time.perf_counter() - wall))
                best[name]["cpu"] = max(best[name]["cpu"], rows / (time.process_time() - cpu))
    return {"speed": best, "ratio_wall": best["stream"]["wall"] / best["memory"]["wall"],
            "ratio_cpu": best["stream"]["cpu"] / best["memory"]["cpu"]}


def run_case(path: Path, mode: str, threads: int, time_limit: float = 0.0) -> dict:
    """One DeepFM epoch through the CTR algorithm's ``run`` (called in a fresh subprocess).

    With ``time_limit`` (seconds of training), the epoch is cut short there through the job's
    cancellation check; the case then reports the training samples/s and peak RSS so far, and no AUC.
    """
    import torch

    from epoch_clock import EpochClock
    from mlcore.api import Cancelled, RunContext
    from mlcore.columnar import ColumnarTable
    from modeling.algorithms import CTR_ALGORITHMS

    torch.set_num_threads(threads)
    algorithm = next(a for a in CTR_ALGORITHMS if a.key == "deepfm")
    table = ColumnarTable(path)
    log: list[str] = []
    t0 = time.perf_counter()
    clock = EpochClock(time_limit)
    training, progress, check_cancelled = clock.training, clock.progress, clock.check_cancelled

    out = {"rows": table.n_rows, "mode": mode}
    with tempfile.TemporaryDirectory(prefix="scale-") as work:
        ctx = RunContext(params=algorithm.validate({"epochs": 1}), roles=ROLES, read_table=table.read,
                         workdir=Path(work), table=table, extra={"train_data_path": mode}, progress=progress,
                         check_cancelled=check_cancelled, log=lambda m: log.append(f"{time.perf_counter() - t0:7.1f}s {m}"))
        try:
            result = algorithm.run(ctx)
            out.update(samples_per_s=result.summary["samples_per_s"], auc=round(result.metrics["auc"], 4))
        except Cancelled:
            n_train = round(table.n_rows * 0.8)
            seconds = training["now"] - training["start"]
            out.update(samples_per_s=round(training["fraction"] * n_train / seconds, 1), auc=None,
                       partial_epoch=round(training["fraction"], 4))
            log.append(f"{time.perf_counter() - t0:7.1f}s stopped after {seconds:,.0f} s of training "
                       f"({training['fraction']:.1%} of the epoch)")
    return {**out, "peak_rss_gib": round(peak_rss_gib(), 3), "wall_s": round(time.perf_counter() - t0, 1), "log": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000_000, 5_000_000])
    parser.add_argument("--big", action="store_true", help="add 20M rows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path("var/bench-scale"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory runs and the speed ratio")
    parser.add_argument("--time-limit", type=float, default=0.0,
                        help="cut the epoch of every size after the first at this many seconds of training "
                             "(reports samples/s and peak RSS so far, no AUC); 0 = whole epochs")
    parser.add_argument("--case", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)  # the subprocess
    args = parser.parse_args()
    if args.case:
        path, mode = Path(args.case[0]), args.case[1]
        print(json.dumps(speed_case(path, args.threads) if mode == "speed"
                         else run_case(path, mode, args.threads, args.time_limit)))
        return
    sizes = args.sizes + ([20_000_000] if args.big else [])
    args.folder.mkdir(parents=True, exist_ok=True)
    results, ratio = [], None
    for i, n in enumerate(sizes):
        path = args.folder / f"criteo_like_{n}.parquet"
        if not path.exists():
            t0 = time.perf_counter()
            bayes = generate(path, n)
            print(f"generated {n:,} rows in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 2**20:,.0f} MiB); "
                  f"Bayes AUC of the planted rule {bayes:.4f}", flush=True)
        for mode in (("memory", "stream", "speed") if i == 0 and not args.no_memory else ("stream",)):
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TORCH_THREADS": str(args.threads)}
            out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--case", str(path), mode,
                                  "--time-limit", str(args.time_limit if i or args.no_memory else 0)],
                                 capture_output=True, text=True, env=env)
            if out.returncode:
                sys.exit(f"{n:,} rows ({mode}) failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            if mode == "speed":
                speed = row["speed"]
                print(f"{n:>11,} rows  same DeepFM, alternating batches from memory and from the store: "
                      f"memory {speed['memory']['wall']:,.0f} samples/s ({speed['memory']['cpu']:,.0f} per CPU-s), "
                      f"stream {speed['stream']['wall']:,.0f} ({speed['stream']['cpu']:,.0f}); out-of-core / in-memory "
                      f"= {row['ratio_wall']:.2f} wall, {row['ratio_cpu']:.2f} CPU", flush=True)
                ratio = row
                continue
            results.append(row)
            quality = f"AUC {row['auc']:.4f}" if row["auc"] is not None else f"{row['partial_epoch']:.0%} of the epoch, no AUC"
            print(f"{n:>11,} rows  {mode:6}  peak RSS {row['peak_rss_gib']:.2f} GiB  "
                  f"{row['samples_per_s']:>9,.0f} samples/s  {quality}  {row['wall_s']:,.0f} s", flush=True)
            for line in row["log"]:
                print("      " + line)
    first = {r["mode"]: r for r in results if r["rows"] == sizes[0]}
    if "memory" in first:
        print(f"\nat {sizes[0]:,} rows: out-of-core / in-memory training samples/s = "
              f"{first['stream']['samples_per_s'] / first['memory']['samples_per_s']:.2f} (whole runs, one after the "
              f"other); {ratio['ratio_wall']:.2f} wall / {ratio['ratio_cpu']:.2f} CPU (alternating batches)")
    streamed = [r for r in results if r["mode"] == "stream"]
    print("streamed path: peak RSS " + ", ".join(f"{r['rows']:,}: {r['peak_rss_gib']:.2f} GiB" for r in streamed)
          + "; samples/s " + ", ".join(f"{r['rows']:,}: {r['samples_per_s']:,.0f}" for r in streamed))
    if args.json:
        args.json.write_text(json.dumps({"runs": results, "speed": ratio}, indent=2))


if __name__ == "__main__":
    main()
