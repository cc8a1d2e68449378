"""Turn a DataFrame into tensors following ``modeling/schema.py``: the one place that encodes CTR data.

Vocabularies and numeric statistics come from the training rows only. Index 0 of every
categorical field is "missing", index 1 "out of vocabulary" (rarer than ``min_count`` in train, or
unseen). Missing numerics take the training median and are then normalised. Everything is
vectorised over whole columns.

Sequences (role ``sequence``): a CSV cell ``"a|b|c"`` (``EncoderConfig.seq_sep``) or a Parquet list,
oldest behaviour first. A sequence column whose name ends with ``_time`` or ``_ts`` holds the
behaviours' timestamps; any other sequence column shares the vocabulary of the categorical field
whose name it contains once a ``hist_`` prefix or ``_hist``/``_seq``/``_history`` suffix is removed
(``hist_category`` -> ``category``), else of the ``item_id`` column. Its batch key is
``hist_<field>``. Items seen only inside training histories count towards the vocabulary too.
A *behaviour field* is a property of each past event rather than of its item: the user's feedback
on it (a ``hist_<label column>`` sequence, e.g. ``hist_label`` or ``hist_click``) or its kind of
action (``hist_feedback``, ``hist_action``, ``hist_behavior``/``hist_behaviour``, ``hist_event``).
It has its own vocabulary (training tokens, same ``min_count``), no target counterpart (the
target's feedback is what is predicted) and batch key ``hist_<stem>``.
Times are seconds since the earliest training timestamp (so float32 keeps second precision);
``target_time`` comes from the ``timestamp`` column, or, when there is none, the row's latest
behaviour time.

Fitting streams (:class:`StreamingFit`): one pass over the training rows in chunks of any size.
Vocabularies are exact (value counts summed chunk by chunk, ``min_count`` applied at the end; memory
grows with the number of distinct values, not rows), and so are mean, std (Chan's parallel update of
count/mean/M2, the missing values then added at the median) and the time origin (a running minimum).
The median and the bucket edges come from a seeded uniform reservoir sample of ``RESERVOIR_SIZE``
non-missing values per column (Algorithm R, vectorised per chunk): exact while a column has at most
that many values, otherwise an approximation whose rank error is about ``1/sqrt(RESERVOIR_SIZE)``
(±0.2 percentile points) — the bucket edges are quantiles of the sample with the missing values
added at the median in proportion. ``FeatureEncoder.fit(frame)`` is the same fit on one chunk.
User ids become a 64-bit hash of their text (not a per-call factorisation), so GAUC groups are the
same whichever chunk a row was encoded in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
import torch

from mlcore.api import DataError
from mlcore.batching import TensorTable

from .schema import CategoricalField, FeatureSchema, SequenceSpec

CATEGORICAL_ROLES = ("categorical", "user_id", "item_id")
BINARY_TRUE = {"1", "1.0", "true", "True"}
BINARY_FALSE = {"0", "0.0", "false", "False"}
RESERVOIR_SIZE = 262_144  # values per numeric column kept for the median and bucket edges


@dataclass
class EncoderConfig:
    min_count: int = 2
    numeric: str = "standardize"  # standardize | log_standardize | bucketize
    n_buckets: int = 10
    max_len: int = 50
    seq_sep: str = "|"


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


TIME_SUFFIXES = ("_time", "_ts")
SEQUENCE_PREFIXES = ("hist_", "history_")
SEQUENCE_SUFFIXES = ("_hist", "_history", "_seq", "_sequence")


def sequence_stem(name: str) -> str:
    """``hist_cate_id`` / ``cate_id_seq`` -> ``cate_id``: the field a sequence column is named after."""
    stem = name
    for prefix in SEQUENCE_PREFIXES:
        stem = stem[len(prefix):] if stem.startswith(prefix) else stem
    for suffix in SEQUENCE_SUFFIXES:
        stem = stem[:-len(suffix)] if stem.endswith(suffix) else stem
    return stem


BEHAVIOUR_STEMS = ("feedback", "action", "behavior", "behaviour", "event", "behavior_type", "behaviour_type")


def is_time_sequence(name: str) -> bool:
    return name.lower().endswith(TIME_SUFFIXES)


def sequence_tokens(series: pd.Series, sep: str) -> pd.Series:
    """One row per behaviour, indexed by the row's position (0..n-1), oldest first; blanks dropped."""
    values = series.reset_index(drop=True)
    if pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype):
        is_text = values.map(type).eq(str)
        if is_text.any():
            values = values.where(~is_text, values[is_text].str.split(sep))
    tokens = values.explode()
    tokens = tokens[tokens.notna()]
    tokens = tokens[tokens.astype(str).str.strip() != ""]
    return tokens.infer_objects()


