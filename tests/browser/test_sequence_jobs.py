"""An analyst trains behaviour-sequence models on MovieLens histories from the new-job form in headless
Chromium (a real worker runs them): QIN, then the SUAN → LightSUAN distillation, whose page shows the
served student beside its teacher (AUC, latency, both ROC curves)."""
from __future__ import annotations

import pytest

from datasets.services import create_dataset
from tests.conftest import log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.worker]


def start_job(page, base: str, dataset_pk: int, algorithm: str, params: dict[str, str]) -> None:
    page.goto(f"{base}/jobs/new/?dataset={dataset_pk}")
    with page.expect_response(lambda r: f"algorithm={algorithm}" in r.url):
        page.select_option("#id_algorithm", algorithm)
    page.wait_for_selector("text=Hyperparameters")
    for name, value in params.items():
        page.fill(f"#id_param__{name}", value)
    page.click("#start-job")
    page.wait_for_selector("#job-status")
    page.wait_for_selector("#job-status:text('succeeded')", timeout=180_000)


def test_sequence_models_train_from_the_form_and_show_their_dashboards(live_server, browser_page, user, movielens_csv,
                                                                      start_worker):
    with movielens_csv.open("rb") as handle:
        dataset = create_dataset(owner=user, source_file=handle, filename=movielens_csv.name, name="MovieLens 30 users")
    assert {c["name"]: c["role"] for c in dataset.columns}["hist_label"] == "sequence"
    start_worker()
    page = browser_page
    log_in(page, live_server.url)

    start_job(page, live_server.url, dataset.pk, "qin",
              {"epochs": "1", "embedding_dim": "8", "max_len": "20", "num_layers": "2", "batch_size": "256"})
    assert 0.5 < float(page.inner_text("[data-metric=auc]")) <= 1
    from jobs.models import Job

    shown_gauc = float(page.inner_text("[data-metric=gauc]"))  # the page shows the stored held-out GAUC
    assert abs(shown_gauc - Job.objects.filter(algorithm="qin").latest("pk").metrics["gauc"]) < 1e-4
    page.wait_for_selector("#chart-roc .main-svg")
    page.wait_for_selector("#chart-learning .main-svg")
    facts = page.inner_text("body")
    assert "ms per batch" in facts or "latency" in facts.lower()
    screenshot(page, "qin-job")

    start_job(page, live_server.url, dataset.pk, "suan_distill",
              {"epochs": "1", "max_len": "20", "batch_size": "256", "teacher_embedding_dim": "8",
               "teacher_n_layers": "1", "student_embedding_dim": "4"})
    for metric in ("teacher_auc", "student_auc", "teacher_latency_ms", "student_latency_ms"):
        assert float(page.inner_text(f"[data-metric={metric}]", timeout=5000)) > 0, metric
    pair = page.inner_text("#distillation")
    assert "Teacher (SUAN)" in pair and "Parameters" in pair and "Latency per batch" in pair
    page.wait_for_selector("#chart-roc .main-svg")
    names = page.eval_on_selector_all("#chart-roc .legendtext", "els => els.map(e => e.textContent)")
    assert any(n.startswith("student, served") for n in names) and any(n.startswith("teacher") for n in names)
    screenshot(page, "distill-job")


def test_an_event_log_becomes_a_sequence_dataset_from_the_form(live_server, browser_page, user, taobao_log,
                                                              start_worker):
    path, _ = taobao_log
    with path.open("rb") as handle:
        events = create_dataset(owner=user, source_file=handle, filename=path.name, name="My events",
                                role_overrides={"category": "categorical", "action": "categorical"})
    start_worker()
    page = browser_page
    log_in(page, live_server.url)
    start_job(page, live_server.url, events.pk, "build_sequences", {"max_len": "20", "test_events": "2"})
    card = page.inner_text("#built-dataset")
    assert "My events: sequences" in card and "4,321 rows" in card
    screenshot(page, "build-sequences-job")
    page.click("#built-dataset a")
    page.wait_for_selector("text=Schema and column statistics")
    roles = dict(zip(page.eval_on_selector_all("#schema select", "els => els.map(e => e.name)"),
                     page.eval_on_selector_all("#schema select", "els => els.map(e => e.value)")))
    assert {k: v for k, v in roles.items() if "hist_" in k} and all(
        v == "sequence" for k, v in roles.items() if "hist_" in k and "hist_len" not in k)
    assert any("hist_action" in k for k in roles)
    screenshot(page, "built-sequence-dataset")
