"""Job pages, the comparison and the new-job form speak the analyst's words: labels, units, formats."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.labels import bounds, display, label
from jobs.models import Job

# a CTR run's summary and metrics as the pipeline stores them (issue 11's walkthrough numbers)
SUMMARY = {"params_count": 1234567, "samples_per_s": 45678.9, "device": "cpu", "n_train": 92306, "n_valid": 11538,
           "n_test": 11539, "best_epoch": 3, "stopped_early": True, "monitor": "auc", "resumed_from": None,
           "inference_batch_size": 1024, "inference_ms_per_batch": 3.456, "inference_rows_per_s": 296296.3,
           "inference_ms_per_1k": 3.375, "threshold": 0.5368361473083496, "predictions_file": "predictions.parquet",
           "seconds": 75.34, "expert_load": [0.2512345, 0.7487655]}
METRICS = {"auc": 0.7612345678, "logloss": 0.4512345678, "gauc": 0.70123456, "positive_rate": 0.2512, "n": 11539.0}
SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")


@pytest.mark.parametrize("key, value, text_label, text", [
    ("n_train", 92306, "Training rows", "92,306"),
    ("stopped_early", True, "Stopped early", "Yes"),
    ("threshold", 0.5368361473083496, "Decision threshold", "0.5368"),
    ("auc", 0.7612345678, "AUC", "0.7612"),
    ("valid_logloss", 0.45, "Validation log loss", "0.4500"),
    ("samples_per_s", 45678.9, "Training speed", "45,679 samples/s"),
    ("inference_rows_per_s", 296296.3, "Inference speed", "296,296 rows/s"),
    ("seconds", 75.34, "Run time", "1 min 15 s"),
    ("train_seconds", 3.21, "Training time", "3.2 s"),
    ("positive_rate", 0.2512, "Positive rate", "25.1 %"),
    ("micro_f1_std", 0.01234, "Micro-F1 (std)", "0.0123"),
    ("sklift_qini_ctr_arm1_low", -0.0123456, "Qini coefficient (scikit-uplift) · CTR, arm 1, 95 % lower bound", "-0.0123"),
    ("hidden_units", "256,128", "Hidden units", "256,128"),
    ("monitor", "auc", "Early-stopping metric", "AUC"),
])
def test_every_key_gets_a_label_a_unit_and_a_precision(key, value, text_label, text):
    assert (label(key), display(key, value)) == (text_label, text)


def test_parameter_bounds_read_as_numbers_and_drop_the_32_bit_limit():
    assert bounds(0, 2 ** 31 - 1, integer=True) == "(at least 0)"
    assert bounds(16, 65536, integer=True) == "(16 to 65,536)"
    assert bounds(1e-6, 1.0, integer=False) == "(1e-06 to 1)"
    assert bounds(None, None, integer=True) == ""


@pytest.mark.django_db
def test_job_page_shows_labels_units_and_formatted_numbers(client, user, ctr_dataset):
    job = Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm="deepfm", status="succeeded",
                             progress=1.0, metrics=METRICS, summary=SUMMARY,
                             params={"batch_size": 1024, "lr": 0.001, "weight_decay": 1e-6, "seed": 2024,
                                     "hidden_units": "256,128"})
    client.force_login(user)
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    tables = "".join(page.split(f'id="{name}"')[1].split("</table>")[0] for name in ("metrics", "summary"))
    params = page.split("<h2>Hyperparameters</h2>")[1].split("</table>")[0]
    cells = re.sub(r"<[^>]+>", " ", tables + params)  # the text an analyst reads, without attributes
    for text in ("Training rows", "92,306", "Stopped early", "Yes", "Decision threshold", "0.5368", "AUC", "0.7612",
                 "Log loss", "0.4512", "Test rows", "11,539", "Run time", "1 min 15 s", "Batch size", "1,024",
                 "Learning rate", "0.001", "Seed", "2024", "0.2512, 0.7488"):
        assert text in cells, text
    assert not SNAKE.findall(cells), SNAKE.findall(cells)
    assert "predictions.parquet" not in page and "0.5368361473083496" not in page and "True" not in cells


@pytest.mark.django_db
def test_compare_table_labels_metrics(client, user, ctr_dataset):
    runs = [Job.objects.create(owner=user, dataset=ctr_dataset, kind="ctr", algorithm=a, status="succeeded",
                               metrics={"auc": auc, "logloss": 0.4512345}, summary={})
            for a, auc in (("lr", 0.61), ("deepfm", 0.6412345))]
    client.force_login(user)
    page = client.get(reverse("jobs:compare") + f"?ids={runs[0].pk}&ids={runs[1].pk}").content.decode()
    table = page.split('id="comparison"')[1].split("</table>")[0]
    assert "<th title=\"logloss\">Log loss</th>" in table and ">0.6412</td>" in table and "0.6412345" not in table


@pytest.mark.django_db
def test_new_job_form_labels_parameters_in_words_with_readable_bounds(client, user, ctr_dataset):
    client.force_login(user)
    form = client.get(reverse("jobs:new") + f"?dataset={ctr_dataset.pk}&algorithm=deepfm").content.decode()
    assert '>Batch size</label>' in form and '>batch_size</label>' not in form
    assert "(16 to 65,536)" in form and "e+09" not in form and "2.14748" not in form
