"""End to end at scale: upload a generated CTR CSV through the chunked upload API, let a real Celery
worker profile it, train DeepFM on it as a job, and report the worker's peak memory.

Usage (from the repository root):
    .venv/bin/python bench/upload_train.py [--rows 20000000] [--folder var/bench-upload-train]
        [--chunk-mb 16] [--threads 2] [--param batch_size=4096 ...]

Steps, each timed:

1. **Generate** (once; kept in ``--folder``) a Criteo-shaped CSV: label, 13 numeric I1..I13 (10 %
   missing, two decimals), 26 hashed categoricals C1..C26 of 4 to 100k values, with the planted
   click rule of ``bench/scale.py`` (its Bayes AUC is printed).
2. **Upload** through ``/api/uploads/`` (start, ``PUT`` chunks with ``Content-Range``, complete)
   with Django's test client in this process: the same views the page's uploader calls.
3. **Profile**: above ``DATASET_INLINE_PROFILE_MB`` the dataset is profiled by the worker (one
   streamed pass writing the typed Parquet copy and the profile); waited for until it is ready.
4. **Train**: ``POST /api/jobs/`` DeepFM (one epoch by default), run by the worker; waited for.

The worker is a real ``celery worker`` process (prefork pool, one child, the embedded defaults: a
throwaway SQLite database and the file-system broker under ``--folder``), started here. Its
processes' memory is sampled every second (RSS, and VmHWM, the kernel's own high-water mark, of the
main process and the pool child); the printed peak is the highest VmHWM of any of them. Prints the
held-out AUC, the job log's lines about the data path, and the disk the run used.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_PARAMS = {"epochs": 1, "batch_size": 4096, "embedding_dim": 8, "hidden_units": "200,100", "lr": 2e-3}


def _scale_module():
    """``bench/scale.py`` (the planted-rule generator), imported by path: ``bench`` is no package."""
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_csv(path: Path, n_rows: int, seed: int = 1) -> float:
    """Write the planted-rule rows as CSV chunk by chunk (bounded memory); returns the Bayes AUC."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from mlcore.metrics import auc

    scale = _scale_module()
    rng, effects, vocabs = np.random.default_rng(seed), scale._effects(), scale._vocabularies()
    tmp = path.with_suffix(".tmp")
    writer, bayes = None, float("nan")
    for start in range(0, n_rows, scale.GEN_CHUNK):
        table, p = scale._chunk(rng, min(scale.GEN_CHUNK, n_rows - start), effects, vocabs)
        for j in range(scale.N_NUM):  # two decimals keep the file Criteo-sized; the rule barely moves
            name = f"I{j + 1}"
            table = table.set_column(table.schema.get_field_index(name), name, pc.round(table.column(name), 2))
        if writer is None:
            writer = pacsv.CSVWriter(str(tmp), table.schema)
            y = table.column("label").to_numpy()
            bayes = auc(y[:200_000].astype(float), p[:200_000])
        writer.write_table(table)
    writer.close()
    tmp.replace(path)
    return float(bayes)


