"""Turn a DataFrame into tensors following ``modeling/schema.py``: the one place that encodes CTR data.

Vocabularies and numeric statistics come from the training rows only. Index 0 of every
categorical field is "missing", index 1 "out of vocabulary" (rarer than ``min_count`` in train, or
unseen). Missing numerics take the training median and are then normalised. Everything is
vectorised over whole columns.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from mlcore.api import DataError
from mlcore.batching import TensorTable

from .schema import CategoricalField, FeatureSchema

CATEGORICAL_ROLES = ("categorical", "user_id", "item_id")
BINARY_TRUE = {"1", "1.0", "true", "True"}
BINARY_FALSE = {"0", "0.0", "false", "False"}


@dataclass
class EncoderConfig:
    min_count: int = 2
    numeric: str = "standardize"  # standardize | log_standardize | bucketize
    n_buckets: int = 10


def _as_text(series: pd.Series) -> pd.Series:
    """Categorical values as strings, with integral floats (1.0) written like integers (1)."""
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy()
        integral = np.isfinite(values) & (np.mod(values, 1) == 0)
        text = series.astype(str)
        text[integral] = series[integral].astype("int64").astype(str)
        return text.where(series.notna())
    return series.astype(str).where(series.notna())


def encode_label(series: pd.Series, name: str) -> np.ndarray:
    text = _as_text(series)
    if text.isna().any():
        raise DataError(f"Label column `{name}` has {int(text.isna().sum())} missing values; every row needs 0 or 1.")
    values = set(text.unique())
    if not values <= BINARY_TRUE | BINARY_FALSE:
        shown = ", ".join(sorted(values)[:10])
        raise DataError(f"Column `{name}` has values {{{shown}}}; a CTR label must be binary (0/1).")
    return text.isin(BINARY_TRUE).to_numpy(dtype=np.float32)


class FeatureEncoder:
    """Fitted encoding of one dataset's columns; serialisable with ``to_dict``/``from_dict``."""

    def __init__(self) -> None:
        self.label: str = ""
        self.user: str | None = None
        self.config = EncoderConfig()
        self.vocabs: dict[str, list[str]] = {}
        self.numeric: dict[str, dict[str, float]] = {}
        self.buckets: dict[str, list[float]] = {}

    @classmethod
    def fit(cls, df: pd.DataFrame, roles: dict[str, str], config: EncoderConfig | None = None) -> "FeatureEncoder":
        enc = cls()
        enc.config = config or EncoderConfig()
        labels = [c for c, r in roles.items() if r == "label"]
        if len(labels) != 1:
            raise DataError("Choose exactly one label column (role `label`) before training.")
        enc.label = labels[0]
        encode_label(df[enc.label], enc.label)
        users = [c for c, r in roles.items() if r == "user_id"]
        enc.user = users[0] if users else None
        cats = [c for c, r in roles.items() if r in CATEGORICAL_ROLES]
        nums = [c for c, r in roles.items() if r == "numeric"]
        if not cats and not nums:
            raise DataError("No feature columns: give at least one column the role categorical or numeric.")
        for col in cats:
            counts = _as_text(df[col]).value_counts()
            kept = counts[counts >= enc.config.min_count].index
            enc.vocabs[col] = sorted(kept.tolist())
        for col in nums:
            values = pd.to_numeric(df[col], errors="coerce")
            if values.notna().sum() == 0 and df[col].notna().any():
                raise DataError(f"Column `{col}` holds text, not numbers; make it categorical or ignore it.")
            median = float(values.median()) if values.notna().any() else 0.0
            filled = values.fillna(median).to_numpy(dtype=np.float64)
            if enc.config.numeric == "bucketize":
                edges = np.unique(np.quantile(filled, np.linspace(0, 1, enc.config.n_buckets + 1)[1:-1]))
                enc.buckets[col] = edges.tolist()
                enc.numeric[col] = {"median": median}
            else:
                if enc.config.numeric == "log_standardize":
                    filled = np.sign(filled) * np.log1p(np.abs(filled))
                std = float(filled.std())
                enc.numeric[col] = {"median": median, "mean": float(filled.mean()), "std": std if std > 1e-12 else 1.0}
        return enc

    @property
    def categorical_fields(self) -> list[str]:
        return list(self.vocabs) + list(self.buckets)

    @property
    def dense_fields(self) -> list[str]:
        return [c for c in self.numeric if c not in self.buckets]

    @property
    def schema(self) -> FeatureSchema:
        fields = [CategoricalField(c, len(v) + 2) for c, v in self.vocabs.items()]
        fields += [CategoricalField(c, len(e) + 2) for c, e in self.buckets.items()]
        return FeatureSchema(categorical=tuple(fields), numeric=tuple(self.dense_fields), has_user=self.user is not None)

    def transform(self, df: pd.DataFrame) -> TensorTable:
        n = len(df)
        out: TensorTable = {"label": torch.from_numpy(encode_label(df[self.label], self.label))}
        columns = []
        for col, vocab in self.vocabs.items():
            text = _as_text(df[col])
            codes = pd.Index(vocab, dtype=object).get_indexer(text.to_numpy(dtype=object)).astype(np.int64)  # -1: unseen
            ids = np.where(codes >= 0, codes + 2, 1)
            ids[text.isna().to_numpy()] = 0
            columns.append(ids)
        for col, edges in self.buckets.items():
            values = pd.to_numeric(df[col], errors="coerce")
            ids = np.searchsorted(np.asarray(edges), values.fillna(self.numeric[col]["median"]).to_numpy(), side="right") + 2
            ids[values.isna().to_numpy()] = 0
            columns.append(ids.astype(np.int64))
        out["cat"] = torch.from_numpy(np.stack(columns, axis=1) if columns else np.zeros((n, 0), dtype=np.int64))
        dense = []
        for col in self.dense_fields:
            stats = self.numeric[col]
            values = pd.to_numeric(df[col], errors="coerce").fillna(stats["median"]).to_numpy(dtype=np.float64)
            if self.config.numeric == "log_standardize":
                values = np.sign(values) * np.log1p(np.abs(values))
            dense.append(((values - stats["mean"]) / stats["std"]).astype(np.float32))
        if dense:
            out["num"] = torch.from_numpy(np.stack(dense, axis=1))
        if self.user is not None:
            out["user"] = torch.from_numpy(pd.factorize(_as_text(df[self.user]).fillna(""))[0].astype(np.int64))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "user": self.user, "config": asdict(self.config), "vocabs": self.vocabs,
                "numeric": self.numeric, "buckets": self.buckets}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureEncoder":
        enc = cls()
        enc.label, enc.user, enc.config = data["label"], data["user"], EncoderConfig(**data["config"])
        enc.vocabs, enc.numeric, enc.buckets = data["vocabs"], data["numeric"], data["buckets"]
        return enc
