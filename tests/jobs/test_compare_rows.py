"""Compare page: latency is compared per 1,000 rows (per batch only when the batch sizes match) and the
best run is highlighted in every comparable row, not only the metric rows (issue 11)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.comparison import ms_per_1k_rows, run_rows

from .test_api_and_pages import finished_job

pytestmark = pytest.mark.django_db


def _row(page: str, key: str) -> str:
    return page.split(f'id="row-{key}"')[1].split("</tr>")[0]


def test_latency_at_different_batch_sizes_is_compared_per_1k_rows(client, user, ctr_dataset):
    client.force_login(user)
    a, b = finished_job(user, ctr_dataset, "lr", 0.7), finished_job(user, ctr_dataset, "deepfm", 0.6)
    a.summary = {"samples_per_s": 900.0, "params_count": 50, "inference_ms_per_batch": 2.0, "inference_batch_size": 256,
                 "inference_rows_per_s": 128000.0}
    b.summary = {"samples_per_s": 1500.0, "params_count": 5000, "inference_ms_per_batch": 4.0,
                 "inference_batch_size": 1024, "inference_rows_per_s": 256000.0}
    a.save(), b.save()
    page = client.get(reverse("jobs:compare"), {"ids": [a.pk, b.pk]}).content.decode()
    per_batch = _row(page, "inference_ms_per_batch")
    assert "not comparable" in per_batch and "best" not in per_batch  # 2 ms for 256 rows is not "faster"
    per_1k = _row(page, "inference_ms_per_1k")
    assert '<td class="num">7.81</td>' in per_1k and '<td class="num best">3.91</td>' in per_1k
    assert '<td class="num best">1,500</td>' in _row(page, "samples_per_s")
    assert '<td class="num best">50</td>' in _row(page, "params_count")
    assert '<td class="num best">256,000</td>' in _row(page, "inference_rows_per_s")


def test_same_batch_size_highlights_the_faster_batch():
    class J:
        def __init__(self, summary):
            self.summary = summary
    rows = {r["key"]: r for r in run_rows([J({"inference_ms_per_batch": 3.0, "inference_batch_size": 512}),
                                           J({"inference_ms_per_batch": 2.0, "inference_batch_size": 512})])}
    assert [c["best"] for c in rows["inference_ms_per_batch"]["cells"]] == [False, True]
    assert rows["inference_ms_per_batch"]["note"] == ""
    assert ms_per_1k_rows({"inference_ms_per_batch": 2.0, "inference_batch_size": 500}) == 4.0
    assert ms_per_1k_rows({"inference_ms_per_1k": 1.5, "inference_ms_per_batch": 9.0}) == 1.5
