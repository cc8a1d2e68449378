"""Infrastructure faults with real servers and workers: each job ends succeeded or failed with a clear message.

A private PostgreSQL and a private Redis (no persistence) run on free ports for this module, so
restarting them never touches shared servers; real ``celery worker`` processes are pointed at them.
Recovery times (seconds from the fault to the job moving again) are appended to
``VAR_DIR/fault_recovery_times.txt`` and printed.
"""
from __future__ import annotations

import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from jobs import services
from jobs.dbretry import retry_db
from jobs.models import Job
from tests.conftest import WorkerProcess, wait_for
from tests.private_services import PrivatePostgres, PrivateRedis, django_on, mount_available, tmpfs

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.faults]

FAST_RECOVERY = {"JOB_STALE_SECONDS": "6", "JOB_REQUEUE_AFTER_SECONDS": "3", "JOB_DB_RETRY_SECONDS": "30",
                 "JOB_MIN_FREE_MB": "1", "JOB_PROGRESS_MIN_INTERVAL": "0.2"}


@pytest.fixture(scope="module")
def servers():
    try:
        pg = PrivatePostgres().start()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot start a private PostgreSQL: {exc}")
    redis = PrivateRedis().start()
    pg.create_database()
    yield pg, redis
    redis.close()
    pg.close()


@dataclass
class Stack:
    pg: PrivatePostgres
    redis: PrivateRedis
    tmp_path: Path
    user: object = None
    dataset: object = None
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(self, **env: str) -> WorkerProcess:
        worker = WorkerProcess(f"cpu@fault-{uuid.uuid4().hex[:6]}", self.tmp_path / f"worker{len(self.workers)}.log",
                               env={"DATABASE_URL": self.pg.url(), "CELERY_BROKER_URL": self.redis.url,
                                    **FAST_RECOVERY, **env},
                               include="tests.jobs.fault_algorithms")
        self.workers.append(worker)
        return worker.start()

    def submit(self, **params) -> Job:
        return services.submit_job(owner=self.user, dataset=self.dataset, algorithm="test_steps", params=params)

    def job(self, pk: int) -> Job:
        return retry_db(lambda: Job.objects.get(pk=pk), what="test poll", within=30)

    def finished(self, pks: list[int], timeout: float) -> list[Job]:
        def all_done():
            jobs = [self.job(pk) for pk in pks]
            return jobs if all(j.is_terminal for j in jobs) else None
        return wait_for(all_done, timeout, message=f"jobs {pks} to finish\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(w.log()[-3000:] for w in self.workers)


@pytest.fixture
def stack(servers, django_db_blocker, tmp_path):
    from django.contrib.auth import get_user_model

    from datasets.services import create_dataset
    from tests.jobs import fault_algorithms

    pg, redis = servers
    with django_db_blocker.unblock(), django_on(pg.settings_dict(), redis.url):
        call_command("migrate", verbosity=0)
        services_stack = Stack(pg, redis, tmp_path)
        services_stack.user = get_user_model().objects.create_user(f"fault-{uuid.uuid4().hex[:6]}", password="x")
        csv = tmp_path / "tiny.csv"
        csv.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(60)))
        services_stack.dataset = create_dataset(owner=services_stack.user, source_file=csv, filename="tiny.csv")
        from jobs import registry

        registry.register(fault_algorithms.STEPS)
        try:
            yield services_stack
        finally:
            registry._ALGORITHMS.pop(fault_algorithms.STEPS.key, None)
            for worker in services_stack.workers:
                worker.kill()  # private servers, throw-away state: no need for a warm shutdown


def record(name: str, seconds: float) -> None:
    line = f"{name}: {seconds:.1f} s"
    print(line)
    with open(Path(settings.VAR_DIR) / "fault_recovery_times.txt", "a") as fh:
        fh.write(line + "\n")


def test_jobs_queued_when_redis_restarts_without_persistence_all_finish(stack):
    stack.start_worker()
    busy = stack.submit(steps=12, sleep=0.25)
    wait_for(lambda: stack.job(busy.pk).status == "running", 30, message="the first job to start")
    queued = [stack.submit(steps=2, sleep=0.05) for _ in range(3)]
    restarted = time.time()
    stack.redis.restart()  # the three queued messages are gone
    jobs = stack.finished([busy.pk, *[j.pk for j in queued]], 60)
    assert [j.status for j in jobs] == ["succeeded"] * 4, stack.logs()
    assert all(j.attempts == 1 for j in jobs)  # none ran twice
    record("Redis restarted, queued job running again", min(j.started_at.timestamp() for j in jobs[1:]) - restarted)


