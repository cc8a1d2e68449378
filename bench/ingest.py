"""Upload-to-ready-dataset throughput and peak memory against ``pyarrow.csv.read_csv`` of the same file.

Usage (from the repository root):
    .venv/bin/python bench/ingest.py [--rows 1000000] [--big] [--keep DIR] [--repeat N]

Generates an N-row Criteo-shaped CSV (label, 13 integer features with 10 % missing, 26 hashed
categoricals as 8-hex-digit strings; ``--big`` = 10M rows) in a temporary folder, then measures,
each in a fresh Python process so peak RSS (VmHWM) belongs to that step alone:

- ``pyarrow``: ``pyarrow.csv.read_csv`` of the file (the whole table in memory, default threads);
- ``ingest``: ``datasets.services.create_dataset`` on the file, the service the page and the API call
  (copy + SHA-256 of the upload, the streamed profile and the Parquet copy written in one pass,
  roles and checks, the row in a throwaway SQLite database), profiled inline.

Prints rows/s of both, the ratio ours/pyarrow (goal >= 0.8) and each peak RSS (goal <= 1 GiB for
ours, whatever the size). Database migration and Django start-up are outside the timed part.
``--repeat N`` measures both N times, alternating, and prints every pair and the median ratios; the
load average (1 min) is printed beside each pair: on a shared machine the wall-clock ratio follows
the neighbours' load, the CPU-seconds ratio much less (``bench/ingest_stages.py`` splits the CPU
time by stage).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

N_NUMERIC, N_CATEGORICAL = 13, 26
GEN_CHUNK = 250_000


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write the Criteo-shaped CSV in chunks (bounded memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    names = ["label"] + [f"I{i}" for i in range(1, N_NUMERIC + 1)] + [f"C{i}" for i in range(1, N_CATEGORICAL + 1)]
    writer = None
    for start in range(0, rows, GEN_CHUNK):
        n = min(GEN_CHUNK, rows - start)
        arrays = [pa.array((rng.random(n) < 0.25).astype(np.int64))]
        for _ in range(N_NUMERIC):
            values = rng.zipf(1.6, n).clip(0, 100_000).astype(np.int64)
            arrays.append(pa.array(values, mask=rng.random(n) < 0.10))
        for j in range(N_CATEGORICAL):
            vocab = int(10 ** rng.uniform(1, 5))
            ids = rng.integers(0, vocab, n).astype(np.uint32) * np.uint32(2654435761 % 2**32) + np.uint32(j)
            arrays.append(pa.array(np.char.mod("%08x", ids)))
        table = pa.Table.from_arrays(arrays, names=names)
        if writer is None:
            writer = pacsv.CSVWriter(str(path), table.schema)
        writer.write_table(table)
    writer.close()


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): the work done, whatever else the machine runs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_pyarrow(path: Path) -> dict:
    import pyarrow.csv as pacsv

    cpu, start = cpu_seconds(), time.perf_counter()
    table = pacsv.read_csv(path)
    seconds = time.perf_counter() - start
    return {"rows": table.num_rows, "seconds": seconds, "cpu": cpu_seconds() - cpu, "peak_rss": peak_rss_bytes()}


def measure_ingest(path: Path, workdir: Path) -> dict:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "ctrsite.test_settings", "CTRSTUDIO_VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"), "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "memory://", "DATASET_MAX_UPLOAD_MB": str(1 << 20),
    })
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench")
    from datasets.services import create_dataset

    rss_before = peak_rss_bytes()
    cpu, start = cpu_seconds(), time.perf_counter()
    dataset = create_dataset(owner=owner, source_file=path, filename=path.name, name="bench", kind="ctr", inline=True)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    assert dataset.status in ("ready", "needs_roles"), (dataset.status, dataset.errors)
    return {"rows": dataset.n_rows, "seconds": seconds, "cpu": cpu, "peak_rss": peak_rss_bytes(), "rss_before": rss_before,
            "status": dataset.status}


def run_step(step: str, path: Path, workdir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", step, str(path), str(workdir)], cwd=REPO,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{step} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", action="store_true", help="10M rows")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--repeat", type=int, default=1, help="measure both this many times, alternating")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        step, path, workdir = args.measure
        result = measure_pyarrow(Path(path)) if step == "pyarrow" else measure_ingest(Path(path), Path(workdir))
        print(json.dumps(result))
        return
    rows = 10_000_000 if args.big else args.rows
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"criteo_{rows}.csv"
        if not path.exists():
            started = time.perf_counter()
            generate(path, rows)
            print(f"generated {rows:,} rows, {path.stat().st_size / 2**20:,.0f} MiB in {time.perf_counter() - started:.0f} s")
        for i in range(args.repeat):
            load = os.getloadavg()[0]
            workdir = Path(tmp) / f"run{i}"  # a fresh database and media folder each time
            base = run_step("pyarrow", path, workdir)
            ours = run_step("ingest", path, workdir)
            shutil.rmtree(workdir, ignore_errors=True)
            pairs.append((base, ours, load, os.getloadavg()[0]))
    gib = 2**30
    print("| run | step | rows/s | seconds | CPU seconds | peak RSS | load avg (1 min) |\n|---|---|---:|---:|---:|---:|---|")
    for i, (base, ours, load_before, load_after) in enumerate(pairs, start=1):
        load = f"{load_before:.1f} -> {load_after:.1f}"
        print(f"| {i} | pyarrow.csv.read_csv | {base['rows'] / base['seconds']:,.0f} | {base['seconds']:.1f} | "
              f"{base['cpu']:.1f} | {base['peak_rss'] / gib:.2f} GiB | {load} |")
        print(f"| {i} | upload to ready dataset (create_dataset) | {ours['rows'] / ours['seconds']:,.0f} | "
              f"{ours['seconds']:.1f} | {ours['cpu']:.1f} | {ours['peak_rss'] / gib:.2f} GiB | |")
    ratios = [(b["seconds"] / o["seconds"]) * (o["rows"] / b["rows"]) for b, o, *_ in pairs]
    cpu_ratios = [o["cpu"] / b["cpu"] for b, o, *_ in pairs]
    peak = max(o["peak_rss"] for _, o, *_ in pairs)
    print(f"throughput ours/pyarrow: {', '.join(f'{r:.2f}x' for r in ratios)} (median {statistics.median(ratios):.2f}x; "
          f"goal >= 0.8); CPU work ours/pyarrow: {', '.join(f'{r:.2f}x' for r in cpu_ratios)} "
          f"(median {statistics.median(cpu_ratios):.2f}x); our peak RSS {peak / gib:.2f} GiB (goal <= 1 GiB; Django + "
          f"imports before the upload: {pairs[0][1]['rss_before'] / gib:.2f} GiB); {os.cpu_count()} CPUs visible")


if __name__ == "__main__":
    main()
