"""Flash messages about a job's state go away once the live part of the page shows another status
(issue 11: "Job queued." stayed beside a finished job, "Stopping…" beside a cancelled one)."""
from __future__ import annotations

import pytest

from jobs.models import Job
from tests.conftest import log_in
from tests.jobs.conftest import echo_algorithm  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_queued_and_stopping_messages_follow_the_job(live_server, browser_page, transactional_db, user, tmp_path,
                                                      echo_algorithm):
    from datasets.services import create_dataset

    path = tmp_path / "d.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(40)))
    dataset = create_dataset(owner=user, source_file=path, filename="d.csv", name="tiny")
    page = browser_page
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/jobs/new/?dataset={dataset.pk}&algorithm=test_echo")
    page.click("#start-job")
    page.wait_for_selector(".msg:has-text('queued')")  # true while the job waits for a worker
    job = Job.objects.get()
    page.wait_for_timeout(1500)  # a poll with the same status keeps the message
    assert page.locator(".msg:has-text('queued')").count() == 1
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress=1.0)
    page.wait_for_selector("#job-status[data-status=succeeded]")
    page.wait_for_selector(".msg:has-text('queued')", state="detached", timeout=5000)

    running = Job.objects.create(owner=user, dataset=dataset, kind="ctr", algorithm="test_echo", status="running",
                                 params={"steps": 3, "sleep": 0.0, "fail": "no"})
    page.goto(live_server.url + running.get_absolute_url())
    page.click("#cancel-job")
    page.wait_for_selector(".msg:has-text('Stopping')")
    Job.objects.filter(pk=running.pk).update(status=Job.Status.CANCELLED)
    page.wait_for_selector("#job-status[data-status=cancelled]")
    page.wait_for_selector(".msg:has-text('Stopping')", state="detached", timeout=5000)
    assert page.locator("#rerun-job").count() == 1  # a cancelled job offers the one-click re-run
