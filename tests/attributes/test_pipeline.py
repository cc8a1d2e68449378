"""A whole attribute job through the job-system interface."""
from __future__ import annotations

import pandas as pd
import pytest

from attributes.algorithms import ATTRIBUTE_ALGORITHMS
from mlcore.api import DataError, ParamError, RunContext

PREDICTION_COLUMNS = ["product_id", "attribute", "value", "score", "stated", "evidence_field",
                      "evidence_start", "evidence_end", "split", "is_new_value", "correct"]
ROLES = {"product_id": "item_id", "title": "title", "description": "description",
         "category": "category", "attribute": "attribute", "value": "value"}


def _long_table(products, labels, unlabelled=("shoe-11", "tea-11")):
    labels = labels[~labels["product_id"].isin(unlabelled)]
    return products.merge(labels[["product_id", "attribute", "value"]], on="product_id",
                          how="left")


def _context(table, params, workdir, roles=ROLES):
    progress = []
    ctx = RunContext(params=params, roles=roles,
                     read_table=lambda columns=None: table[columns] if columns else table,
                     workdir=workdir, progress=lambda f, phase: progress.append(f))
    return ctx, progress


@pytest.mark.parametrize("key", ["text_similarity", "hyperpave"])
def test_job_writes_metrics_and_predictions_with_evidence(key, catalogue_frames, tmp_path):
    algorithm = {a.key: a for a in ATTRIBUTE_ALGORITHMS}[key]
    labels = catalogue_frames[1]
    vocabulary = "\n".join(f"{a}: " + " | ".join(sorted(set(g["value"]))) for a, g in labels.groupby("attribute"))
    raw = {"n_splits": 2, "holdout_share": 0.2, "vocabulary": vocabulary}  # the analyst lists every value
    if key == "hyperpave":
        raw.update(max_epochs=15, hidden_dim=16)
    ctx, progress = _context(_long_table(*catalogue_frames), algorithm.validate(raw), tmp_path)
    result = algorithm.run(ctx)

    for name in ("micro_f1", "macro_f1", "map", "hit@5"):
        assert f"{name}_std" in result.metrics
    # Every value is written in the titles and listed in the vocabulary: held-out ones are found.
    assert result.metrics["map"] > 0.6 and result.metrics["unseen_map"] > 0.6, result.metrics
    assert result.summary["vocabulary_values"] == labels[["attribute", "value"]].drop_duplicates().shape[0]
    assert result.summary["n_splits"] == 2 and result.artifact.exists()
    assert progress[-1] == 1.0 and progress == sorted(progress)
    predictions = pd.read_parquet(tmp_path / "predictions.parquet")
    assert list(predictions.columns) == PREDICTION_COLUMNS
    assert set(predictions["split"]) == {"test", "unlabelled"}
    assert {"shoe-11", "tea-11"} <= set(predictions["product_id"])
    assert predictions["correct"][predictions["split"] == "unlabelled"].isna().all()
    stated = predictions[predictions["stated"]]
    titles = catalogue_frames[0].set_index("product_id")["title"]
    for row in stated.itertuples():
        span = titles[row.product_id][row.evidence_start:row.evidence_end]
        assert span.lower() == row.value.lower()
    assert len(result.curves["per_category"]) >= 1


def test_hyperparameters_are_validated():
    algorithm = {a.key: a for a in ATTRIBUTE_ALGORITHMS}["hyperpave"]
    with pytest.raises(ParamError) as error:
        algorithm.validate({"hidden_dim": 4, "split": "random", "epochs": 3})
    assert set(error.value.errors) == {"hidden_dim", "split", "epochs"}
    assert algorithm.validate({})["split"] == "zero_shot"


def test_missing_title_role_is_reported_to_the_analyst(catalogue_frames, tmp_path):
    algorithm = ATTRIBUTE_ALGORITHMS[1]
    roles = {k: v for k, v in ROLES.items() if v != "title"}
    ctx, _ = _context(_long_table(*catalogue_frames), algorithm.validate({}), tmp_path, roles)
    with pytest.raises(DataError, match="title"):
        algorithm.run(ctx)


def test_table_without_any_label_is_reported_to_the_analyst(catalogue_frames, tmp_path):
    algorithm = ATTRIBUTE_ALGORITHMS[1]
    table = catalogue_frames[0].assign(attribute=None, value=None)
    ctx, _ = _context(table, algorithm.validate({}), tmp_path)
    with pytest.raises(DataError, match="no labelled"):
        algorithm.run(ctx)