def test_postgres_restart_during_a_running_job_is_survived_without_a_rerun(stack):
    stack.start_worker()
    job = stack.submit(steps=20, sleep=0.25, checkpoint_every=5)
    wait_for(lambda: stack.job(job.pk).progress >= 0.2, 30, message="the job to make progress")
    at_fault = stack.job(job.pk).progress
    restarted = time.time()
    stack.pg.restart()
    wait_for(lambda: stack.job(job.pk).progress > at_fault + 0.05, 30, message="progress after the restart")
    record("PostgreSQL restarted mid-job, progress moving again", time.time() - restarted)
    [done] = stack.finished([job.pk], 60)
    assert done.status == "succeeded" and done.attempts == 1, f"{done.error}\n{stack.logs()}"
    assert done.metrics["resumed_from"] == 0


def test_postgres_restart_during_submissions_loses_no_job(stack):
    stack.start_worker()
    restarter = threading.Thread(target=lambda: (time.sleep(0.3), stack.pg.restart()))
    started = time.time()
    restarter.start()
    submitted = []
    while time.time() - started < 2.5:
        submitted.append(stack.submit(steps=1, sleep=0.0).pk)  # retried across the outage inside submit_job
        time.sleep(0.1)
    restarter.join()
    jobs = stack.finished(submitted, 60)
    assert [j.status for j in jobs] == ["succeeded"] * len(submitted), stack.logs()
    record("PostgreSQL restarted during submissions, last job done", max(j.finished_at.timestamp() for j in jobs) - started)


def test_result_not_recorded_during_a_long_outage_is_requeued_and_finishes(stack):
    """The database is away longer than the runner's retry budget: the run gives up, its heartbeat ages,
    and the reconciler re-queues the job once the database is back; it resumes from its checkpoint."""
    stack.start_worker(JOB_DB_RETRY_SECONDS="1")
    job = stack.submit(steps=16, sleep=0.25, checkpoint_every=4)
    wait_for(lambda: stack.job(job.pk).progress >= 0.3, 30, message="a checkpoint")
    stack.pg.stop()
    time.sleep(4)
    stack.pg.start()
    back = time.time()
    wait_for(lambda: stack.job(job.pk).attempts == 2, 30, message=f"the job to be re-queued and claimed\n{stack.logs()}")
    record("PostgreSQL down 4 s (past the retry budget), job running again", time.time() - back)
    [done] = stack.finished([job.pk], 60)
    assert done.status == "succeeded" and done.attempts == 2, f"{done.error}\n{stack.logs()}"
    assert done.metrics["resumed_from"] >= 4 and "re-queued" in done.log_tail


needs_mount = pytest.mark.skipif(not mount_available(), reason="cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")


@needs_mount
def test_job_folder_turned_read_only_mid_run_fails_with_a_clear_message(stack):
    from django.db import transaction

    stack.start_worker()
    with transaction.atomic():  # the message leaves only after the folder is mounted
        job = stack.submit(steps=40, sleep=0.2)
        mount = tmpfs(job.workdir, "4m")
        mount.__enter__()
    try:
        wait_for(lambda: stack.job(job.pk).progress >= 0.1, 30, message="the job to run")
        subprocess.run(["mount", "-o", "remount,ro", str(job.workdir)], check=True)
        made_read_only = time.time()
        [done] = stack.finished([job.pk], 30)
        record("job folder made read-only, job marked failed", done.finished_at.timestamp() - made_read_only)
    finally:
        mount.__exit__(None, None, None)
    assert done.status == "failed" and done.error.startswith("job folder not writable:"), done.error
    assert "Read-only file system" in done.error and done.progress < 1


@needs_mount
def test_full_job_folder_fails_with_no_space_and_leaves_no_partial_checkpoint(stack):
    from django.db import transaction

    stack.start_worker()
    with transaction.atomic():
        job = stack.submit(steps=4, sleep=0.1, checkpoint_every=2, checkpoint_mb=8)  # 8 MB into a 3 MB disk
        mount = tmpfs(job.workdir, "3m")
        mount.__enter__()
    try:
        [done] = stack.finished([job.pk], 30)
        left = sorted(p.name for p in job.workdir.iterdir())
    finally:
        mount.__exit__(None, None, None)
    assert done.status == "failed" and done.error.startswith("no space left on device in the job folder"), done.error
    assert left == ["job.log"], left  # no checkpoint.tmp, no torn checkpoint.pt
