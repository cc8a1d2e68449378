"""Train / validation / test splits: seeded random, by time, or from a split column."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlcore.api import DataError

SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test"}


def split_frame(df: pd.DataFrame, *, method: str = "random", valid_frac: float = 0.1, test_frac: float = 0.1,
                seed: int = 2024, time_column: str | None = None,
                split_column: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (train, valid, test). ``time`` puts the oldest rows in train and the newest in test."""
    n = len(df)
    if method == "column":
        if not split_column:
            raise DataError("Split method `column` needs a column with role `split` (values train/valid/test).")
        labels = df[split_column].astype(str).str.strip().str.lower().map(SPLIT_NAMES)
        if labels.isna().any():
            raise DataError(f"Column `{split_column}` must hold only train, valid or test.")
        parts = tuple(df[labels.to_numpy() == name] for name in ("train", "valid", "test"))
    else:
        if method == "time":
            if not time_column:
                raise DataError("Split method `time` needs a column with role `timestamp`.")
            order = np.argsort(pd.to_numeric(df[time_column], errors="coerce").fillna(-np.inf).to_numpy(), kind="stable")
            if not pd.api.types.is_numeric_dtype(df[time_column]):
                order = np.argsort(pd.to_datetime(df[time_column], errors="coerce").to_numpy(), kind="stable")
        else:
            order = np.random.default_rng(seed).permutation(n)
        n_test, n_valid = int(round(n * test_frac)), int(round(n * valid_frac))
        n_train = n - n_test - n_valid
        parts = (df.iloc[order[:n_train]], df.iloc[order[n_train:n_train + n_valid]], df.iloc[order[n_train + n_valid:]])
    for name, part in zip(("train", "validation", "test"), parts):
        if len(part) == 0:
            raise DataError(f"The {name} split is empty; use more rows or larger fractions.")
    return parts
