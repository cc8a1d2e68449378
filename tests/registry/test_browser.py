"""An analyst in headless Chromium: train DeepFM from the pages, promote it, score a new file by model name
on a real worker, download the predictions."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import log_in, screenshot

from .conftest import clicks_frame

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.worker]


def test_train_promote_score_by_name_and_download_from_the_pages(live_server, browser_page, user, start_worker, tmp_path):
    start_worker()
    training, new = tmp_path / "clicks.csv", tmp_path / "tomorrow.csv"
    clicks_frame(1200).to_csv(training, index=False)
    clicks_frame(400, seed=5, with_label=False).to_csv(new, index=False)
    page = browser_page
    log_in(page, live_server.url)
    page.goto(live_server.url + "/datasets/upload/")
    page.set_input_files("#id_file", str(training))
    page.fill("#id_name", "clicks")
    page.click("#upload-submit")
    page.wait_for_selector("text=Schema and column statistics")

    page.click("text=Train a model on it")
    with page.expect_response(lambda r: "algorithm=deepfm" in r.url):
        page.select_option("#id_algorithm", "deepfm")
    page.fill("#id_param__epochs", "2")
    page.fill("#id_param__hidden_units", "16")
    page.click("#start-job")
    page.wait_for_selector("#job-status:text('succeeded')", timeout=120_000)

    page.fill("#promote-name", "click-model")
    page.click("#promote-submit")
    page.wait_for_selector("#versions")
    assert "production" in page.inner_text("#versions tr[data-version='1']")
    screenshot(page, "registry_versions")

    page.click("#score-with-model")
    assert page.input_value("#id_model") == "click-model"
    page.set_input_files("#id_file", str(new))
    page.click("#score-submit")
    page.wait_for_selector("#job-status:text('succeeded')", timeout=120_000)
    assert "Scored 400 rows" in page.inner_text("#scoring-panel")
    with page.expect_download() as info:
        page.click("#download-predictions-csv")
    scored = pd.read_csv(info.value.path())
    assert len(scored) == 400 and scored["predicted_ctr"].between(0, 1).all() and scored["predicted_ctr"].nunique() > 10
    screenshot(page, "scoring_job")

    page.goto(live_server.url + "/registry/score/")  # bad columns are refused on the form, before any job
    page.select_option("#id_model", "click-model")
    bad = tmp_path / "bad.csv"
    bad.write_text("site,coupon\nshop,1\n")
    page.set_input_files("#id_file", str(bad))
    page.click("#score-submit")
    error = page.inner_text("#score-error")
    assert "missing column(s) `user`, `price`" in error and "extra column(s) `coupon`" in error
    from datasets.models import Dataset

    assert not Dataset.objects.filter(name="New rows: bad").exists()  # the refused upload is not kept
