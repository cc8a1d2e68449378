"""Dataset kinds of the scoring workflow: new rows to score, and the predictions a scoring job writes.

Neither is trained on, so neither blocks an upload: any columns are accepted here and checked
against the chosen model's schema when a scoring job is requested. No Django import here.
"""
from __future__ import annotations

from datasets.kinds import Columns, DatasetKind
from datasets.profiling import BASE_ROLES

SCORING_ROLES = tuple(dict.fromkeys(BASE_ROLES + ("treatment", "click", "visit", "conversion", "exposure", "revenue",
                                                  "title", "description", "category", "attribute", "value")))


def _no_checks(columns: Columns, n_rows: int) -> tuple[list[str], list[str]]:
    return [], []


ROWS_KIND = DatasetKind(
    key="rows", label="New rows to score", roles=SCORING_ROLES, check=_no_checks,
    help="Rows with the columns a trained model reads (labels optional), to score with a model from the registry.")
PREDICTIONS_KIND = DatasetKind(
    key="predictions", label="Predictions", roles=SCORING_ROLES, check=_no_checks,
    help="What a scoring job wrote: one row per scored row (or per product value), with the model's scores.")
