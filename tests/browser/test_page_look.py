"""How the pages look in headless Chromium: words and numbers on the job page, a 390 px phone, dark mode,
the favicon and the admin job list. One logged-in page visits everything.

Set CTRSTUDIO_SCREENSHOTS=1 to also save every page at desktop and 390 px, light and dark, under
var/.../screenshots (look at them when you change a page).
"""
from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Job
from jobs.runner import execute_job
from tests.conftest import log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
ALL_SHOTS = os.environ.get("CTRSTUDIO_SCREENSHOTS", "") not in ("", "0")
HISTORY = [{"epoch": e, "train_loss": 0.52 - 0.02 * e, "valid_auc": 0.70 + 0.01 * e - 0.002 * e * e,
            "valid_logloss": 0.47 - 0.01 * e} for e in range(1, 7)]


@pytest.fixture
def pages(transactional_db, user, tmp_path):
    """A CTR run (stored numbers as the pipeline writes them), a real uplift run, an attribute run."""
    from attributes.models import ExtractedValue
    from datasets.services import create_dataset
    from uplift.services import create_synthetic_uplift_dataset

    now = timezone.now()
    user.is_staff = user.is_superuser = True
    user.save()
    path = tmp_path / "clicks.csv"
    path.write_text("click,I1,I2,site\n" + "".join(
        f"{i % 2},{'' if i % 7 == 3 else i % 11},{i * 13 % 97},s{i % 5}\n" for i in range(300)))
    ctr = create_dataset(owner=user, source_file=path, filename="clicks.csv", name="Clicks with integers")
    curves = {"roc": {"fpr": [0, 0.1, 0.3, 0.6, 1], "tpr": [0, 0.35, 0.62, 0.85, 1]}, "history": HISTORY,
              "calibration": {"mean_pred": [0.1, 0.3, 0.5, 0.7], "frac_pos": [0.12, 0.28, 0.52, 0.66],
                              "count": [1200, 900, 600, 300]}}
    summary = {"params_count": 1234567, "samples_per_s": 45678.9, "device": "cpu", "n_train": 92306,
               "n_valid": 11538, "n_test": 11539, "best_epoch": 4, "stopped_early": True, "monitor": "auc",
               "resumed_from": None, "inference_batch_size": 1024, "inference_ms_per_batch": 3.456,
               "inference_rows_per_s": 296296.3, "inference_ms_per_1k": 3.375}
    runs = [Job.objects.create(owner=user, dataset=ctr, kind="ctr", algorithm=algo, status="succeeded", progress=1.0,
                               name=name, metrics={"auc": auc, "logloss": 0.4512345678, "gauc": auc - 0.05},
                               summary=summary, curves=curves, started_at=now - timedelta(seconds=83.2), finished_at=now,
                               params={"epochs": 6, "batch_size": 1024, "lr": 0.001, "weight_decay": 1e-6,
                                       "seed": 2024, "hidden_units": "256,128", "split_method": "random"})
            for algo, name, auc in (("deepfm", "DeepFM, 6 epochs", 0.7612345678), ("lr", "", 0.7012345))]
    Job.objects.create(owner=user, dataset=ctr, kind="ctr", algorithm="dcnv2", status="running", progress=0.42,
                       phase="epoch 3/6")

    uplift_data = create_synthetic_uplift_dataset(owner=user, rows=2000, arms=2, features=10, seed=5, effect_scale=1.5)
    uplift = services.submit_job(owner=user, dataset=uplift_data, algorithm="gbm_two_model",
                                 params={"max_iter": 20, "n_bootstrap": 20})
    assert execute_job(uplift.pk, "pytest", 1) == "succeeded"

    attr_path = tmp_path / "catalogue.csv"
    attr_path.write_text("product_id,title,category,attribute,value\n" + "".join(
        f"p{i},Brand{i % 3} shoe size {40 + i % 4},{'Shoes' if i < 20 else '1990'},Size,{40 + i % 4}\n" for i in range(30)))
    attr_data = create_dataset(owner=user, source_file=attr_path, filename="catalogue.csv", name="Catalogue",
                               kind="attributes")
    attr = Job.objects.create(
        owner=user, dataset=attr_data, kind="attributes", algorithm="text_similarity", status="succeeded", progress=1.0,
        params={"n_splits": 2}, metrics={"micro_f1": 0.6123456, "micro_f1_std": 0.0123, "macro_f1": 0.55, "map": 0.7,
                                         "hit@1": 0.41234, "hit@5": 0.7, "hit@10": 0.8, "precision": 0.6, "recall": 0.62},
        summary={"method": "text_similarity", "threshold": 0.5368361473083496, "products": 30, "test_products": 6,
                 "predictions_file": "predictions.parquet", "predicted_values": 12, "seconds": 4.2, "extracted_rows": 60},
        curves={"per_attribute": {"Size": {"n_labels": 30, "n_predicted": 12, "f1": 0.6}},
                "per_category": {"Shoes": {"n_products": 20, "micro_f1": 0.6, "map": 0.7}}})
    ExtractedValue.objects.bulk_create([
        ExtractedValue(job=attr, dataset=attr_data, product_id=f"p{i}", title=f"Brand{i % 3} shoe size {40 + i % 4}",
                       category="Shoes" if i < 20 else "1990", attribute="Size", value=str(40 + i % 4),
                       confidence=1.0 if i < 20 else 0.6, stated=True,
                       status=ExtractedValue.Status.FROM_LABELS if i < 20 else ExtractedValue.Status.PREDICTED)
        for i in range(30)])
    return {"ctr": runs[0], "other": runs[1], "dataset": ctr, "uplift": uplift, "attributes": attr}


