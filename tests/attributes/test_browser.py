"""An analyst in headless Chromium: filter extracted values, review with the keyboard, export CSV."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

@pytest.fixture
def page(live_server, browser_page):
    return browser_page


def test_analyst_filters_reviews_with_keys_and_exports(live_server, page, user, stored_values):
    from attributes.models import ExtractedValue

    log_in(page, live_server.url)
    page.wait_for_selector("text=Welcome, alice")

    page.click("nav >> text=Attributes")
    page.click(f"#attribute-jobs >> text={stored_values.display_name}")
    page.select_option("select[name=category]", "Bags")
    page.select_option("select[name=attribute]", "Color")
    page.fill("input[name=min_confidence]", "0.26")
    page.click("#apply-filters")
    page.wait_for_selector("#values")
    products = page.eval_on_selector_all("#values tr.product-row strong", "els => els.map(e => e.textContent)")
    assert products == ["p25", "p26", "p27", "p28", "p29"]
    assert page.locator("#values mark").count() == 2  # "red" highlighted in the even titles
    screenshot(page, "attributes-browser")

    page.click("#attr-nav >> text=Review queue")
    assert page.inner_text("#review-value") == "Acme"
    page.keyboard.press("a")  # contradicts the label Brand0: refused, still on screen
    page.wait_for_selector("#review-error")
    assert "already has Brand" in page.inner_text("#review-error")
    screenshot(page, "attributes-review")
    page.keyboard.press("r")
    page.wait_for_selector("#review-done:has-text('Rejected')")
    assert page.inner_text("#review-value") == "Red"
    page.keyboard.press("a")
    page.wait_for_selector("#review-done:has-text('Accepted')")
    accepted = ExtractedValue.objects.get(job=stored_values, status="accepted")
    assert (accepted.product_id, accepted.attribute, accepted.value) == ("p0", "Color", "Red")

    page.click("#attr-nav >> text=Values")
    page.select_option("select[name=status]", "accepted")
    page.click("#apply-filters")
    with page.expect_download() as download:
        page.click("#export-csv")
    frame = pd.read_csv(download.value.path())
    assert frame[["product_id", "attribute", "value", "status"]].values.tolist() == [["p0", "Color", "Red", "accepted"]]
