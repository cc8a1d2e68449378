"""HyperPAVE's "confidence" is a probability in [0, 1] (Platt-calibrated on validation products), so the
``min_confidence`` filter, the pages and the exports agree (issue 11: values of 1.071 were shown and
``min_confidence=1`` returned a full page)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attributes.algorithms import ATTRIBUTE_ALGORITHMS
from attributes.calibration import fit_calibration
from attributes.models import ExtractedValue

from .conftest import run_attribute_job
from .test_pipeline import _context, _long_table


def test_calibration_maps_scores_above_one_to_probabilities_in_order():
    rng = np.random.default_rng(0)
    scores = rng.normal(0.6, 0.4, size=(400, 6))
    truth = rng.random((400, 6)) < 1 / (1 + np.exp(-6 * (scores - 0.9)))
    calibration = fit_calibration(scores, truth, np.ones_like(truth, dtype=bool))
    p = calibration(np.array([-1.0, 0.5, 1.071, 3.0]))
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) > 0)
    # calibrated: the mean predicted probability matches the observed rate of right values
    assert abs(calibration(scores).mean() - truth.mean()) < 0.02
    assert fit_calibration(scores, np.zeros_like(truth), np.ones_like(truth, dtype=bool)).method.startswith("sigmoid")


def test_hyperpave_predictions_carry_calibrated_probabilities(catalogue_frames, tmp_path, one_torch_thread):
    algorithm = {a.key: a for a in ATTRIBUTE_ALGORITHMS}["hyperpave"]
    params = algorithm.validate({"n_splits": 1, "holdout_share": 0.2, "max_epochs": 15, "hidden_dim": 16})
    ctx, _ = _context(_long_table(*catalogue_frames), params, tmp_path)
    result = algorithm.run(ctx)
    predictions = pd.read_parquet(tmp_path / "predictions.parquet")
    assert len(predictions) and predictions["score"].between(0, 1).all()
    assert (predictions["score"] < 1).all()
    assert "probability" in result.summary["confidence"] and result.summary["calibration_slope"] > 0


@pytest.mark.slow  # a real HyperPAVE job through the runner (~20 s on 2 cores)
@pytest.mark.django_db
def test_min_confidence_one_returns_only_values_at_one(api, user, attributes_dataset, one_torch_thread):
    job = run_attribute_job(user, attributes_dataset, "hyperpave", n_splits=1, max_epochs=10, hidden_dim=16)
    confidences = list(ExtractedValue.objects.filter(job=job).values_list("confidence", flat=True))
    assert confidences and min(confidences) >= 0 and max(confidences) <= 1
    page = api.get(f"/api/attributes/jobs/{job.pk}/values/", {"min_confidence": 1, "size": 1000}).json()
    assert page["results"] and {r["confidence"] for r in page["results"]} == {1.0}
    assert {r["status"] for r in page["results"]} == {"from_labels"}
    predicted = ExtractedValue.objects.filter(job=job, status="predicted")
    assert predicted.exists() and not predicted.filter(confidence__gte=1).exists()
