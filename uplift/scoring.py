"""Score new rows (same features, outcomes optional) with a trained uplift model: predicted uplift per arm and task.

No Django import: takes the job's artifact path (or a loaded model) and a DataFrame, returns a DataFrame.
Large files are scored by a scoring job (``registry``), which streams the table through
:func:`score_frame` chunk by chunk; nothing here holds more than one chunk.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mlcore.api import DataError

from .data import UpliftEncoder
from .pipeline import TASKS, load_model, predict_uplift


def feature_columns(encoder: UpliftEncoder) -> list[str]:
    """The columns the model reads (categorical, then numeric), as in the training data."""
    return [*encoder.columns.categorical, *encoder.columns.numeric]


def score_frame(model, encoder: UpliftEncoder, frame: pd.DataFrame, *, offset: int = 0,
                device: str = "cpu") -> pd.DataFrame:
    """Per-row predicted uplift of every treated arm over control for CTR and CTCVR.

    Columns: ``row`` (0-based position, counted from ``offset``), ``user_id`` when the training
    data had a user-id column and ``frame`` has it too, then ``uplift_<task>__<arm>`` for every
    treated arm and ``best_arm_<task>`` (the arm with the largest predicted uplift, or the control
    arm when no arm's uplift is positive). Outcome and treatment columns in ``frame`` are ignored.
    """
    columns = encoder.columns
    missing = [c for c in feature_columns(encoder) if c not in frame.columns]
    if missing:
        raise DataError(f"The file lacks feature column(s) {', '.join(f'`{c}`' for c in missing)} that the model "
                        "was trained on; export it with the same columns as the training data.")
    work = frame[feature_columns(encoder)].copy()
    work[encoder.features.label] = 0  # the feature encoder expects a label column; it is not used here
    table = encoder.features.transform(work)
    table.pop("label")
    table["treatment"] = torch.zeros(len(work), dtype=torch.long)
    scores = predict_uplift(model, table, torch.device(device))
    out = pd.DataFrame({"row": np.arange(offset, offset + len(frame), dtype=np.int64)})
    if columns.user_id and columns.user_id in frame.columns:
        out["user_id"] = frame[columns.user_id].to_numpy()
    for task in TASKS:
        uplift = scores[f"uplift_{task}"]  # (N, K+1), column 0 = control = 0
        for k, arm in enumerate(encoder.arms[1:], start=1):
            out[f"uplift_{task}__{arm}"] = uplift[:, k]
        best = uplift.argmax(axis=1)
        out[f"best_arm_{task}"] = np.asarray(encoder.arms, dtype=object)[np.where(uplift.max(axis=1) > 0, best, 0)]
    return out


def score_new_rows(artifact: Path | str, frame: pd.DataFrame, device: str = "cpu") -> pd.DataFrame:
    """:func:`score_frame` on a whole in-memory frame, loading the model from ``artifact``."""
    model, encoder = load_model(artifact)
    return score_frame(model, encoder, frame, device=device)