class MemoryWatch(threading.Thread):
    """Samples a process tree's memory every ``interval`` seconds: peak RSS seen and peak VmHWM."""

    def __init__(self, pid: int, interval: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = 0
        self.peak_hwm: dict[int, int] = {}
        self.stop_event = threading.Event()

    @staticmethod
    def _hwm(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        for proc in procs:
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            except psutil.Error:
                continue
            self.peak_hwm[proc.pid] = max(self.peak_hwm.get(proc.pid, 0), self._hwm(proc.pid))

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.sample()

    @property
    def peak(self) -> int:
        return max([self.peak_rss, *self.peak_hwm.values()])


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--folder", type=Path, default=REPO / "var" / "bench-upload-train")
    parser.add_argument("--chunk-mb", type=int, default=16, help="chunk size (at most DATASET_UPLOAD_CHUNK_MB, 16 by default)")
    parser.add_argument("--threads", type=int, default=2, help="TORCH_THREADS of the worker")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="DeepFM hyperparameter (JSON value); defaults: " + json.dumps(DEFAULT_PARAMS))
    parser.add_argument("--keep-db", action="store_true", help="keep the database and media of an earlier run")
    args = parser.parse_args()

    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"ctr-{args.rows}.csv"
    if not csv_path.exists():
        start = time.perf_counter()
        bayes = generate_csv(csv_path, args.rows)
        print(f"generated {csv_path.name}: {csv_path.stat().st_size / 2**30:.2f} GiB in "
              f"{time.perf_counter() - start:.0f} s; Bayes AUC of the planted rule {bayes:.4f}", flush=True)
    size = csv_path.stat().st_size

    run_dir = folder / "run"
    if run_dir.exists() and not args.keep_db:
        shutil.rmtree(run_dir)
    run_dir.mkdir(exist_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "ctrsite.settings", "CTRSTUDIO_VAR_DIR": str(run_dir / "var"),
        "MEDIA_ROOT": str(run_dir / "media"), "DATABASE_URL": f"sqlite:///{run_dir / 'e2e.sqlite3'}",
        "DATASET_MAX_UPLOAD_MB": str(max(2048, size // 2**20 + 1)), "ALLOWED_HOSTS": "testserver,localhost",
        "SECRET_KEY": "bench-upload-train-not-secret", "TORCH_THREADS": str(args.threads),
        "OMP_NUM_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    client = Client()
    client.force_login(user)

    log_path = run_dir / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ctrsite", "worker", "-Q", settings.JOB_QUEUE_CPU, "-c", "1",
         "-P", "prefork", "-n", "bench@%h", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=REPO, env={**os.environ}, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    watch = MemoryWatch(worker.pid)
    watch.start()
    try:
        report = run(client, csv_path, size, args, worker, log_path)
    finally:
        watch.sample()
        watch.stop_event.set()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    report["worker_peak_rss"] = gib(watch.peak)
    report["worker_peak_by_pid"] = {pid: gib(v) for pid, v in watch.peak_hwm.items()}
    report["web_process_peak_rss"] = gib(MemoryWatch._hwm(os.getpid()))
    report["disk_used"] = gib(folder_bytes(run_dir))
    print(json.dumps(report, indent=2), flush=True)


def _wait(what: str, poll, timeout: float, worker: subprocess.Popen, log_path: Path) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited:\n{log_path.read_text(errors='replace')[-3000:]}")
        body = poll()
        state = (body.get("status"), round(float(body.get("progress") or 0), 2))
        if state != last:
            print(f"  {what}: {state[0]} {state[1]:.0%}  ({time.strftime('%H:%M:%S')})", flush=True)
            last = state
        if body.get("status") not in ("queued", "running", "profiling", "uploaded", "pending"):
            return body
        time.sleep(5)
    raise SystemExit(f"{what} did not finish in {timeout:.0f} s")


def run(client, csv_path: Path, size: int, args, worker: subprocess.Popen, log_path: Path) -> dict:
    report: dict = {"rows": args.rows, "csv_gib": round(size / 2**30, 2)}

    start = time.perf_counter()
    r = client.post("/api/uploads/", {"filename": csv_path.name, "size": size}, content_type="application/json")
    assert r.status_code == 201, (r.status_code, r.content[:500])
    upload_id = r.json()["id"]
    chunk = args.chunk_mb * 2**20
    with open(csv_path, "rb") as fh:
        offset = 0
        while offset < size:
            data = fh.read(chunk)
            end = offset + len(data) - 1
            r = client.put(f"/api/uploads/{upload_id}/", data, content_type="application/octet-stream",
                           HTTP_CONTENT_RANGE=f"bytes {offset}-{end}/{size}")
            assert r.status_code in (200, 201, 202), (r.status_code, r.content[:500])
            offset = end + 1
    r = client.post(f"/api/uploads/{upload_id}/complete/", {"name": f"generated {args.rows:,} rows", "kind": "ctr",
                                                              "label_column": "label"}, content_type="application/json")
    assert r.status_code in (201, 202), (r.status_code, r.content[:1000])
    dataset_id = r.json()["id"]
    report["upload_seconds"] = round(time.perf_counter() - start, 1)
    print(f"uploaded in {report['upload_seconds']} s ({r.status_code}); dataset {dataset_id}", flush=True)

    start = time.perf_counter()
    body = _wait("profile", lambda: client.get(f"/api/datasets/{dataset_id}/").json(), 6 * 3600, worker, log_path)
    report["profile_seconds"] = round(time.perf_counter() - start, 1)
    report["dataset_status"] = body.get("status")
    report["dataset_rows"] = body.get("n_rows")
    print(f"profiled in {report['profile_seconds']} s: {body.get('status')}, {body.get('n_rows')} rows", flush=True)
    if body.get("status") != "ready":
        raise SystemExit(f"dataset not ready: {json.dumps(body)[:2000]}")

    params = dict(DEFAULT_PARAMS)
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = json.loads(value) if value[:1] in "0123456789-[{tf\"" else value
    start = time.perf_counter()
    r = client.post("/api/jobs/", {"dataset": dataset_id, "algorithm": "deepfm", "params": params,
                                   "name": "DeepFM at scale"}, content_type="application/json")
    assert r.status_code in (201, 202), (r.status_code, r.content[:1000])
    job_id = r.json()["id"]
    body = _wait("train", lambda: client.get(f"/api/jobs/{job_id}/").json(), 12 * 3600, worker, log_path)
    report["train_seconds"] = round(time.perf_counter() - start, 1)
    report["job_status"] = body.get("status")
    report["params"] = params
    report["error"] = body.get("error") or ""
    report["metrics"] = body.get("metrics") or {}
    report["log_lines"] = [line for line in (body.get("log_tail") or "").splitlines()
                           if any(w in line.lower() for w in ("data path", "stream", "in memory", "encoded", "samples/s"))][:12]
    return report


if __name__ == "__main__":
    main()