def seconds(values: pd.Series) -> np.ndarray:
    """Timestamps as float seconds: numbers are taken as epoch seconds, text is parsed as dates."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() >= values.notna().sum():
        return numbers.to_numpy(dtype=np.float64)
    dates = pd.to_datetime(values.astype(str), errors="coerce", utc=True)
    out = (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return out.to_numpy(dtype=np.float64)


def left_pad(tokens: pd.Series, values: np.ndarray, n: int, max_len: int, fill, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place each row's most recent ``max_len`` values at the right end of an (n, max_len) array.

    Returns the array, the mask of real behaviours and each row's full length.
    """
    rows = tokens.index.to_numpy(dtype=np.int64)
    lengths = np.bincount(rows, minlength=n)
    pos = tokens.groupby(level=0).cumcount().to_numpy()
    col = max_len - lengths[rows] + pos  # the newest lands in the last column
    keep = col >= 0
    out = np.full((n, max_len), fill, dtype=dtype)
    mask = np.zeros((n, max_len), dtype=bool)
    out[rows[keep], col[keep]] = values[keep]
    mask[rows[keep], col[keep]] = True
    return out, mask, lengths


def check_aligned(lengths: dict[str, np.ndarray], index: pd.Index) -> None:
    """Parallel sequence columns (item ids, item fields, times) must hold one value per behaviour:
    the same length on every row. Raises :class:`DataError` naming the columns and the first bad row."""
    if len(lengths) < 2:
        return
    names = list(lengths)
    first, reference = names[0], lengths[names[0]]
    for name in names[1:]:
        bad = np.flatnonzero(lengths[name] != reference)
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"Sequence columns `{first}` and `{name}` are not aligned: row {row} (index {index[row]!r}) has "
                f"{int(reference[row])} values in `{first}` but {int(lengths[name][row])} in `{name}` "
                f"({len(bad):,} rows differ). Parallel sequences need one value per behaviour, in the same order"
                + ("; every behaviour needs one time." if is_time_sequence(name) else "."))


