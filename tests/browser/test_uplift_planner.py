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
    page.hover("#chart-qini-ctr .main-svg")
    assert_no_cloud_buttons(page, "#chart-qini-ctr")

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

    # issue 11: the profit share is shown and exported, but the slider keeps the analyst's share
    profit_share = page.get_attribute("#result-share", "data-share")
    assert f"share={profit_share}" in page.get_attribute("#export-users", "href")
    page.check("input[name=budget-mode][value=share]")
    page.wait_for_function("document.getElementById('result-share').dataset.share === '0.50'")
    assert page.input_value("#plan-share") == "50" and page.inner_text("#plan-share-label") == "50 %"
    assert "share=0.50" in page.get_attribute("#export-users", "href")
    with page.expect_download() as download:
        page.click("#export-users")
    download.value.save_as(path)
    assert len(list(csv.DictReader(path.open()))) == round(0.5 * job.summary["n_test"])
    # intervals: one precision for every number of a row
    import re
    cell = model_number(page, "clicks")
    assert len({len(d) for d in re.findall(r"\.(\d+)", cell)}) == 1, cell
    assert_no_cloud_buttons(page, "#chart-planner")


def assert_no_cloud_buttons(page, chart: str) -> None:
    """Plotly's mode bar offers nothing that sends a chart's data off the machine (issue 11)."""
    passed = page.evaluate("window.CTR_PLOTLY_CONFIG")
    assert passed["showSendToCloud"] is False and passed["showLink"] is False and passed["displaylogo"] is False
    used = page.evaluate(f"document.querySelector('{chart}')._context")  # what plotly.js kept of it
    assert used["displaylogo"] is False
    assert used.get("showSendToCloud", False) is False and used.get("showEditInChartStudio", False) is False
    assert used.get("showLink", False) is False
    titles = page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.getAttribute('data-title') || '')")
    assert titles, "the mode bar is drawn"
    assert not [t for t in titles if any(w in t.lower() for w in ("cloud", "chart studio", "share", "plotly"))], titles
    assert page.locator(".modebar a[href*='plot.ly'], .modebar a[href*='plotly.com']").count() == 0
