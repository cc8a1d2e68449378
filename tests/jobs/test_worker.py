"""Jobs on real Celery worker processes: success, cancellation, and a SIGKILL mid-training."""
from __future__ import annotations

import pytest

from datasets.services import create_dataset
from jobs import services
from jobs.models import Job
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.embedded]


@pytest.fixture
def criteo_dataset(user, criteo_csv):
    return create_dataset(owner=user, source_file=criteo_csv, filename=criteo_csv.name, name="criteo 6k")


def job_state(pk: int) -> Job:
    return Job.objects.get(pk=pk)


def test_deepfm_job_runs_to_success_on_a_real_worker(user, criteo_dataset, start_worker):
    worker = start_worker()
    job = services.submit_job(owner=user, dataset=criteo_dataset, algorithm="deepfm",
                              params={"epochs": 3, "batch_size": 256})
    done = wait_for(lambda: (j := job_state(job.pk)).is_terminal and j, 180, message="the DeepFM job to finish")
    assert done.status == "succeeded", f"{done.error}\n{done.log_tail}\n{worker.log()[-2000:]}"
    assert done.queue == "cpu" and done.device == "cpu" and done.worker == worker.name and done.attempts == 1
    assert 0.55 < done.metrics["auc"] <= 1.0 and 0 < done.metrics["logloss"] < 1.0
    assert done.curves["roc"]["fpr"][0] == 0 and done.curves["roc"]["tpr"][-1] == 1
    assert len(done.curves["history"]) >= 1 and done.summary["n_test"] > 0
    assert done.artifact_path and (job.workdir / "model.pt").exists()


def test_cancelled_job_stops_at_next_batch(user, criteo_dataset, start_worker):
    start_worker()
    job = services.submit_job(owner=user, dataset=criteo_dataset, algorithm="deepfm",
                              params={"epochs": 200, "batch_size": 32, "patience": 200})
    wait_for(lambda: job_state(job.pk).progress > 0.001, 120, message="training to start")
    services.cancel_job(job_state(job.pk))
    stopped = wait_for(lambda: (j := job_state(job.pk)).is_terminal and j, 30, message="the job to stop")
    assert stopped.status == "cancelled" and stopped.progress < 0.5
    assert "stopped on request" in stopped.log_tail and stopped.phase.startswith("cancelled during epoch")


def test_sigkilled_worker_job_resumes_from_last_checkpoint(user, criteo_dataset, start_worker):
    name = "cpu@pytest-killed"
    first = start_worker(name)
    job = services.submit_job(owner=user, dataset=criteo_dataset, algorithm="deepfm",
                              params={"epochs": 6, "batch_size": 64, "patience": 50})
    checkpoint = job.workdir / "checkpoint.pt"
    wait_for(lambda: checkpoint.exists() and "epoch 2" in job_state(job.pk).phase, 180,
             message="a checkpoint and the second epoch")
    first.kill()
    orphan = job_state(job.pk)
    assert orphan.status == "running" and orphan.attempts == 1  # nobody could mark it: the process was killed
    start_worker(name)  # a restarted worker finds the orphan and puts it back on the queue
    done = wait_for(lambda: (j := job_state(job.pk)).is_terminal and j, 240, message="the resumed job to finish")
    assert done.status == "succeeded", done.log_tail
    assert done.attempts == 2 and "re-queued" in done.log_tail and "resumed from epoch" in done.log_tail
    assert done.summary["resumed_from"] >= 1 and len(done.curves["history"]) == 6


def test_killed_pool_process_is_redelivered_by_late_ack_and_resumes(user, criteo_dataset, start_worker):
    """SIGKILL only the process running the job: the live worker re-queues the unacknowledged message."""
    import os
    import signal

    start_worker()
    job = services.submit_job(owner=user, dataset=criteo_dataset, algorithm="deepfm",
                              params={"epochs": 5, "batch_size": 64, "patience": 50})
    checkpoint = job.workdir / "checkpoint.pt"
    running = wait_for(lambda: checkpoint.exists() and "epoch 2" in (j := job_state(job.pk)).phase and j, 180,
                       message="a checkpoint and the second epoch")
    os.kill(running.worker_pid, signal.SIGKILL)
    done = wait_for(lambda: (j := job_state(job.pk)).is_terminal and j, 240, message="the job to finish after the kill")
    assert done.status == "succeeded", done.log_tail
    assert done.attempts == 2 and done.worker_pid != running.worker_pid and "resumed from epoch" in done.log_tail