class FeatureEncoder:
    """Fitted encoding of one dataset's columns; serialisable with ``to_dict``/``from_dict``."""

    def __init__(self) -> None:
        self.label: str = ""
        self.user: str | None = None
        self.config = EncoderConfig()
        self.vocabs: dict[str, list[str]] = {}
        self.numeric: dict[str, dict[str, float]] = {}
        self.buckets: dict[str, list[float]] = {}
        self.sequences: dict[str, str] = {}  # sequence column -> categorical field sharing its vocabulary
        self.behaviour_sequences: dict[str, str] = {}  # sequence column -> behaviour field (own vocabulary)
        self.behaviour_vocabs: dict[str, list[str]] = {}
        self.item: str | None = None
        self.time_sequence: str | None = None
        self.timestamp: str | None = None
        self.time_origin: float = 0.0

    @classmethod
    def fit(cls, df: pd.DataFrame, roles: dict[str, str], config: EncoderConfig | None = None) -> "FeatureEncoder":
        """Fit on one in-memory frame (the streaming fit with a single chunk)."""
        return cls.fit_stream([df], roles, config)

    @classmethod
    def fit_stream(cls, frames: Iterable[pd.DataFrame], roles: dict[str, str], config: EncoderConfig | None = None,
                   *, sample_size: int = RESERVOIR_SIZE, seed: int = 0) -> "FeatureEncoder":
        """Fit from the training rows given as a stream of frames, in one pass (see :class:`StreamingFit`)."""
        fitter = StreamingFit(roles, config, sample_size=sample_size, seed=seed)
        for frame in frames:
            fitter.update(frame)
        return fitter.finish()

    def _fit_sequence_roles(self, roles: dict[str, str], cats: list[str]) -> None:
        """Decide which categorical field each sequence column shares (see the module docstring)."""
        seq_cols = [c for c, r in roles.items() if r == "sequence"]
        if not seq_cols:
            return
        items = [c for c, r in roles.items() if r == "item_id"]
        times = [c for c in seq_cols if is_time_sequence(c)]
        timestamps = [c for c, r in roles.items() if r == "timestamp"]
        for col in seq_cols:
            if col in times:
                continue
            stem = sequence_stem(col)
            if col.startswith(SEQUENCE_PREFIXES) and stem not in cats and (
                    stem == self.label or stem.lower() in BEHAVIOUR_STEMS):
                self.behaviour_sequences[col] = stem
                continue
            target = stem if stem in cats else (items[0] if items else None)
            if target is None:
                raise DataError(f"Sequence column `{col}` needs an item column to share ids with: give the target "
                                f"item column the role item_id (or name the sequence after a categorical column).")
            if target in self.sequences.values():
                raise DataError(f"Two sequence columns share the vocabulary of `{target}`; keep one and ignore the other.")
            self.sequences[col] = target
        if not self.sequences:
            raise DataError(f"Sequence column `{times[0]}` holds times but no sequence of items goes with it.")
        self.item = items[0] if items else next(iter(self.sequences.values()))
        self.time_sequence = times[0] if times else None
        self.timestamp = timestamps[0] if timestamps else None

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
        sequence = None
        if self.sequences:
            sequence = SequenceSpec(item_field=self.item, fields={t: t for t in self.sequences.values()},
                                    max_len=self.config.max_len, has_time=self.time_sequence is not None,
                                    behaviour_fields={n: len(v) + 2 for n, v in self.behaviour_vocabs.items()})
        return FeatureSchema(categorical=tuple(fields), numeric=tuple(self.dense_fields), sequence=sequence,
                             has_user=self.user is not None)

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
            out["user"] = torch.from_numpy(user_codes(df[self.user]))
        if self.sequences:
            out.update(self._transform_sequences(df))
        return out

    def _transform_sequences(self, df: pd.DataFrame) -> TensorTable:
        n, max_len, sep = len(df), self.config.max_len, self.config.seq_sep
        out: TensorTable = {}
        lengths: dict[str, np.ndarray] = {}  # parallel sequence column -> behaviours per row
        for col, target in self.sequences.items():
            tokens = sequence_tokens(df[col], sep)
            codes = pd.Index(self.vocabs[target], dtype=object).get_indexer(_as_text(tokens).to_numpy(dtype=object))
            ids, mask, lengths[col] = left_pad(tokens, np.where(codes >= 0, codes + 2, 1).astype(np.int64), n, max_len, 0, np.int64)
            out[f"hist_{target}"] = torch.from_numpy(ids)  # (B, L)
            out["hist_mask"] = torch.from_numpy(mask)  # (B, L)
        for col, name in self.behaviour_sequences.items():
            tokens = sequence_tokens(df[col], sep)
            codes = pd.Index(self.behaviour_vocabs[name], dtype=object).get_indexer(_as_text(tokens).to_numpy(dtype=object))
            ids, _, lengths[col] = left_pad(tokens, np.where(codes >= 0, codes + 2, 1).astype(np.int64), n, max_len, 0, np.int64)
            out[f"hist_{name}"] = torch.from_numpy(ids)  # (B, L)
        if self.time_sequence:
            tokens = sequence_tokens(df[self.time_sequence], sep)
            times, _, lengths[self.time_sequence] = left_pad(tokens, seconds(tokens) - self.time_origin, n, max_len, 0.0, np.float64)
        check_aligned(lengths, df.index)
        if self.time_sequence:
            times = np.nan_to_num(times)
            if self.timestamp:
                target_time = np.nan_to_num(seconds(df[self.timestamp]) - self.time_origin)
            else:
                target_time = times.max(axis=1)
            out["hist_time"] = torch.from_numpy(times.astype(np.float32))  # (B, L)
            out["target_time"] = torch.from_numpy(target_time.astype(np.float32))  # (B,)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "user": self.user, "config": asdict(self.config), "vocabs": self.vocabs,
                "numeric": self.numeric, "buckets": self.buckets, "sequences": self.sequences, "item": self.item,
                "behaviour_sequences": self.behaviour_sequences, "behaviour_vocabs": self.behaviour_vocabs,
                "time_sequence": self.time_sequence, "timestamp": self.timestamp, "time_origin": self.time_origin}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureEncoder":
        enc = cls()
        enc.label, enc.user, enc.config = data["label"], data["user"], EncoderConfig(**data["config"])
        enc.vocabs, enc.numeric, enc.buckets = data["vocabs"], data["numeric"], data["buckets"]
        enc.sequences, enc.item = dict(data.get("sequences", {})), data.get("item")
        enc.behaviour_sequences = dict(data.get("behaviour_sequences", {}))
        enc.behaviour_vocabs = dict(data.get("behaviour_vocabs", {}))
        enc.time_sequence, enc.timestamp = data.get("time_sequence"), data.get("timestamp")
        enc.time_origin = float(data.get("time_origin", 0.0))
        return enc


