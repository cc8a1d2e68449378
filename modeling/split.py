"""Train / validation / test splits: seeded random, by time, or from a split column.

A split is a :class:`SplitPlan`: a rule that gives each row a code (0 train, 1 valid, 2 test) from
its global position and its own values, so a table can be split chunk by chunk without holding it:

- ``random``: rows are ranked by a seeded 64-bit hash of their position (splitmix64, a bijection, so
  no ties); the ``n_test`` smallest hashes go to test, the next ``n_valid`` to valid. The two cut
  values come from passes over the hashes of 0..n-1 (no data read, O(sqrt(n)) memory, see ``_hash_cut``);
  after that every chunk is classified by comparing its hashes with the cuts. Split sizes are exact
  (``round(n * frac)``) and a row's split does not depend on how the table is chunked.
- ``time``: the oldest rows train, the newest test. The timestamp column alone is read (8 bytes per
  row), sorted (stable, so ties keep file order) and turned into one byte of split code per row,
  kept for the encoding pass (20 MB at 20M rows).
- ``column``: the row's value in the split column (train/valid/test), chunk by chunk.
- ``random`` with ``strata_column`` (uplift: stratified by arm): the same hash ranking within each
  value of that column, with cuts per value, so every stratum is split in exactly the proportions
  asked (``round(n_s * frac)`` rows of each). One pass counts the strata, one more (rarely two) finds
  the cuts; only that column is read.

:func:`split_frame` applies the same plans to an in-memory frame, so the in-memory and streamed
paths put every row in the same split.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from mlcore.api import DataError

from .features import _as_text

SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test"}
CODES = {"train": 0, "valid": 1, "test": 2}
SPLITS = ("train", "valid", "test")
_HASH_CHUNK = 1 << 22


def position_hash(positions: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of ``positions + seed·golden``: a seeded bijection of uint64, vectorised."""
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def split_sizes(n: int, valid_frac: float, test_frac: float) -> tuple[int, int, int]:
    n_test, n_valid = int(round(n * test_frac)), int(round(n * valid_frac))
    return n - n_test - n_valid, n_valid, n_test


@dataclass
class SplitPlan:
    """Assigns split codes chunk by chunk; ``counts`` holds the rows per split (train, valid, test)."""

    method: str
    counts: tuple[int, int, int]
    seed: int = 0
    cuts: tuple[int, int] | None = None  # random: hash < cuts[0] -> test, < cuts[1] -> valid
    codes_by_row: np.ndarray | None = None  # time: one int8 per row
    split_column: str | None = None
    strata_column: str | None = None
    strata_cuts: dict[str, tuple[int, int]] | None = None  # stratum value -> its (test, valid) cuts

    def codes(self, start: int, chunk: pd.DataFrame) -> np.ndarray:
        """int8 codes (0 train, 1 valid, 2 test) of the rows ``start .. start + len(chunk)``."""
        n = len(chunk)
        if self.method == "random":
            h = position_hash(np.arange(start, start + n, dtype=np.uint64), self.seed)
            if self.strata_column:
                test_cut, valid_cut = _row_cuts(chunk[self.strata_column], self.strata_cuts)
            else:
                test_cut, valid_cut = np.uint64(self.cuts[0]), np.uint64(self.cuts[1])
            out = np.zeros(n, dtype=np.int8)
            out[h < valid_cut] = 1
            out[h < test_cut] = 2
            return out
        if self.method == "time":
            return self.codes_by_row[start:start + n]
        return column_codes(chunk[self.split_column], self.split_column)

    def check(self) -> None:
        for name, count in zip(("train", "validation", "test"), self.counts):
            if count == 0:
                raise DataError(f"The {name} split is empty; use more rows or larger fractions.")


def column_codes(values: pd.Series, name: str) -> np.ndarray:
    labels = values.astype(str).str.strip().str.lower().map(SPLIT_NAMES)
    if labels.isna().any():
        raise DataError(f"Column `{name}` must hold only train, valid or test.")
    return labels.map(CODES).to_numpy(dtype=np.int8)


def stratum_values(values: pd.Series) -> np.ndarray:
    """A stratum's key as text (integral floats written like integers, so 1.0 and 1 are one stratum)."""
    text = _as_text(values)
    if text.isna().any():
        raise DataError(f"Column `{values.name}` has {int(text.isna().sum()):,} missing values; a stratified "
                        "split needs a value on every row.")
    return text.to_numpy(dtype=object)


