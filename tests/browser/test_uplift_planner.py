"""An analyst opens a finished uplift job in headless Chromium, reads its charts, moves the planner slider,
switches to the profit budget and downloads the chosen users."""
from __future__ import annotations

import csv

import pytest

from jobs import services
from jobs.runner import execute_job
from tests.conftest import log_in, screenshot
from uplift.services import create_synthetic_uplift_dataset

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def finished_uplift_job(transactional_db, user):
    dataset = create_synthetic_uplift_dataset(owner=user, rows=2000, arms=2, features=10, seed=5, effect_scale=1.5)
    # the fast boosted baseline: this test is about the pages (ECUP runs through the runner in tests/uplift)
    job = services.submit_job(owner=user, dataset=dataset, algorithm="gbm_two_model",
                              params={"max_iter": 20, "n_bootstrap": 20})
    assert execute_job(job.pk, "pytest", 1) == "succeeded"
    job.refresh_from_db()
    return job


def model_number(page, outcome: str) -> str:
    return page.inner_text(f"#plan-numbers tr[data-outcome={outcome}] td.model")


def test_planner_slider_moves_the_estimates_and_the_csv_follows(live_server, browser_page, finished_uplift_job, tmp_path):  # noqa: F811
    job, page = finished_uplift_job, browser_page
    log_in(page, live_server.url)
    page.goto(live_server.url + job.get_absolute_url())
    page.wait_for_selector("#uplift-matrix")
    page.wait_for_selector("#chart-qini-ctr .main-svg")
    page.wait_for_selector("#chart-deciles-ctcvr .main-svg")
    screenshot(page, "uplift-job")

    page.click("#open-planner")
    page.wait_for_selector("#chart-planner .main-svg")
    page.wait_for_selector("#plan-numbers tr[data-outcome=clicks]")
    at_20 = model_number(page, "clicks")
    assert page.inner_text("#plan-share-label") == "20 %"
    page.fill("#plan-share", "50")
    page.wait_for_function("document.getElementById('plan-share-label').textContent === '50 %'")
    assert model_number(page, "clicks") != at_20
    assert "share=0.50" in page.get_attribute("#export-users", "href")
    page.select_option("#plan-arm", "2")
    assert "arm=2" in page.get_attribute("#export-users", "href")
    screenshot(page, "uplift-planner")

    with page.expect_download() as download:
        page.click("#export-users")
    path = tmp_path / "users.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == round(0.5 * job.summary["n_test"])
    assert list(rows[0]) == ["row", "uplift_ctr_2", "uplift_ctcvr_2"]

    page.check("input[name=budget-mode][value=profit]")
    page.fill("#plan-cost", "0.05")
    page.wait_for_selector("#profit-result:has-text('Profit-maximising share')")
