"""An analyst in headless Chromium: log in, upload Criteo data, train DeepFM, read AUC and the ROC chart."""
from __future__ import annotations

import pytest

from tests.conftest import log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.worker, pytest.mark.embedded]


def test_analyst_uploads_trains_deepfm_and_reads_auc(live_server, browser_page, user, criteo_csv, start_worker):
    start_worker()
    page = browser_page
    page.goto(live_server.url + "/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass-123")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Welcome, alice")

    page.click("text=Upload a dataset")
    page.set_input_files("#id_file", str(criteo_csv))
    page.fill("#id_name", "Criteo from the browser")
    page.click("#upload-submit")
    page.wait_for_selector("text=Schema and column statistics")
    roles = page.eval_on_selector_all("#schema select", "els => els.map(e => e.value)")
    assert roles == ["categorical"] * 5 + ["label", "ignore"]
    screenshot(page, "dataset")

    page.click("text=Train a model on it")
    with page.expect_response(lambda r: "algorithm=deepfm" in r.url):
        page.select_option("#id_algorithm", "deepfm")
    page.wait_for_selector("text=Hyperparameters")
    page.fill("#id_param__epochs", "3")
    page.click("#start-job")
    page.wait_for_selector("#job-status")
    page.wait_for_selector("#job-status:text('succeeded')", timeout=180_000)
    auc = float(page.inner_text("[data-metric=auc]"))
    assert 0.55 < auc <= 1.0
    page.wait_for_selector("#chart-roc .main-svg")  # Plotly drew the ROC curve
    assert page.locator("#chart-learning .main-svg").count() >= 1
    screenshot(page, "job")

    page.click("text=Jobs")
    assert "succeeded" in page.inner_text("#jobs")


def test_bad_upload_shows_the_reason_and_keeps_nothing(live_server, browser_page, user, tmp_path):
    from datasets.models import Dataset

    bad = tmp_path / "bad.csv"
    bad.write_text("click,site\n0,a\n1,b\n2,c\n")
    page = browser_page
    log_in(page, live_server.url)
    page.goto(live_server.url + "/datasets/upload/")
    page.set_input_files("#id_file", str(bad))
    page.click("#upload-submit")
    page.wait_for_selector("#upload-errors .error")
    assert "a CTR label must be binary" in page.inner_text("#upload-errors")
    assert Dataset.objects.count() == 0


def test_leaderboard_sorts_by_the_clicked_metric(live_server, browser_page, user, tmp_path):
    """The dataset page ranks finished runs by AUC; clicking "logloss" ranks the smallest first."""
    from datasets.services import create_dataset
    from jobs.models import Job

    path = tmp_path / "d.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(60)))
    dataset = create_dataset(owner=user, source_file=path, filename="d.csv", name="tiny")
    runs = {name: Job.objects.create(owner=user, dataset=dataset, kind="ctr", algorithm=name, status="succeeded",
                                     metrics={"auc": auc, "logloss": loss}, summary={"samples_per_s": sps})
            for name, auc, loss, sps in (("lr", 0.61, 0.50, 9e5), ("deepfm", 0.65, 0.62, 7e4), ("dcnv2", 0.63, 0.55, 6e4))}
    page = browser_page
    log_in(page, live_server.url)
    page.goto(live_server.url + dataset.get_absolute_url())

    def order() -> list[int]:
        return [int(x) for x in page.eval_on_selector_all("#leaderboard tbody tr", "rows => rows.map(r => r.dataset.job)")]

    assert order() == [runs["deepfm"].pk, runs["dcnv2"].pk, runs["lr"].pk]
    page.click("#leaderboard th[data-metric=logloss]")
    assert order() == [runs["lr"].pk, runs["dcnv2"].pk, runs["deepfm"].pk]
    page.click("#leaderboard th[data-metric=logloss]")
    assert order() == [runs["deepfm"].pk, runs["dcnv2"].pk, runs["lr"].pk]
    page.click("#leaderboard th:has-text('Samples/s')")
    assert order()[0] == runs["lr"].pk
