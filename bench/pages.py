"""Pages and API at scale: 10,000 jobs and 1,000,000 extracted values, timed through gunicorn.

    DEBUG=0 SECRET_KEY=bench DATABASE_URL=postgres://…/ctrstudio_bench python bench/pages.py [--reuse]

Fills the configured database (``DATABASE_URL``; SQLite when unset) with 10,000 jobs copied from a
realistic DeepFM job row (its metrics, ~8 KB of ROC/calibration/learning curves, hyperparameters,
a log tail) over 4 CTR datasets, and one attribute-extraction job with 1,000,000 extracted values
(125,000 products × 8 attributes; PostgreSQL: ``COPY``; SQLite: batched inserts), then ANALYZE.
It then starts ``gunicorn`` with 2 workers on a free loopback port and measures each page at
concurrency 1 and 4 (threads, each with the logged-in session cookie of the analyst who owns the
rows; a fixed number of requests after a warm-up that fills per-worker caches), and prints p50 /
p95 in milliseconds and the response size. ``--reuse`` keeps rows from an earlier run.

Run it with DEBUG=0 (and any SECRET_KEY) so DEBUG's SQL logging is not measured.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctrsite.settings")
os.environ.setdefault("STATIC_MANIFEST", "0")  # no collectstatic needed: pages link /static/ files by name

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from attributes.models import ExtractedValue  # noqa: E402
from datasets.models import Dataset  # noqa: E402
from jobs.leaderboard import headline_fields  # noqa: E402
from jobs.models import Job  # noqa: E402
from mlcore.metrics import binary_report, calibration, roc_curve  # noqa: E402

N_JOBS, N_DATASETS, N_VALUES, ATTRIBUTES = 10_000, 4, 1_000_000, 8
USERNAME, PASSWORD = "bench-analyst", "bench-pages-password"
ALGORITHMS = ("deepfm", "dcnv2", "lr", "deepfm", "deepfm")


def deepfm_row() -> dict:
    """A DeepFM job row as the runner stores it: real metric and curve shapes from mlcore.metrics."""
    from jobs.registry import get_algorithm

    rng = np.random.default_rng(0)
    y = rng.random(20_000) < 0.1
    prob = 1 / (1 + np.exp(-(rng.normal(-2.4, 1.0, y.size) + 1.3 * y)))
    history = [{"epoch": e, "train_loss": 0.42 - 0.02 * e, "valid_auc": 0.74 + 0.008 * e, "valid_logloss": 0.31 - 0.004 * e,
                "lr": 0.001, "seconds": 12.5 + e, "samples_per_s": 21_000.0 + 100 * e} for e in range(1, 6)]
    curves = {"roc": roc_curve(y, prob), "calibration": calibration(y, prob), "history": history}
    metrics = binary_report(y, prob)
    summary = {"params_count": 1_234_567, "samples_per_s": 21_432.5, "inference_ms_per_batch": 3.2,
               "inference_rows_per_s": 640_000.0, "inference_batch_size": 2048, "best_epoch": 5, "n_train": 92_306,
               "n_valid": 11_538, "n_test": 11_539, "stopped_early": False, "threshold": 0.5368361473083496}
    params = {p.name: p.default for p in get_algorithm("deepfm").params}
    log = "".join(f"epoch {e}/5: train_loss={0.42 - 0.02 * e:.4f} valid_auc={0.74 + 0.008 * e:.4f} "
                  f"({21_000 + 100 * e} samples/s)\n" for e in range(1, 6)) * 12
    return {"curves": curves, "metrics": metrics, "summary": summary, "params": params, "log_tail": log}


def dataset_row(i: int, owner) -> Dataset:
    columns = [{"name": f"C{c}", "dtype": "object", "role": "categorical", "missing_pct": 0.4, "distinct": 1000 + c,
                "top_values": [[f"v{k}", 100 - k] for k in range(10)]} for c in range(26)]
    columns += [{"name": f"I{c}", "dtype": "float64", "role": "numeric", "missing_pct": 4.2, "distinct": 500,
                 "min": 0.0, "mean": 3.2, "max": 900.0} for c in range(13)]
    columns.append({"name": "click", "dtype": "int64", "role": "label", "missing_pct": 0.0, "distinct": 2,
                    "positive_rate": 0.1})
    preview = {"columns": [c["name"] for c in columns], "rows": [[f"value{r}{c}" for c in range(len(columns))]
                                                                for r in range(20)]}
    return Dataset(owner=owner, name=f"bench criteo {i}", kind="ctr", file_path=f"bench/{i}.csv",
                   original_filename=f"criteo_{i}.csv", file_format="csv", size_bytes=50_000_000, sha256="0" * 64,
                   n_rows=1_000_000, columns=columns, preview=preview)


def fill(user) -> dict:
    """Create the datasets, jobs and values (about 1-4 minutes); returns the ids the pages need."""
    row = deepfm_row()
    datasets = Dataset.objects.bulk_create([dataset_row(i, user) for i in range(N_DATASETS)])
    rng = random.Random(0)
    start = timezone.now() - timedelta(days=200)
    Job._meta.get_field("created_at").auto_now_add = False  # keep the spread-out creation times given below
    t0 = time.perf_counter()
    for batch in range(0, N_JOBS, 1000):
        jobs = []
        for i in range(batch, batch + 1000):
            status = "succeeded" if i % 10 < 8 else ("failed" if i % 10 == 8 else "cancelled")
            metrics = dict(row["metrics"], auc=0.70 + rng.random() * 0.1, logloss=0.3 + rng.random() * 0.05)
            jobs.append(Job(
                owner=user, dataset=datasets[i % N_DATASETS], kind="ctr", algorithm=ALGORITHMS[i % len(ALGORITHMS)],
                name=f"tuning sweep {i}" if i % 50 == 0 else "", params=row["params"], status=status, progress=1.0,
                phase="done", device="cpu", queue="cpu", attempts=1, created_at=start + timedelta(minutes=25 * i),
                started_at=start, finished_at=start, heartbeat_at=start,
                metrics=metrics if status == "succeeded" else {}, curves=row["curves"] if status == "succeeded" else {},
                summary=row["summary"], log_tail=row["log_tail"],
                error="" if status != "failed" else "RuntimeError: out of memory",
                **headline_fields(metrics if status == "succeeded" else {})))
        Job.objects.bulk_create(jobs)
    print(f"  {N_JOBS:,} jobs in {time.perf_counter() - t0:.1f} s "
          f"(curves {len(__import__('json').dumps(row['curves'])):,} bytes a row)", flush=True)
    Job._meta.get_field("created_at").auto_now_add = True
    catalogue = Dataset.objects.create(**{f.name: getattr(dataset_row(9, user), f.name) for f in Dataset._meta.fields
                                          if f.name not in ("id", "created_at")} | {"kind": "attributes",
                                                                                    "name": "bench catalogue"})
    facets = {"categories": {f"Category {c}": N_VALUES // ATTRIBUTES // 12 for c in range(12)},
              "attributes": [f"Attribute {a}" for a in range(ATTRIBUTES)]}
    job = Job.objects.create(owner=user, dataset=catalogue, kind="attributes", algorithm="hyperpave", status="succeeded",
                             metrics={"micro_f1": 0.81, "macro_f1": 0.64}, curves={"extraction": facets},
                             summary={"products": N_VALUES // ATTRIBUTES, "extracted_rows": N_VALUES}, progress=1.0,
                             finished_at=timezone.now())
    t0 = time.perf_counter()
    insert_values(job, catalogue)
    print(f"  {N_VALUES:,} extracted values in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"  ANALYZE in {time.perf_counter() - t0:.1f} s", flush=True)
    return ids(user)


VALUE_COLUMNS = ("job_id", "dataset_id", "product_id", "title", "category", "attribute", "value", "confidence", "stated",
                 "evidence_field", "evidence_start", "evidence_end", "evidence_text", "is_new_value", "split", "correct",
                 "status")


def value_rows(job, dataset):
    rng = random.Random(1)
    statuses = ["from_labels"] * 35 + ["accepted"] * 3 + ["rejected"] * 2 + ["predicted"] * 60
    for i in range(N_VALUES):
        product, a = i // ATTRIBUTES, i % ATTRIBUTES
        colour = ("red", "blue", "black", "white", "green")[product % 5]
        title = f"Product {product} {colour} cotton shirt, size {('S', 'M', 'L', 'XL')[product % 4]}"
        text = f"{title}. A comfortable {colour} shirt for every day, machine washable, regular fit."
        stated = a == 0
        yield (job.pk, dataset.pk, f"P{product:07d}", title, f"Category {product % 12}", f"Attribute {a}",
               colour if a == 0 else f"value {a}-{rng.randrange(40)}", round(rng.random(), 4), stated,
               "description" if stated else "", text.index(colour) if stated else None,
               text.index(colour) + len(colour) if stated else None, text, rng.random() < 0.02,
               "test" if product % 10 == 0 else "unlabelled", None, rng.choice(statuses))


def insert_values(job, dataset) -> None:
    table = ExtractedValue._meta.db_table
    rows = value_rows(job, dataset)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(VALUE_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({', '.join(VALUE_COLUMNS)}) VALUES ({', '.join(['%s'] * len(VALUE_COLUMNS))})"
    batch: list[tuple] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def ids(user) -> dict:
    mine = Job.objects.filter(owner=user)
    dataset = Dataset.objects.filter(owner=user, name="bench criteo 1").get()
    best = mine.filter(dataset=dataset, status="succeeded").order_by("-headline_score", "-id")
    attr_job = mine.filter(kind="attributes").get()
    deep = mine.order_by("-created_at", "-id").values_list("created_at", flat=True)[9_000]
    return {"dataset": dataset.pk, "five": list(best.values_list("id", flat=True)[:5]), "job": best.first().pk,
            "attr_job": attr_job.pk, "deep_cursor": base64.b64encode(urlencode({"p": str(deep)}).encode()).decode()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "ctrsite.wsgi:application", "--workers", "2",
                             "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning"],
                            cwd=REPO, env=dict(os.environ), start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def stop(server: subprocess.Popen) -> None:
    """Quick shutdown (SIGQUIT), then SIGKILL if the workers are still busy after 10 s."""
    import signal

    os.killpg(server.pid, signal.SIGQUIT)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def fetch(url: str, cookie: str) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
    return (time.perf_counter() - t0) * 1000, len(body)


def measure(url: str, cookie: str, concurrency: int, per_thread: int) -> tuple[list[float], int]:
    times: list[float] = []
    size = [0]
    lock = threading.Lock()

    def worker():
        for _ in range(per_thread):
            ms, n = fetch(url, cookie)
            with lock:
                times.append(ms)
                size[0] = n

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, size[0]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="keep the rows of an earlier run")
    parser.add_argument("--requests", type=int, default=40, help="requests per page at concurrency 1 (4: the same per thread/2)")
    args = parser.parse_args()
    print(f"database: {connection.vendor} · DEBUG={os.environ.get('DEBUG', '0')} · load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine)", flush=True)
    call_command("migrate", verbosity=0)
    User = get_user_model()
    user = User.objects.filter(username=USERNAME).first()
    if user is None or not args.reuse or not Job.objects.filter(owner=user).exists():
        if user is not None:
            print("  deleting the previous bench rows", flush=True)
            ExtractedValue.objects.filter(dataset__owner=user)._raw_delete(connection.alias)
            Job.objects.filter(owner=user)._raw_delete(connection.alias)
            Dataset.objects.filter(owner=user)._raw_delete(connection.alias)
            user.delete()
        user = User.objects.create_user(USERNAME, password=PASSWORD)
        print("filling the database…", flush=True)
        pages = fill(user)
    else:
        pages = ids(user)
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rows = [
        ("job list page", "/jobs/"),
        ("job list API, first page", "/api/jobs/"),
        ("job list API, cursor at job 9,000", f"/api/jobs/?cursor={pages['deep_cursor']}"),
        ("job page (DeepFM, charts)", f"/jobs/{pages['job']}/"),
        ("dataset page + leaderboard", f"/datasets/{pages['dataset']}/"),
        ("compare 5 runs", f"/jobs/compare/?dataset={pages['dataset']}&" + "&".join(f"ids={i}" for i in pages["five"])),
        ("value browser", f"/attributes/jobs/{pages['attr_job']}/"),
        ("value browser, filters", f"/attributes/jobs/{pages['attr_job']}/?attribute=Attribute+3&status=predicted"
                                   "&min_confidence=0.5"),
        ("value browser, search", f"/attributes/jobs/{pages['attr_job']}/?q=P0012345"),
        ("value browser, text search", f"/attributes/jobs/{pages['attr_job']}/?q=green+cotton"),
        ("next review item", f"/attributes/jobs/{pages['attr_job']}/review/"),
    ]
    server = start_gunicorn(port)
    results = []
    try:
        for label, path in rows:
            for _ in range(4):  # warm-up: both workers' caches and connections
                fetch(base + path, cookie)
            one, size = measure(base + path, cookie, 1, args.requests)
            four, _ = measure(base + path, cookie, 4, max(args.requests // 2, 1))
            results.append((label, one, four, size))
            print(f"  {label}: p95 {pct(one, 0.95):.0f} / {pct(four, 0.95):.0f} ms", flush=True)
    finally:
        stop(server)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    print(f"\n{connection.vendor}: {N_JOBS:,} jobs, {N_VALUES:,} values; gunicorn 2 workers; "
          f"{args.requests} requests at c=1, {4 * max(args.requests // 2, 1)} at c=4 (ms)")
    out = io.StringIO()
    out.write(f"| {'page':38} | p50 c=1 | p95 c=1 | p50 c=4 | p95 c=4 | KB |\n|{'-' * 40}|---:|---:|---:|---:|---:|\n")
    for label, one, four, size in results:
        out.write(f"| {label:38} | {statistics.median(one):7.0f} | {pct(one, 0.95):7.0f} | {statistics.median(four):7.0f} "
                  f"| {pct(four, 0.95):7.0f} | {size / 1024:.0f} |\n")
    print(out.getvalue())


if __name__ == "__main__":
    main()
