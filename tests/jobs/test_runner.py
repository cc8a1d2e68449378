"""Job life cycle in-process: submit, run, fail, cancel, duplicate delivery, orphan recovery."""
from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Job
from jobs.recovery import recover_orphaned_jobs
from jobs.runner import claim_job, execute_job

pytestmark = pytest.mark.django_db


def submit(user, dataset, **params):
    return services.submit_job(owner=user, dataset=dataset, algorithm="test_echo", params=params)


def test_submit_validates_and_queues(user, ctr_dataset, echo_algorithm, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "enqueue_job", lambda job_id: sent.append(job_id))
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(user, ctr_dataset, steps="4")
    assert job.status == "queued" and job.params == {"steps": 4, "sleep": 0.0, "fail": "no"} and sent == [job.pk]


def test_impossible_hyperparameters_never_create_a_job(user, ctr_dataset, echo_algorithm):
    with pytest.raises(services.JobError) as err:
        submit(user, ctr_dataset, steps=0)
    assert "at least 1" in err.value.errors["steps"] and Job.objects.count() == 0


def test_unknown_algorithm_and_wrong_kind_are_refused(user, ctr_dataset):
    with pytest.raises(services.JobError, match="Unknown algorithm"):
        services.submit_job(owner=user, dataset=ctr_dataset, algorithm="nope")


def test_successful_run_stores_metrics_and_log(user, ctr_dataset, echo_algorithm):
    job = submit(user, ctr_dataset)
    assert execute_job(job.pk, "host-a", os.getpid()) == "succeeded"
    job.refresh_from_db()
    assert job.status == "succeeded" and job.progress == 1.0 and job.metrics == {"auc": 0.75, "rows": 60.0}
    assert "read 60 rows" in job.log_tail and job.device == "cpu" and job.attempts == 1 and job.finished_at


def test_exception_marks_job_failed_with_traceback(user, ctr_dataset, echo_algorithm):
    job = submit(user, ctr_dataset, fail="crash")
    execute_job(job.pk, "host-a", os.getpid())
    job.refresh_from_db()
    assert job.status == "failed" and job.error == "RuntimeError: boom in step 3"
    assert "Traceback (most recent call last)" in job.log_tail and "boom in step 3" in job.log_tail


def test_data_error_gives_the_analyst_message(user, ctr_dataset, echo_algorithm):
    job = submit(user, ctr_dataset, fail="data")
    execute_job(job.pk, "host-a", os.getpid())
    job.refresh_from_db()
    assert job.status == "failed" and "numeric columns must hold numbers" in job.error


def test_cancelling_a_queued_job_means_it_never_runs(user, ctr_dataset, echo_algorithm):
    job = services.cancel_job(submit(user, ctr_dataset))
    assert job.status == "cancelled"
    assert execute_job(job.pk, "host-a", os.getpid()) is None
    job.refresh_from_db()
    assert job.status == "cancelled" and job.attempts == 0


def test_running_job_stops_at_next_check_when_cancelled(user, ctr_dataset, echo_algorithm, monkeypatch):
    job = submit(user, ctr_dataset, steps=50)
    from jobs import runner

    original = runner.JobReporter.progress
    def progress(self, fraction, phase):
        original(self, fraction, phase)
        if phase == "step 5":
            Job.objects.filter(pk=job.pk).update(cancel_requested=True)
            self._last_cancel_check = 0.0
    monkeypatch.setattr(runner.JobReporter, "progress", progress)
    assert execute_job(job.pk, "host-a", os.getpid()) == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and "step 5" in job.phase and "stopped on request" in job.log_tail


def test_duplicate_delivery_does_not_run_a_live_job_twice(user, ctr_dataset, echo_algorithm):
    job = submit(user, ctr_dataset)
    assert claim_job(job.pk, "host-a", os.getpid()) is not None  # this process is alive
    assert claim_job(job.pk, "host-a", os.getpid()) is None
    assert claim_job(job.pk, "host-b", 1234) is None  # fresh heartbeat on another host


def test_job_of_a_dead_process_is_reclaimed(user, ctr_dataset, echo_algorithm):
    job = submit(user, ctr_dataset)
    Job.objects.filter(pk=job.pk).update(status="running", worker="host-a", worker_pid=2**22 + 12345,
                                         heartbeat_at=timezone.now())
    claimed = claim_job(job.pk, "host-a", os.getpid())
    assert claimed is not None and claimed.attempts == 1


def test_recovery_requeues_orphans_and_leaves_live_jobs(user, ctr_dataset, echo_algorithm, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(services, "enqueue_job", lambda job_id: sent.append(job_id))
    dead_here = submit(user, ctr_dataset)
    stale_elsewhere = submit(user, ctr_dataset)
    live = submit(user, ctr_dataset)
    now = timezone.now()
    Job.objects.filter(pk=dead_here.pk).update(status="running", worker="host-a", worker_pid=2**22 + 1, heartbeat_at=now)
    Job.objects.filter(pk=stale_elsewhere.pk).update(status="running", worker="host-b", worker_pid=1,
                                                     heartbeat_at=now - timedelta(hours=1))
    Job.objects.filter(pk=live.pk).update(status="running", worker="host-b", worker_pid=1, heartbeat_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        recovered = recover_orphaned_jobs("host-a")
    assert sorted(recovered) == sorted([dead_here.pk, stale_elsewhere.pk]) and sorted(sent) == sorted(recovered)
    assert Job.objects.get(pk=live.pk).status == "running"
    assert Job.objects.get(pk=dead_here.pk).status == "queued"


def test_gpu_routing_needs_a_live_cuda_worker(settings):
    from jobs.models import Worker

    assert services.choose_queue("auto") == settings.JOB_QUEUE_CPU
    Worker.objects.create(hostname="gpu@x", queues=[settings.JOB_QUEUE_GPU], has_cuda=True, started_at=timezone.now(),
                          last_seen=timezone.now())
    assert services.choose_queue("auto") == settings.JOB_QUEUE_GPU
    assert services.choose_queue("cpu") == settings.JOB_QUEUE_CPU
    Worker.objects.filter(hostname="gpu@x").update(last_seen=timezone.now() - timedelta(minutes=10))
    assert services.choose_queue("auto") == settings.JOB_QUEUE_CPU
