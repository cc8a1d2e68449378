"""An attribute job on a real Celery worker stores its extracted values from the worker process."""
from __future__ import annotations

import pytest

from attributes.models import ExtractedValue
from jobs import services
from jobs.models import Job
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.embedded]


def test_text_similarity_job_on_a_real_worker_stores_values(user, attributes_dataset, start_worker):
    worker = start_worker()
    job = services.submit_job(owner=user, dataset=attributes_dataset, algorithm="text_similarity",
                              params={"n_splits": 1})
    done = wait_for(lambda: (j := Job.objects.get(pk=job.pk)).is_terminal and j, 180,
                    message="the attribute job to finish")
    assert done.status == "succeeded", f"{done.error}\n{done.log_tail}\n{worker.log()[-2000:]}"
    assert done.worker == worker.name
    stored = ExtractedValue.objects.filter(job=done)
    assert stored.count() == done.summary["extracted_rows"] > 0
    assert stored.filter(status="predicted", split="unlabelled").exists()
