"""An ECUP job submitted through the API runs on a real Celery worker; the web side reads its planner files."""
from __future__ import annotations

import pytest

from jobs.models import Job
from tests.conftest import wait_for
from uplift.services import create_synthetic_uplift_dataset

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.embedded]


def test_ecup_job_from_the_api_runs_on_a_real_worker(api, client, user, start_worker):
    worker = start_worker()
    dataset = create_synthetic_uplift_dataset(owner=user, rows=2000, arms=2, features=10, seed=9, effect_scale=1.5)
    response = api.post("/api/jobs/", {"dataset": dataset.pk, "algorithm": "ecup", "params": {
        "epochs": 2, "batch_size": 256, "n_bootstrap": 20, "tower_hidden": "32", "embedding_dim": 8}}, format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    done = wait_for(lambda: (j := Job.objects.get(pk=pk)).is_terminal and j, 180, message="the ECUP job to finish")
    assert done.status == "succeeded", f"{done.error}\n{done.log_tail}\n{worker.log()[-2000:]}"
    assert done.worker == worker.name and "sklift_qini_ctcvr" in done.metrics
    client.force_login(user)
    plan = client.get(f"/uplift/jobs/{pk}/planner.json").json()
    assert plan["n_heldout"] == done.summary["n_test"] and set(plan["plans"]) >= {"1:ctr", "2:ctcvr"}
    assert client.get(f"/uplift/jobs/{pk}/planner/users.csv?arm=1&task=ctr&share=0.1").status_code == 200