def user_codes(values: pd.Series) -> np.ndarray:
    """A stable int64 code per user id (a 64-bit hash of its text), equal across chunks and calls."""
    text = _as_text(values).fillna("").to_numpy(dtype=object)
    return pd.util.hash_array(text, categorize=True).view(np.int64)


def _log_signed(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


class _Moments:
    """Exact streaming count, mean and sum of squared deviations (Chan et al.'s parallel update)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, n: int, mean: float, m2: float) -> None:
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total

    def add_values(self, values: np.ndarray) -> None:
        if len(values):
            mean = float(values.mean())
            self.add(len(values), mean, float(((values - mean) ** 2).sum()))


class _Reservoir:
    """A seeded uniform sample of at most ``size`` values from a stream (Algorithm R, per chunk)."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size, self.rng, self.seen = size, rng, 0
        self.values = np.empty(0, dtype=np.float64)

    def add(self, values: np.ndarray) -> None:
        free = max(0, self.size - len(self.values))
        if free:
            self.values = np.concatenate([self.values, values[:free]])
            self.seen += min(free, len(values))
            values = values[free:]
        if len(values):
            index = np.arange(self.seen, self.seen + len(values))
            slots = (self.rng.random(len(values)) * (index + 1)).astype(np.int64)  # uniform in [0, i]
            keep = slots < self.size
            self.values[slots[keep]] = values[keep]  # a later value replacing an earlier one wins, as in order
            self.seen += len(values)


class StreamingFit:
    """Accumulates a :class:`FeatureEncoder`'s statistics chunk by chunk; ``finish()`` returns the encoder.

    What is exact and what is sampled is described in the module docstring.
    """

    def __init__(self, roles: dict[str, str], config: EncoderConfig | None = None, *,
                 sample_size: int = RESERVOIR_SIZE, seed: int = 0) -> None:
        enc = self.encoder = FeatureEncoder()
        enc.config = config or EncoderConfig()
        labels = [c for c, r in roles.items() if r == "label"]
        if len(labels) != 1:
            raise DataError("Choose exactly one label column (role `label`) before training.")
        enc.label = labels[0]
        users = [c for c, r in roles.items() if r == "user_id"]
        enc.user = users[0] if users else None
        self.cats = [c for c, r in roles.items() if r in CATEGORICAL_ROLES]
        self.nums = [c for c, r in roles.items() if r == "numeric"]
        if not self.cats and not self.nums:
            raise DataError("No feature columns: give at least one column the role categorical or numeric.")
        enc._fit_sequence_roles(roles, self.cats)
        rng = np.random.default_rng(seed)
        self.counts: dict[str, list[pd.Series]] = {c: [] for c in self.cats}
        self.behaviour_counts: dict[str, list[pd.Series]] = {n: [] for n in enc.behaviour_sequences.values()}
        self.moments = {c: _Moments() for c in self.nums}
        self.log_moments = {c: _Moments() for c in self.nums}
        self.samples = {c: _Reservoir(sample_size, rng) for c in self.nums}
        self.missing = {c: 0 for c in self.nums}
        self.raw_present = {c: 0 for c in self.nums}
        self.time_origin = np.inf
        self.rows = 0

    @staticmethod
    def _add_counts(bucket: list[pd.Series], counts: pd.Series) -> None:
        bucket.append(counts)
        if len(bucket) >= 8:  # fold now and then so memory follows the vocabulary, not the chunk count
            bucket[:] = [_sum_counts(bucket)]

    def update(self, df: pd.DataFrame) -> None:
        """Add one chunk of training rows."""
        if len(df) == 0:
            return
        enc, sep = self.encoder, self.encoder.config.seq_sep
        encode_label(df[enc.label], enc.label)
        self.rows += len(df)
        for col in self.cats:
            self._add_counts(self.counts[col], _as_text(df[col]).value_counts())
        for seq_col, target in enc.sequences.items():
            self._add_counts(self.counts[target], _as_text(sequence_tokens(df[seq_col], sep)).value_counts())
        for col, name in enc.behaviour_sequences.items():
            self._add_counts(self.behaviour_counts[name], _as_text(sequence_tokens(df[col], sep)).value_counts())
        for col in self.nums:
            numbers = pd.to_numeric(df[col], errors="coerce")
            self.raw_present[col] += int(df[col].notna().sum())
            present = numbers.dropna().to_numpy(dtype=np.float64)
            self.missing[col] += len(numbers) - len(present)
            self.moments[col].add_values(present)
            self.log_moments[col].add_values(_log_signed(present))
            self.samples[col].add(present)
        if enc.time_sequence:
            parts = [sequence_tokens(df[enc.time_sequence], sep)] + ([df[enc.timestamp]] if enc.timestamp else [])
            for part in parts:
                values = seconds(part) if len(part) else np.zeros(0)
                if np.isfinite(values).any():
                    self.time_origin = min(self.time_origin, float(np.nanmin(values)))

    def finish(self) -> FeatureEncoder:
        enc, min_count = self.encoder, self.encoder.config.min_count
        for col in self.cats:
            counts = _sum_counts(self.counts[col])
            enc.vocabs[col] = sorted(counts[counts >= min_count].index.tolist())
        for col, name in enc.behaviour_sequences.items():
            counts = _sum_counts(self.behaviour_counts[name])
            enc.behaviour_vocabs[name] = sorted(counts[counts >= min_count].index.tolist())
        for col in self.nums:
            present, missing = self.moments[col].n, self.missing[col]
            if present == 0 and self.raw_present[col] > 0:
                raise DataError(f"Column `{col}` holds text, not numbers; make it categorical or ignore it.")
            sample = self.samples[col].values
            median = float(np.median(sample)) if len(sample) else 0.0
            if enc.config.numeric == "bucketize":
                share = round(missing * len(sample) / present) if present else missing
                filled = np.concatenate([sample, np.full(share, median)])
                edges = np.unique(np.quantile(filled, np.linspace(0, 1, enc.config.n_buckets + 1)[1:-1]))
                enc.buckets[col] = edges.tolist()
                enc.numeric[col] = {"median": median}
                continue
            log = enc.config.numeric == "log_standardize"
            moments = _Moments()
            source = self.log_moments[col] if log else self.moments[col]
            moments.add(source.n, source.mean, source.m2)
            moments.add(missing, float(_log_signed(np.array([median]))[0]) if log else median, 0.0)
            std = float(np.sqrt(moments.m2 / moments.n)) if moments.n else 0.0
            enc.numeric[col] = {"median": median, "mean": moments.mean, "std": std if std > 1e-12 else 1.0}
        if enc.time_sequence:
            enc.time_origin = float(self.time_origin) if np.isfinite(self.time_origin) else 0.0
        return enc


def _sum_counts(bucket: list[pd.Series]) -> pd.Series:
    if not bucket:
        return pd.Series(dtype=np.int64)
    if len(bucket) == 1:
        return bucket[0]
    return pd.concat(bucket).groupby(level=0, sort=False).sum()