def _row_cuts(values: pd.Series, cuts: dict[str, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (test, valid) hash cut from its stratum; a value the plan never saw is refused."""
    keys = list(cuts)
    index = pd.Index(keys, dtype=object).get_indexer(stratum_values(values))
    if (index < 0).any():
        raise DataError(f"Column `{values.name}` changed while the table was read (value not seen when planning).")
    table = np.array([cuts[k] for k in keys], dtype=np.uint64).reshape(-1, 2)  # (S, 2)
    return table[index, 0], table[index, 1]


def stratum_counts(table, column: str, batch_rows: int = 262_144) -> dict[str, int]:
    """Rows per value of ``column``, one streamed pass over that column alone."""
    counts: dict[str, int] = {}
    for chunk in table.iter_frames([column], batch_rows):
        for value, count in pd.Series(stratum_values(chunk[column])).value_counts().items():
            counts[value] = counts.get(value, 0) + int(count)
    return dict(sorted(counts.items()))


def _stratified_cuts(table, column: str, wanted: dict[str, tuple[int, int, int]], seed: int,
                     batch_rows: int) -> dict[str, tuple[int, int]]:
    """Per stratum, the hash values below which exactly ``k`` of its rows' position hashes lie, for
    ``k`` = its test rows and its test + valid rows: :func:`_hash_cut` with the window search done
    for every stratum and both cuts in the same passes over the column."""
    targets = {(s, j): (n, k) for s, (n, k_test, k_tv) in wanted.items() for j, k in enumerate((k_test, k_tv))}
    found: dict[tuple[str, int], int] = {t: 2**64 - 1 for t, (n, k) in targets.items() if k >= n}
    widths = {t: 8 * np.sqrt(max(k, 1) * (n - k) / n) / n + 64 / n for t, (n, k) in targets.items() if t not in found}
    while len(found) < len(targets):
        pending = [t for t in targets if t not in found]
        bounds = {}
        for t in pending:
            n, k = targets[t]
            f = k / n
            bounds[t] = (int(max(0.0, f - widths[t]) * 2**64), min(2**64 - 1, int(min(1.0, f + widths[t]) * 2**64)))
        below = dict.fromkeys(pending, 0)
        windows: dict[tuple[str, int], list[np.ndarray]] = {t: [] for t in pending}
        start = 0
        for chunk in table.iter_frames([column], batch_rows):
            values = stratum_values(chunk[column])
            h = position_hash(np.arange(start, start + len(chunk), dtype=np.uint64), seed)
            start += len(chunk)
            for stratum in {t[0] for t in pending}:
                hs = h[values == stratum]
                for t in (t for t in pending if t[0] == stratum):
                    lo, hi = np.uint64(bounds[t][0]), np.uint64(bounds[t][1])
                    below[t] += int((hs < lo).sum())
                    windows[t].append(hs[(hs >= lo) & (hs < hi)])
        for t in pending:
            n, k = targets[t]
            window = np.sort(np.concatenate(windows[t])) if windows[t] else np.zeros(0, dtype=np.uint64)
            if below[t] <= k < below[t] + len(window) or (bounds[t][1] == 2**64 - 1 and below[t] <= k):
                found[t] = int(window[k - below[t]]) if k - below[t] < len(window) else 2**64 - 1
            else:
                widths[t] *= 4
    return {s: (found[(s, 0)], found[(s, 1)]) for s in wanted}


def _hash_cuts(n: int, n_valid: int, n_test: int, seed: int) -> tuple[int, int]:
    """The hash values below which exactly ``n_test`` (then ``n_test + n_valid``) hashes of 0..n-1 lie.

    Hashes are uniform, so the k-th smallest lies near ``k/n · 2^64``: one pass over the positions
    counts the hashes below a window around that point (8 standard deviations wide) and keeps only
    those inside it, O(sqrt(n)) values, where the exact cut is picked; a miss widens the window.
    """
    return _hash_cut(n, n_test, seed), _hash_cut(n, n_test + n_valid, seed)


def _hash_cut(n: int, k: int, seed: int) -> int:
    if k >= n:
        return 2**64 - 1
    f, width = k / n, 8 * np.sqrt(max(k, 1) * (n - k) / n) / n + 64 / n
    while True:
        lo, hi = int(max(0.0, f - width) * 2**64), min(2**64 - 1, int(min(1.0, f + width) * 2**64))
        below, window = 0, []
        for s in range(0, n, _HASH_CHUNK):
            h = position_hash(np.arange(s, min(n, s + _HASH_CHUNK), dtype=np.uint64), seed)
            below += int((h < np.uint64(lo)).sum())
            window.append(h[(h >= np.uint64(lo)) & (h < np.uint64(hi))])
        window = np.sort(np.concatenate(window))
        if below <= k < below + len(window) or (hi == 2**64 - 1 and below <= k):
            return int(window[k - below]) if k - below < len(window) else 2**64 - 1
        width *= 4


def time_order_key(values: pd.Series) -> np.ndarray:
    """Sort key of a timestamp column: numbers as they are (missing first), else parsed dates."""
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values, errors="coerce").fillna(-np.inf).to_numpy()
    return pd.to_datetime(values, errors="coerce").to_numpy()


def plan_split(table, *, method: str = "random", valid_frac: float = 0.1, test_frac: float = 0.1, seed: int = 2024,
               time_column: str | None = None, split_column: str | None = None, strata_column: str | None = None,
               strata: dict[str, int] | None = None, batch_rows: int = 262_144) -> SplitPlan:
    """The split of ``table`` (anything with ``n_rows``, ``read(columns)`` and ``iter_frames(columns, batch_rows)``,
    e.g. :class:`mlcore.columnar.ColumnarTable`) without loading its other columns.

    ``strata_column`` stratifies the random split by that column's values; ``strata`` (value ->
    rows, as :func:`stratum_counts` gives) saves the counting pass when the caller has counted."""
    n = table.n_rows
    if method == "column":
        if not split_column:
            raise DataError("Split method `column` needs a column with role `split` (values train/valid/test).")
        counts = np.zeros(3, dtype=np.int64)
        for chunk in table.iter_frames([split_column], batch_rows):
            counts += np.bincount(column_codes(chunk[split_column], split_column), minlength=3)
        plan = SplitPlan("column", tuple(int(c) for c in counts), split_column=split_column)
    elif method == "time":
        if not time_column:
            raise DataError("Split method `time` needs a column with role `timestamp`.")
        order = np.argsort(time_order_key(table.read([time_column])[time_column]), kind="stable")
        sizes = split_sizes(n, valid_frac, test_frac)
        codes = np.zeros(n, dtype=np.int8)
        codes[order[sizes[0]:sizes[0] + sizes[1]]] = 1
        codes[order[sizes[0] + sizes[1]:]] = 2
        plan = SplitPlan("time", sizes, codes_by_row=codes)
    elif strata_column:
        strata = strata if strata is not None else stratum_counts(table, strata_column, batch_rows)
        per_stratum = {s: split_sizes(count, valid_frac, test_frac) for s, count in strata.items()}
        wanted = {s: (count, per_stratum[s][2], per_stratum[s][2] + per_stratum[s][1]) for s, count in strata.items()}
        sizes = tuple(int(sum(v[j] for v in per_stratum.values())) for j in range(3))
        plan = SplitPlan("random", sizes, seed=seed, strata_column=strata_column,
                         strata_cuts=_stratified_cuts(table, strata_column, wanted, seed, batch_rows))
    else:
        sizes = split_sizes(n, valid_frac, test_frac)
        plan = SplitPlan("random", sizes, seed=seed, cuts=_hash_cuts(n, sizes[1], sizes[2], seed))
    plan.check()
    return plan


class FrameTable:
    """An in-memory DataFrame seen through the columnar-table interface (``n_rows``, ``columns``,
    ``read``, ``iter_frames``), for callers that pass a frame instead of a dataset's Parquet copy."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame.reset_index(drop=True)

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def read(self, columns=None) -> pd.DataFrame:
        return self.frame if columns is None else self.frame[list(columns)]

    def iter_frames(self, columns=None, batch_rows: int = 262_144) -> Iterator[pd.DataFrame]:
        frame = self.read(columns)
        for start in range(0, len(frame), batch_rows):
            yield frame.iloc[start:start + batch_rows].reset_index(drop=True)


def split_frame(df: pd.DataFrame, *, method: str = "random", valid_frac: float = 0.1, test_frac: float = 0.1,
                seed: int = 2024, time_column: str | None = None, split_column: str | None = None,
                strata_column: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (train, valid, test), rows in table order; ``time`` puts the oldest rows in train and the newest in test."""
    plan = plan_split(FrameTable(df), method=method, valid_frac=valid_frac, test_frac=test_frac, seed=seed,
                      time_column=time_column, split_column=split_column, strata_column=strata_column)
    codes = plan.codes(0, df.reset_index(drop=True))
    return tuple(df[codes == k] for k in range(3))