def fits(page) -> bool:
    """The header and the page are no wider than the window (wide tables scroll inside their card)."""
    return page.evaluate("(() => { const h = document.querySelector('header.topbar');"
                         " return h.scrollWidth <= h.clientWidth"
                         " && document.documentElement.scrollWidth <= window.innerWidth; })()")


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def luminance(rgb: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_pages_read_well_on_desktop_phone_and_in_dark_mode(live_server, browser_page, user, pages):
    page, url = browser_page, live_server.url
    log_in(page, url)
    job = pages["ctr"]
    page.goto(url + job.get_absolute_url())
    page.wait_for_selector("#chart-learning .main-svg")

    # words and numbers an analyst reads, no raw keys
    params = page.inner_text("section.card:has(h2:text-is('Hyperparameters'))")
    facts = page.inner_text("#metrics") + page.inner_text("#summary") + params
    for text in ("Training rows", "92,306", "Stopped early", "Yes", "AUC", "0.7612", "Log loss", "0.4512",
                 "Batch size", "1,024", "Learning rate"):
        assert text in facts, text
    assert not SNAKE.findall(facts), SNAKE.findall(facts)
    # learning curves: AUC on its own right axis whose title is inside the chart
    assert page.locator("#chart-learning .g-y2title").count() == 1
    chart = page.locator("#chart-learning .main-svg").first.bounding_box()
    title = page.locator("#chart-learning .g-y2title").bounding_box()
    assert title["x"] + title["width"] <= chart["x"] + chart["width"]

    assert page.request.get(url + "/favicon.ico").status == 200

    # the planner's chart (drawn by planner.js) gets the same hover digits and colours
    page.goto(url + f"/uplift/jobs/{pages['uplift'].pk}/planner/")
    page.wait_for_selector("#chart-planner .main-svg")
    assert page.evaluate("document.getElementById('chart-planner').layout.yaxis.hoverformat") == ",.4~f"

    targets = {"job-ctr": job.get_absolute_url(), "job-uplift": pages["uplift"].get_absolute_url(),
               "job-attributes": pages["attributes"].get_absolute_url(),
               "dataset": pages["dataset"].get_absolute_url(),
               "compare": f"/jobs/compare/?ids={job.pk}&ids={pages['other'].pk}",
               "coverage": f"/attributes/jobs/{pages['attributes'].pk}/coverage/",
               "planner": f"/uplift/jobs/{pages['uplift'].pk}/planner/", "jobs": "/jobs/",
               "new-job": f"/jobs/new/?dataset={pages['dataset'].pk}&algorithm=deepfm", "home": "/"}
    shots = targets if ALL_SHOTS else {"job-ctr": targets["job-ctr"]}

    # light, then dark: the background follows the system and charts take the page's text colour
    page.goto(url + job.get_absolute_url())
    light = background(page)
    page.emulate_media(color_scheme="dark")
    page.reload()
    page.wait_for_selector("#chart-roc .main-svg")
    dark = background(page)
    assert dark != light and luminance(dark) < 0.2 < luminance(light)
    tick_fill = page.eval_on_selector("#chart-roc .xtick text", "e => getComputedStyle(e).fill")
    assert luminance(tick_fill) > 0.6  # light text on the dark card

    too_wide = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for width, size in (("desktop", {"width": 1366, "height": 900}), ("390", {"width": 390, "height": 844})):
            page.set_viewport_size(size)
            for name, path in shots.items():
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                screenshot(page, f"look-{name}-{width}-{scheme}")
                if width == "390" and not fits(page):
                    too_wide.append(f"{name} ({scheme})")
    assert not too_wide, f"wider than a 390 px screen: {too_wide}"

    # the admin job list on a phone: status and progress on screen without scrolling sideways
    page.emulate_media(color_scheme="light")
    page.goto(url + "/admin/jobs/job/")
    row = page.locator("#result_list tbody tr").first
    for cell in ("field-status", "field-progress_percent"):
        box = row.locator(f"td.{cell}").bounding_box()
        assert box and box["x"] + box["width"] <= 390, cell
    screenshot(page, "look-admin-jobs-390-light")
