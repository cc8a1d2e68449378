"""Multi-device jobs on the job side: the devices limit, routing by device count, the page's facts, a real run."""
from __future__ import annotations

import os

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import services
from jobs.models import Job, Worker
from jobs.runner import execute_job
from jobs.templatetags.jobtags import run_facts

pytestmark = pytest.mark.django_db


def test_devices_beyond_the_installation_limit_never_create_a_job(user, ctr_dataset, settings):
    settings.JOB_MAX_DEVICES = 2
    with pytest.raises(services.JobError) as err:
        services.submit_job(owner=user, dataset=ctr_dataset, algorithm="lr", params={"devices": 3})
    assert err.value.errors == {"devices": "at most 2 devices per job on this installation"}
    with pytest.raises(services.JobError) as err:
        services.submit_job(owner=user, dataset=ctr_dataset, algorithm="lr", params={"devices": 0})
    assert "at least 1" in err.value.errors["devices"] and Job.objects.count() == 0


def test_multi_gpu_jobs_go_to_the_queue_of_their_device_count(user, ctr_dataset, settings, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    from jobs.tasks import run_job

    sent = []
    monkeypatch.setattr(run_job, "apply_async", lambda args, queue, task_id: sent.append(queue))
    assert services.choose_queue("auto", 2) == settings.JOB_QUEUE_CPU  # no GPU worker: 2 CPU processes
    Worker.objects.create(hostname="one@gpu", queues=["gpu"], has_cuda=True, started_at=timezone.now(),
                          last_seen=timezone.now())
    assert services.choose_queue("auto", 2) == settings.JOB_QUEUE_CPU  # a 1-GPU worker cannot take it
    assert services.choose_queue("auto", 1) == "gpu"
    Worker.objects.create(hostname="two@gpu", queues=["gpu", "gpu-x2"], has_cuda=True, started_at=timezone.now(),
                          last_seen=timezone.now())
    assert services.choose_queue("auto", 2) == "gpu-x2" and services.choose_queue("gpu", 4) == "gpu-x4"
    assert services.choose_queue("cpu", 2) == settings.JOB_QUEUE_CPU
    assert [services.queue_devices(q) for q in ("gpu", "gpu-x2", "gpu-x16", "cpu", "gpu-xx")] == [1, 2, 16, 0, 0]
    with django_capture_on_commit_callbacks(execute=True):
        job = services.submit_job(owner=user, dataset=ctr_dataset, algorithm="lr", params={"devices": 2})
    assert sent == ["gpu-x2"] and Job.objects.get(pk=job.pk).queue == "gpu-x2"


def test_run_facts_show_the_device_count_and_per_device_speed():
    facts = {key: text for key, _, text in run_facts({"samples_per_s": 9000.4, "devices": 2,
                                                       "samples_per_s_per_device": 4500.2})}
    assert facts["devices"] == "2 (one process each, DistributedDataParallel)"
    assert facts["samples_per_s"] == "9,000 samples/s in all · 4,500 per device"
    assert "samples_per_s_per_device" not in facts
    single = {key: text for key, _, text in run_facts({"samples_per_s": 800.0, "devices": 1, "samples_per_s_per_device": 800.0})}
    assert single == {"devices": "1", "samples_per_s": "800 samples/s"}


@pytest.fixture
def planted_dataset(user, tmp_path):
    from datasets.services import create_dataset

    rng = np.random.default_rng(0)
    n = 2400
    site = rng.integers(0, 12, n)
    price = rng.normal(size=n)
    click = (np.linspace(-2, 2, 12)[site] + 1.5 * price + rng.normal(scale=0.7, size=n) > 0).astype(int)
    path = tmp_path / "planted.csv"
    path.write_text("click,site,price\n" + "".join(f"{c},s{s},{p:.4f}\n" for c, s, p in zip(click, site, price)))
    return create_dataset(owner=user, source_file=path, filename="planted.csv", name="planted")


@pytest.mark.slow
def test_a_two_process_job_matches_the_one_process_job(user, planted_dataset, client, settings, one_torch_thread):
    settings.WORKER_HEARTBEAT_SECONDS = 3600  # no heartbeat thread writing to SQLite beside the job
    params = {"epochs": 4, "batch_size": 64, "lr": 0.05, "patience": 5}
    jobs = {}
    for devices in (1, 2):
        job = services.submit_job(owner=user, dataset=planted_dataset, algorithm="lr",
                                  params={**params, "devices": devices}, device_preference="cpu")
        assert execute_job(job.pk, "host-a", os.getpid()) == "succeeded"
        job.refresh_from_db()
        jobs[devices] = job
    one, two = jobs[1], jobs[2]
    assert one.metrics["auc"] > 0.85 and abs(one.metrics["auc"] - two.metrics["auc"]) < 0.01
    assert two.summary["devices"] == 2 and one.summary["devices"] == 1
    assert two.summary["samples_per_s_per_device"] > 0
    assert "training on 2 CPU processes (DistributedDataParallel, Gloo)" in two.log_tail and "epoch 4:" in two.log_tail
    client.force_login(user)
    facts = client.get(reverse("jobs:detail", args=[two.pk])).content.decode().split('id="summary"')[1].split("</table>")[0]
    assert "2 (one process each, DistributedDataParallel)" in facts and "per device" in facts


def rank_processes(workdir) -> list[int]:
    """Pids of live rank processes of the job whose folder is ``workdir`` (their command line names its spec)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "mlcore.distributed" in cmdline and str(workdir) in cmdline:
                pids.append(int(entry))
    return pids


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.embedded  # two ranks write progress to the same SQLite file
def test_a_two_process_job_on_a_real_worker_reports_progress_and_cancel_stops_both_ranks(user, planted_dataset, start_worker):
    from tests.conftest import wait_for

    start_worker()
    job = services.submit_job(owner=user, dataset=planted_dataset, algorithm="lr",
                              params={"epochs": 200, "patience": 200, "batch_size": 16, "devices": 2},
                              device_preference="cpu")
    wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.002, 90, message="rank 0's progress to reach the job")
    assert len(rank_processes(job.workdir)) == 2
    services.cancel_job(Job.objects.get(pk=job.pk))
    done = wait_for(lambda: (j := Job.objects.get(pk=job.pk)).is_terminal and j, 30, message="the job to stop")
    assert done.status == "cancelled" and "training on 2 CPU processes" in done.log_tail
    wait_for(lambda: not rank_processes(job.workdir), 10, message="both ranks to exit")
