"""Where the ingest's time goes: CPU seconds of each stage of an upload, measured alone, and of the
whole streamed pass per thread.

Usage (from the repository root):
    .venv/bin/python bench/ingest_stages.py FILE.csv [--repeat 3] [--cprofile]

FILE is any CSV (``bench/ingest.py --keep DIR`` leaves its generated one in DIR). Each stage runs
``--repeat`` times and the least CPU time is printed (on a shared machine the least is the closest to
the work itself; wall time is printed too, but swings with the neighbours):

- copy: ``shutil.copyfile`` of the upload (what ``create_dataset`` does with a file on disk);
- sha256: the checksum of the stored file (a thread while the ingest runs);
- parse: ``pyarrow.csv.open_csv`` of the file with the ingest's options, regrouped into row groups;
- profile: :class:`datasets.ingest.Profiler` on those row groups;
- write: the Parquet copy written from them with the ingest's settings;
- pass: :func:`datasets.ingest.ingest_file` (all of the above but the copy and checksum, overlapped
  on three threads), with CPU seconds per thread.

``--cprofile`` adds the functions the profile stage spends most time in.
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402

from datasets import ingest  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, run) -> tuple[float, float, object]:
    """(least CPU seconds, least wall seconds, last result) over ``repeat`` runs of ``run()``."""
    cpu, wall, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        c, w = cpu_seconds(), time.perf_counter()
        result = run()
        cpu, wall = min(cpu, cpu_seconds() - c), min(wall, time.perf_counter() - w)
    return cpu, wall, result


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def row_groups(path: Path) -> tuple[list[str], str, list[pa.Table]]:
    delim, names, _, quoted = ingest._header(path, "csv", None)
    types = ingest._sample_types(path, "csv", delim, quoted)
    read, parse, convert = ingest._options(delim, quoted, types)
    reader = pacsv.open_csv(str(path), read_options=read, parse_options=parse, convert_options=convert)
    schema = pa.schema([pa.field(n, f.type) for n, f in zip(names, reader.schema)])
    return names, delim, list(ingest._row_groups(reader, schema))


def profile(names: list[str], delim: str, groups: list[pa.Table]) -> None:
    profiler = ingest.Profiler(names)
    for table in groups:
        profiler.update(table)
    profiler.finish("csv", delim)


def write(groups: list[pa.Table], out: Path) -> None:
    writer = ingest._RowGroupWriter(out, groups[0].schema)
    for table in groups:
        writer.write(table)
    writer.close()


def thread_cpu_seconds() -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def whole_pass(path: Path, out: Path) -> None:
    """ingest_file once, with CPU seconds per thread (threads that end report their own time)."""
    names = {threading.get_native_id(): "caller (profile)"}
    ended: dict[int, float] = {}
    run = threading.Thread.run

    def timed_run(self):
        names[threading.get_native_id()] = self.name.rstrip("_0123456789")
        try:
            return run(self)
        finally:
            ended[threading.get_native_id()] = time.thread_time()

    threading.Thread.run = timed_run
    try:
        before = thread_cpu_seconds()
        c, w = cpu_seconds(), time.perf_counter()
        ingest.ingest_file(path, out)
        c, w = cpu_seconds() - c, time.perf_counter() - w
        after = {**thread_cpu_seconds(), **ended}
    finally:
        threading.Thread.run = run
    per_name: dict[str, float] = {}
    for tid, seconds in after.items():
        name = names.get(tid, "pyarrow's own threads")
        per_name[name] = per_name.get(name, 0.0) + seconds - before.get(tid, 0.0)
    print(f"| pass (ingest_file) | {c:.2f} | {w:.2f} |")
    for name, seconds in sorted(per_name.items(), key=lambda kv: -kv[1]):
        print(f"| &nbsp; thread {name} | {seconds:.2f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    path = args.file
    print(f"{path.name}: {path.stat().st_size / 2**20:,.0f} MiB; load average {os.getloadavg()[0]:.1f}")
    print("| stage | CPU s (least) | wall s (least) |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="ingest-stages-") as tmp:
        copy = Path(tmp) / "copy.csv"
        c, w, _ = best_of(args.repeat, lambda: shutil.copyfile(path, copy))
        print(f"| copy (copyfile) | {c:.2f} | {w:.2f} |")
        copy.unlink()
        c, w, _ = best_of(args.repeat, lambda: sha256(path))
        print(f"| sha256 | {c:.2f} | {w:.2f} |")
        c, w, (names, delim, groups) = best_of(args.repeat, lambda: row_groups(path))
        print(f"| parse (open_csv, {len(groups)} row groups) | {c:.2f} | {w:.2f} |")
        c, w, _ = best_of(args.repeat, lambda: profile(names, delim, groups))
        print(f"| profile | {c:.2f} | {w:.2f} |")
        c, w, _ = best_of(args.repeat, lambda: write(groups, Path(tmp) / "copy.parquet"))
        print(f"| write (Parquet) | {c:.2f} | {w:.2f} |")
        whole_pass(path, Path(tmp) / "copy.parquet")
        if args.cprofile:
            stats = cProfile.Profile()
            stats.runcall(profile, names, delim, groups)
            pstats.Stats(stats).sort_stats("tottime").print_stats(12)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
