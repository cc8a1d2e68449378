"""The reconciler's decisions, in-process: which queued jobs are re-sent, which running ones re-queued."""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import reconciler, services
from jobs.models import Job
from jobs.runner import JobReporter, Superseded, claim_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Messages the reconciler sends, recorded instead of published."""
    out: list[int] = []
    monkeypatch.setattr(reconciler, "enqueue_job", lambda job_id: out.append(job_id) or True)
    monkeypatch.setattr(services, "enqueue_job", lambda job_id: out.append(job_id) or True)
    return out


def queued(user, dataset, *, sent_ago: float | None, **fields) -> Job:
    job = services.submit_job(owner=user, dataset=dataset, algorithm="test_echo")
    when = None if sent_ago is None else timezone.now() - timedelta(seconds=sent_ago)
    Job.objects.filter(pk=job.pk).update(enqueued_at=when, queue="cpu", celery_task_id=str(uuid.uuid4()), **fields)
    if sent_ago is None:
        Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    return Job.objects.get(pk=job.pk)


def test_lost_queued_jobs_are_sent_again_and_fresh_ones_left(user, ctr_dataset, echo_algorithm, sent, settings,
                                                              monkeypatch):
    settings.JOB_REQUEUE_AFTER_SECONDS = 30
    monkeypatch.setattr(reconciler, "message_waiting", lambda job: False)
    lost = queued(user, ctr_dataset, sent_ago=120)
    never_sent = queued(user, ctr_dataset, sent_ago=None)  # the broker was down at submission
    fresh = queued(user, ctr_dataset, sent_ago=5)
    cancelled = queued(user, ctr_dataset, sent_ago=120, cancel_requested=True)
    result = reconciler.reconcile("host-a")
    assert sorted(result.resent_queued) == sorted([lost.pk, never_sent.pk]) and sorted(sent) == sorted(result.resent_queued)
    assert fresh.pk not in sent and cancelled.pk not in sent
    assert reconciler.reconcile("host-a").resent_queued == []  # enqueued_at moved on: not sent twice in a row


def test_queued_job_whose_message_still_waits_is_not_duplicated(user, ctr_dataset, echo_algorithm, sent, settings,
                                                                  monkeypatch):
    settings.JOB_REQUEUE_AFTER_SECONDS = 30
    monkeypatch.setattr(reconciler, "message_waiting", lambda job: True)
    waiting = queued(user, ctr_dataset, sent_ago=600)
    result = reconciler.reconcile("host-a")
    assert result.resent_queued == [] and result.still_waiting == [waiting.pk] and sent == []
    assert Job.objects.get(pk=waiting.pk).enqueued_at > timezone.now() - timedelta(seconds=5)


def test_two_reconcilers_send_one_message(user, ctr_dataset, echo_algorithm, settings):
    settings.JOB_REQUEUE_AFTER_SECONDS = 30
    lost = queued(user, ctr_dataset, sent_ago=120)
    [seen_by_a] = reconciler.lost_queued_candidates()
    [seen_by_b] = reconciler.lost_queued_candidates()
    assert reconciler._take_turn(seen_by_a) is True
    assert reconciler._take_turn(seen_by_b) is False and seen_by_b.pk == lost.pk


def test_stale_running_job_is_requeued_although_a_process_with_its_pid_lives(user, ctr_dataset, echo_algorithm, sent,
                                                                               settings):
    """The issue's PostgreSQL case: the idle pool process was alive, so the dead job was never re-queued."""
    settings.JOB_STALE_SECONDS = 60
    stale = queued(user, ctr_dataset, sent_ago=1)
    live = queued(user, ctr_dataset, sent_ago=1)
    now = timezone.now()
    Job.objects.filter(pk=stale.pk).update(status="running", worker="host-a", worker_pid=os.getpid(),
                                           heartbeat_at=now - timedelta(seconds=300))
    Job.objects.filter(pk=live.pk).update(status="running", worker="host-a", worker_pid=os.getpid(), heartbeat_at=now)
    result = reconciler.reconcile("host-a")
    assert result.requeued_running == [stale.pk]
    assert Job.objects.get(pk=stale.pk).status == "queued" and Job.objects.get(pk=live.pk).status == "running"


def test_superseded_run_stops_at_its_next_write_and_records_nothing(user, ctr_dataset, echo_algorithm, sent):
    job = queued(user, ctr_dataset, sent_ago=1)
    first = claim_job(job.pk, "host-a", os.getpid())
    reporter = JobReporter(first)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    services.requeue_job(Job.objects.get(pk=job.pk), "heartbeat stale")
    second = claim_job(job.pk, "host-b", 4242)
    assert second.attempts == first.attempts + 1
    with pytest.raises(Superseded):
        reporter.progress(0.5, "epoch 3/6")
        reporter.flush(force=True)
    assert Job.objects.get(pk=job.pk).worker == "host-b" and Job.objects.get(pk=job.pk).phase != "epoch 3/6"


def test_message_waiting_reads_the_real_broker_queue(user, ctr_dataset, echo_algorithm):
    """Works on the suite's broker (file-system folder by default, Redis in CI)."""
    from ctrsite.celery import app
    from jobs.tasks import run_job

    queue = f"reconcile-test-{uuid.uuid4().hex[:6]}"
    job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="test_echo")
    job.queue, job.celery_task_id = queue, str(uuid.uuid4())
    assert reconciler.message_waiting(job) is False
    run_job.apply_async(args=[job.pk], queue=queue, task_id=job.celery_task_id)
    try:
        assert reconciler.message_waiting(job) is True
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
    assert reconciler.message_waiting(job) is False
