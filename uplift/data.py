"""Turn an uplift table into tensors, after checking it is usable: the one place that encodes uplift data.

Roles (as the analyst confirmed them): features are ``categorical`` / ``numeric`` (encoded by the
CTR :class:`~modeling.features.FeatureEncoder`, so vocabularies and statistics come from training
rows only); ``treatment`` (any values, one of which is the control arm); ``click`` (or ``visit``)
and ``conversion`` (binary, a conversion implies a click); optional ``exposure`` (binary) and
``revenue`` (a number); optional ``user_id`` (never a feature, only copied to the held-out scores).

Encoded batch layout (every tensor sliced along the first axis B): ``cat`` (B, F_cat) long and
``num`` (B, F_num) float as in ``modeling/schema.py``; ``treatment`` (B,) long with 0 = control and
1..K the other arms in sorted order; ``click`` and ``conversion`` (B,) float 0/1; ``exposure`` and
``revenue`` (B,) float when present.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from mlcore.api import DataError
from mlcore.batching import TensorTable
from modeling.features import EncoderConfig, FeatureEncoder, StreamingFit, _as_text
from modeling.schema import FeatureSchema

FEATURE_ROLES = ("categorical", "numeric")
CLICK_ROLES = ("click", "visit")
MIN_ROWS_PER_ARM = 30
CONTROL_WORDS = {"no", "none", "control", "ctrl", "false", "holdout"}
TRUE_EFFECT_PREFIXES = {"ctr": "true_uplift_click_", "ctcvr": "true_uplift_conv_"}


@dataclass(frozen=True)
class UpliftColumns:
    """Which column plays which part; resolved once from the roles."""

    treatment: str
    click: str
    conversion: str
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    exposure: str | None = None
    revenue: str | None = None
    user_id: str | None = None

    @classmethod
    def from_roles(cls, roles: dict[str, str]) -> "UpliftColumns":
        def one(wanted: tuple[str, ...], what: str, required: bool = True) -> str | None:
            found = [c for c, r in roles.items() if r in wanted]
            if len(found) > 1:
                raise DataError(f"Only one {what} column is allowed; found {', '.join(f'`{c}`' for c in found)}.")
            if not found and required:
                raise DataError(f"No {what} column: give one column the role {' or '.join(wanted)}.")
            return found[0] if found else None

        columns = cls(
            treatment=one(("treatment",), "treatment"),
            click=one(CLICK_ROLES, "click (or visit)"),
            conversion=one(("conversion",), "conversion"),
            categorical=tuple(c for c, r in roles.items() if r == "categorical"),
            numeric=tuple(c for c, r in roles.items() if r == "numeric"),
            exposure=one(("exposure",), "exposure", required=False),
            revenue=one(("revenue",), "revenue", required=False),
            user_id=one(("user_id",), "user id", required=False),
        )
        if not columns.categorical and not columns.numeric:
            raise DataError("No feature columns: give at least one column the role categorical or numeric.")
        return columns

    @property
    def used(self) -> list[str]:
        extra = [c for c in (self.exposure, self.revenue) if c]
        return [*self.categorical, *self.numeric, self.treatment, self.click, self.conversion, *extra]

    def feature_roles(self) -> dict[str, str]:
        """Roles for the CTR feature encoder (the click column stands in as its label)."""
        roles = {c: "categorical" for c in self.categorical}
        roles.update({c: "numeric" for c in self.numeric})
        roles[self.click] = "label"
        return roles


def choose_control(values: list[str], requested: str = "") -> str:
    """The control arm: ``requested`` when given; else "0"; else the one value that reads as control.

    A value reads as control when one of its words is no, none, control, ctrl, false or holdout
    ("No E-Mail", "control_group"). Anything ambiguous is an error asking for the ``control`` setting.
    """
    if requested:
        if requested not in values:
            raise DataError(f"Control arm `{requested}` is not a treatment value; the values are "
                            f"{', '.join(sorted(values)[:20])}.")
        return requested
    if "0" in values:
        return "0"
    candidates = [v for v in values if CONTROL_WORDS & set(re.split(r"[^a-z0-9]+", v.lower()))]
    if len(candidates) == 1:
        return candidates[0]
    raise DataError("Cannot tell which treatment value is the control arm (values: "
                    f"{', '.join(sorted(values)[:20])}); set the `control` hyperparameter to one of them.")


def _binary(series: pd.Series, name: str, what: str) -> np.ndarray:
    text = _as_text(series)
    if text.isna().any():
        raise DataError(f"{what} column `{name}` has {int(text.isna().sum()):,} missing values; every row needs 0 or 1.")
    truthy, falsy = {"1", "1.0", "true", "True"}, {"0", "0.0", "false", "False"}
    values = set(text.unique())
    if not values <= truthy | falsy:
        shown = ", ".join(sorted(values)[:10])
        raise DataError(f"{what} column `{name}` has values {{{shown}}}; it must be binary (0/1).")
    return text.isin(truthy).to_numpy(dtype=np.float32)


@dataclass
class UpliftEncoder:
    """Fitted encoding of an uplift table: feature encoder plus the arm order (``arms[0]`` = control)."""

    columns: UpliftColumns
    arms: list[str]
    features: FeatureEncoder
    warnings: list[str] = field(default_factory=list)

    @property
    def n_treatments(self) -> int:
        """K, the number of treated arms."""
        return len(self.arms) - 1

    @property
    def schema(self) -> FeatureSchema:
        return self.features.schema

    @classmethod
    def fit(cls, train: pd.DataFrame, columns: UpliftColumns, control: str = "",
            config: EncoderConfig | None = None) -> "UpliftEncoder":
        arms_seen = sorted(_as_text(train[columns.treatment]).dropna().unique().tolist())
        arms = ordered_arms(arms_seen, choose_control(arms_seen, control))
        features = FeatureEncoder.fit(train, columns.feature_roles(), config or EncoderConfig())
        return cls(columns, arms, features)

    def treatment_index(self, series: pd.Series) -> np.ndarray:
        text = _as_text(series)
        if text.isna().any():
            raise DataError(f"Treatment column `{self.columns.treatment}` has {int(text.isna().sum()):,} missing "
                            "values; every row needs an arm.")
        index = pd.Index(self.arms).get_indexer(text.to_numpy(dtype=object))
        if (index < 0).any():
            unseen = sorted(set(text[index < 0]))[:10]
            raise DataError(f"Treatment values {unseen} never appear in the training rows.")
        return index.astype(np.int64)

    def transform(self, frame: pd.DataFrame) -> TensorTable:
        c = self.columns
        table = self.features.transform(frame)
        table.pop("label")
        table["treatment"] = torch.from_numpy(self.treatment_index(frame[c.treatment]))
        table["click"] = torch.from_numpy(_binary(frame[c.click], c.click, "Click"))
        table["conversion"] = torch.from_numpy(_binary(frame[c.conversion], c.conversion, "Conversion"))
        if c.exposure:
            table["exposure"] = torch.from_numpy(_binary(frame[c.exposure], c.exposure, "Exposure"))
        if c.revenue:
            revenue = pd.to_numeric(frame[c.revenue], errors="coerce").fillna(0.0)
            table["revenue"] = torch.from_numpy(revenue.to_numpy(dtype=np.float32))
        return table

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns.__dict__, "arms": self.arms, "features": self.features.to_dict(),
                "warnings": self.warnings}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UpliftEncoder":
        cols = dict(data["columns"])
        cols["categorical"], cols["numeric"] = tuple(cols["categorical"]), tuple(cols["numeric"])
        return cls(UpliftColumns(**cols), list(data["arms"]), FeatureEncoder.from_dict(data["features"]),
                   list(data.get("warnings", [])))


class UpliftCheck:
    """The checks of :func:`validate_uplift_frame`, accumulated chunk by chunk (one streamed pass over the table).

    Per chunk: missing arms and non-binary outcomes raise at once; arm counts, conversions without
    a click and each numeric feature's per-arm count, mean and squared deviations (NaN left out; Chan's parallel
    update) add up.
    ``finish`` raises for what needs the whole table (fewer than two arms, a small arm, orphan
    conversions) and returns the warnings, computed from those sums exactly as on a whole frame.
    """

    def __init__(self, columns: UpliftColumns):
        self.columns = columns
        self.counts: dict[str, int] = {}
        self.orphans = 0
        self.moments: dict[str, np.ndarray] = {}  # arm -> (3, F): count, mean, M2 per numeric feature

    def update(self, frame: pd.DataFrame) -> "UpliftCheck":
        c = self.columns
        arms_text = _as_text(frame[c.treatment])
        if arms_text.isna().any():
            raise DataError(f"Treatment column `{c.treatment}` has {int(arms_text.isna().sum()):,} missing values.")
        click = _binary(frame[c.click], c.click, "Click")
        conversion = _binary(frame[c.conversion], c.conversion, "Conversion")
        self.orphans += int(((conversion == 1) & (click == 0)).sum())
        if c.exposure:
            _binary(frame[c.exposure], c.exposure, "Exposure")
        arms = arms_text.to_numpy(dtype=object)
        x = (frame[list(c.numeric)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
             if c.numeric else None)  # (N, F)
        for arm, count in arms_text.value_counts().items():
            self.counts[arm] = self.counts.get(arm, 0) + int(count)
            if x is not None:
                self._add_moments(arm, x[arms == arm])
        return self

    def _add_moments(self, arm: str, rows: np.ndarray) -> None:
        present = ~np.isnan(rows)  # (N, F)
        n = present.sum(0).astype(np.float64)  # (F,)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n > 0, np.where(present, rows, 0.0).sum(0) / n, 0.0)
        m2 = np.where(present, rows - mean, 0.0)
        m2 = (m2 * m2).sum(0)
        if arm not in self.moments:
            self.moments[arm] = np.stack([n, mean, m2])
            return
        n0, mean0, m20 = self.moments[arm]
        total = n0 + n
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = mean - mean0
            merged_mean = np.where(total > 0, mean0 + delta * n / total, 0.0)
            merged_m2 = m20 + m2 + np.where(total > 0, delta * delta * n0 * n / total, 0.0)
        self.moments[arm] = np.stack([total, merged_mean, merged_m2])

    def finish(self, control: str = "") -> list[str]:
        c, counts = self.columns, pd.Series(self.counts, dtype=np.int64).sort_values(ascending=False, kind="stable")
        if len(counts) < 2:
            held = f"only {counts.index[0]!r}" if len(counts) else "no rows"
            raise DataError(f"Treatment column `{c.treatment}` holds {held}; uplift needs a "
                            "control arm and at least one treated arm.")
        control_arm = choose_control(counts.index.tolist(), control)
        small = counts[counts < MIN_ROWS_PER_ARM]
        if len(small):
            raise DataError(f"Arm(s) {', '.join(f'{a!r} ({n} rows)' for a, n in small.items())} have fewer than "
                            f"{MIN_ROWS_PER_ARM} rows; uplift cannot be estimated. Merge or drop them.")
        if self.orphans:
            raise DataError(f"{self.orphans:,} rows have a conversion without a click (`{c.conversion}` = 1, "
                            f"`{c.click}` = 0); in the impression → click → conversion chain a conversion "
                            "implies a click. Fix or drop those rows.")
        warnings = []
        share = counts / counts.sum()
        for arm, s in share.items():
            if s < 0.05:
                warnings.append(f"Arm {arm!r} has only {s:.1%} of rows; its uplift estimates will be noisy.")
        if counts.max() > 10 * counts.min():
            warnings.append(f"Arms are very unbalanced (largest {counts.idxmax()!r}: {counts.max():,} rows, smallest "
                            f"{counts.idxmin()!r}: {counts.min():,}).")
        return warnings + self._randomisation_warnings(control_arm)

    def _randomisation_warnings(self, control: str) -> list[str]:
        if not self.columns.numeric:
            return []

        def mean_var(arm: str) -> tuple[np.ndarray, np.ndarray, int]:
            n, mean, m2 = self.moments[arm]  # (F,) each
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(n > 0, mean, np.nan), m2 / n, self.counts[arm]

        mean_b, var_b, n_b = mean_var(control)
        out = []
        for arm in sorted(set(self.counts) - {control}):
            mean_a, var_a, n_a = mean_var(arm)
            diff = np.abs(mean_a - mean_b)  # (F,)
            with np.errstate(divide="ignore", invalid="ignore"):
                smd = diff / np.sqrt((var_a + var_b) / 2)
                z = diff / np.sqrt(var_a / n_a + var_b / n_b)
            # Large enough to matter and too large to be chance (|z| > 4 keeps false alarms rare over many columns).
            numeric = self.columns.numeric
            bad = [numeric[j] for j in np.flatnonzero((np.nan_to_num(smd) > 0.1) & (np.nan_to_num(z) > 4))]
            if bad:
                out.append(f"Arm {arm!r} differs from control on {', '.join(f'`{c}`' for c in bad[:5])}"
                           f"{' and more' if len(bad) > 5 else ''} (standardised mean difference > 0.1): "
                           "treatment may not have been randomised, so uplift estimates can be biased.")
        return out


def validate_uplift_frame(frame: pd.DataFrame, columns: UpliftColumns, control: str = "") -> list[str]:
    """Raise :class:`DataError` for tables no uplift model can use; return warnings worth reading.

    Errors: a missing arm value, fewer than two arms, fewer than ``MIN_ROWS_PER_ARM`` rows in an arm,
    non-binary outcomes, conversions without a click. Warnings: an arm under 5 % of rows or ten times
    smaller than another, and numeric features whose mean differs between an arm and control by more
    than 0.1 pooled standard deviations and more than chance explains (|z| > 4); the assignment
    may then not be randomised, so uplift estimates can be confounded. The same checks stream over
    a table with :class:`UpliftCheck`.
    """
    return UpliftCheck(columns).update(frame).finish(control)


class UpliftStreamingFit:
    """Fits an :class:`UpliftEncoder` from training rows given chunk by chunk: the feature statistics by
    :class:`modeling.features.StreamingFit` (the click column as its label), the arms fixed beforehand
    (control first, from the checked table)."""

    def __init__(self, columns: UpliftColumns, arms: list[str], config: EncoderConfig | None = None,
                 *, seed: int = 0, warnings: list[str] | None = None):
        self.columns, self.arms, self.warnings = columns, arms, list(warnings or [])
        self.features = StreamingFit(columns.feature_roles(), config, seed=seed)

    def update(self, frame: pd.DataFrame) -> None:
        self.features.update(frame)

    def finish(self) -> "UpliftEncoder":
        return UpliftEncoder(self.columns, self.arms, self.features.finish(), self.warnings)


def ordered_arms(arms: list[str], control: str) -> list[str]:
    """Control first, then the treated arms in sorted order (the encoder's arm indices 0..K)."""
    return [control] + sorted(a for a in arms if a != control)


def true_effect_columns(available: list[str], arms: list[str]) -> dict[str, dict[int, str]]:
    """Known per-row effect columns by task and arm index, e.g. ``true_uplift_click_2`` for arm "2"."""
    found: dict[str, dict[int, str]] = {}
    for task, prefix in TRUE_EFFECT_PREFIXES.items():
        cols = {k: f"{prefix}{arm}" for k, arm in enumerate(arms) if k and f"{prefix}{arm}" in available}
        if cols:
            found[task] = cols
    return found
