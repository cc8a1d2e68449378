"""Fixtures shared by the whole suite: users, API clients, shared data, real worker processes."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

REPO = Path(__file__).resolve().parent.parent


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")


@pytest.fixture(scope="session", autouse=True)
def clean_test_folders(django_db_setup):
    """Start each session with empty media and broker folders (and an empty Redis queue)."""
    for folder in (Path(settings.MEDIA_ROOT), Path(settings.BROKER_DIR) / "queue"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    from ctrsite.celery import app

    with app.connection_for_write() as conn:
        for queue in (settings.JOB_QUEUE_CPU, settings.JOB_QUEUE_GPU):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue that does not exist yet has nothing to purge
                pass
    yield


@pytest.fixture(autouse=True)
def no_leftover_job_folders():
    """Each test starts without job folders of earlier tests: their rows were rolled back, so SQLite hands
    the same ids out again and a new job would find (and resume from) another job's checkpoint."""
    jobs = Path(settings.MEDIA_ROOT) / "jobs"
    if jobs.is_dir():
        for folder in jobs.iterdir():
            shutil.rmtree(folder, ignore_errors=True)
    yield


USERNAME, PASSWORD = "alice", "alice-pass-123"  # the `user` fixture's login


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(USERNAME, password=PASSWORD)


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("carol", password="carol-pass-123", is_staff=True)


@pytest.fixture
def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and on a shared 2-core machine two torch threads
    contend badly (scatter ops ~10x slower): run the test on one thread, then restore the count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    path = Path(settings.SHARED_DATA_DIR)
    if not path.is_dir():
        pytest.fail(f"The shared data folder is missing at {path}; set CTRSTUDIO_SHARED_DATA.")
    return path


@pytest.fixture
def criteo_csv(tmp_path, shared_data) -> Path:
    """A 6,000-row CSV cut from the real Criteo attribution sample: quick to train on."""
    import pandas as pd

    frame = pd.read_parquet(shared_data / "criteo_attribution_small" / "small_train.parquet").head(6000)
    path = tmp_path / "criteo_6k.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def movielens_csv(shared_data, tmp_path) -> Path:
    """The first 30 MovieLens users as a sequence table (histories of items, genres, times and the
    user's feedback; last 3 ratings per user are test), written as an analyst's CSV (``|`` lists)."""
    from modeling.sequences import SequenceConfig, build_sequences, load_movielens

    log = load_movielens(shared_data / "movielens_latest_small")
    events = log.events[log.events["user_id"].astype(int) <= 30]
    table = build_sequences(events, fields=log.fields, config=SequenceConfig(max_len=20, valid_events=2, test_events=3))
    path = tmp_path / "movielens_30_users.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture
def taobao_log(shared_data, tmp_path):
    """The real Taobao sample as an analyst's event log CSV: user, item, category, action, time, label."""
    import pandas as pd

    from modeling.sequences import TAOBAO_COLUMNS

    raw = pd.read_csv(shared_data / "taobao_userbehavior_sample" / "UserBehavior_sample.csv", header=None,
                      names=TAOBAO_COLUMNS)
    log = raw.rename(columns={"behavior": "action"}).assign(label=lambda f: (f["action"] != "pv").astype(int))
    path = tmp_path / "my_events.csv"
    log.to_csv(path, index=False)
    return path, log


def worker_environment() -> dict[str, str]:
    """Environment for a worker process that shares this test session's database, media and broker."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "ctrsite.test_settings",
        "DATABASE_URL": url,
        "CTRSTUDIO_VAR_DIR": str(settings.VAR_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TORCH_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class WorkerProcess:
    """A real ``celery worker`` process (prefork pool, one child) serving the cpu queue."""

    def __init__(self, name: str, log_path: Path, env: dict[str, str] | None = None, include: str = ""):
        self.name = name
        self.log_path = log_path
        self.env = env or {}
        self.include = include
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "WorkerProcess":
        from jobs.models import Worker

        log = open(self.log_path, "ab")
        extra = ["--include", self.include] if self.include else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ctrsite", "worker", "-Q", settings.JOB_QUEUE_CPU, "-c", "1",
             "-P", "prefork", "-n", self.name, "--without-gossip", "--without-mingle", "--loglevel=INFO", *extra],
            cwd=REPO, env={**worker_environment(), **self.env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        started = time.time()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            worker = Worker.objects.filter(hostname=self.name).first()
            if worker and worker.online and worker.started_at.timestamp() >= started - 1:
                return self
            time.sleep(0.3)
        raise RuntimeError(f"worker did not become ready:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM); once the worker has signed off, SIGKILL what is left.

        A worker signs off (``online=False``) after its consumer and pool have stopped; billiard's
        exit finalizers then join threads that sleep a second per loop, about 5 s that no test
        observes. A worker that never signs off (database down) is killed after ``timeout``.
        """
        from jobs.models import Worker

        if not self.proc or self.proc.poll() is not None:
            return
        asked = timezone.now()
        os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.proc.wait(timeout=0.2)
                return
            except subprocess.TimeoutExpired:
                pass
            try:
                signed_off = Worker.objects.filter(hostname=self.name, online=False, last_seen__gte=asked).exists()
            except Exception:  # noqa: BLE001 - the database may be the thing a fault test stopped
                signed_off = False
            if signed_off:
                break
        self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real worker processes; all are stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(name: str | None = None, **options) -> WorkerProcess:
        worker = WorkerProcess(name or f"cpu@pytest-{uuid.uuid4().hex[:8]}", tmp_path / "worker.log", **options)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, timeout: float, interval: float = 0.3, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {message}")


def pytest_collection_modifyitems(config, items):
    """Browser tests need Chromium; Postgres tests need DATABASE_URL on PostgreSQL. In CI both are required."""
    chromium = os.environ.get("CTRSTUDIO_CHROMIUM", "/usr/bin/chromium")
    vendor_pg = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if _required("CTRSTUDIO_REQUIRE_REDIS") and not settings.CELERY_BROKER_URL.startswith("redis"):
        raise pytest.UsageError("CTRSTUDIO_REQUIRE_REDIS is set but CELERY_BROKER_URL is not Redis")
    for item in items:
        if "browser" in item.keywords and not Path(chromium).exists():
            if _required("CTRSTUDIO_REQUIRE_BROWSER"):
                raise pytest.UsageError(f"CTRSTUDIO_REQUIRE_BROWSER is set but Chromium is missing at {chromium}")
            else:
                item.add_marker(pytest.mark.skip(reason=f"Chromium not found at {chromium} (apt-get install chromium)"))
        if "postgres" in item.keywords and not vendor_pg:
            if _required("CTRSTUDIO_REQUIRE_POSTGRES"):
                raise pytest.UsageError("CTRSTUDIO_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")
            else:
                item.add_marker(pytest.mark.skip(reason="DATABASE_URL is not PostgreSQL"))


# --- headless Chromium, shared by every browser test
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page():
    """A page in headless Debian Chromium driven by Playwright (no browser download)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CTRSTUDIO_CHROMIUM", "/usr/bin/chromium"),
                                     args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def log_in(page, base_url: str) -> None:
    """Log the `user` fixture's analyst in through the login page."""
    page.goto(base_url + "/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def screenshot(page, name: str) -> None:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
