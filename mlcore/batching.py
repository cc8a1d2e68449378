"""Batches for the trainer: from tensors in memory or from any :class:`BatchSource` (an encoded store on disk).

In memory, one permutation per epoch and ``index_select`` per batch: no per-row Python.
"""
from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

import numpy as np
import torch

TensorTable = dict[str, torch.Tensor]


@runtime_checkable
class BatchSource(Protocol):
    """Rows the trainer can iterate in batches without holding them all (see ``mlcore/store.py``).

    ``iter_batches(batch_size, shuffle=True, generator=g)`` must visit every row exactly once per
    call, its order drawn from ``g`` only (so a resumed run replays the same order); with
    ``shuffle=False`` rows come in table order. ``column(key)`` returns one whole column as NumPy
    (labels, user codes: a few bytes per row); ``head(n)`` the first rows as tensors.
    """

    def __len__(self) -> int: ...

    def __contains__(self, key: str) -> bool: ...

    def iter_batches(self, batch_size: int, *, shuffle: bool,
                     generator: torch.Generator | None = None) -> Iterator[TensorTable]: ...

    def column(self, key: str) -> np.ndarray: ...

    def head(self, n: int) -> TensorTable: ...


def table_len(table: TensorTable) -> int:
    return len(next(iter(table.values())))


def take(table: TensorTable, idx: torch.Tensor) -> TensorTable:
    return {k: v.index_select(0, idx) for k, v in table.items()}


def to_device(table: TensorTable, device: torch.device | str, non_blocking: bool = True) -> TensorTable:
    return {k: v.to(device, non_blocking=non_blocking) for k, v in table.items()}


def iter_batches(table: TensorTable, batch_size: int, *, shuffle: bool,
                 generator: torch.Generator | None = None) -> Iterator[TensorTable]:
    n = table_len(table)
    if shuffle:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            yield take(table, order[start:start + batch_size])
    else:
        for start in range(0, n, batch_size):
            yield {k: v[start:start + batch_size] for k, v in table.items()}


class TensorSource:
    """A :class:`BatchSource` over tensors in memory: the exact full-permutation shuffle."""

    def __init__(self, table: TensorTable):
        self.table = table

    def __len__(self) -> int:
        return table_len(self.table)

    def __contains__(self, key: str) -> bool:
        return key in self.table

    def iter_batches(self, batch_size: int, *, shuffle: bool,
                     generator: torch.Generator | None = None) -> Iterator[TensorTable]:
        return iter_batches(self.table, batch_size, shuffle=shuffle, generator=generator)

    def column(self, key: str) -> np.ndarray:
        return self.table[key].numpy()

    def head(self, n: int) -> TensorTable:
        return {k: v[:n] for k, v in self.table.items()}


def as_source(data: TensorTable | BatchSource) -> BatchSource:
    """Tensors in a dict become a :class:`TensorSource`; a source is returned as it is."""
    return TensorSource(data) if isinstance(data, dict) else data


def column(data: TensorTable | BatchSource, key: str) -> np.ndarray:
    """One whole column as NumPy, from tensors or a source."""
    return as_source(data).column(key)


def head(data: TensorTable | BatchSource, n: int) -> TensorTable:
    """The first ``n`` rows as tensors, from tensors or a source."""
    return as_source(data).head(n)


def sample_rows(data: TensorTable | BatchSource, max_rows: int, seed: int,
                batch_size: int = 65_536) -> TensorTable:
    """At most ``max_rows`` rows as tensors: all of them when there are no more, else a seeded uniform
    sample without replacement, kept in table order (for learners that need their data in memory)."""
    source = as_source(data)
    n = len(source)
    if n <= max_rows and isinstance(data, dict):
        return data
    keep = np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False)) if n > max_rows else None
    parts, start = [], 0
    for batch in source.iter_batches(batch_size, shuffle=False):
        size = table_len(batch)
        if keep is not None:
            lo, hi = np.searchsorted(keep, [start, start + size])
            batch = take(batch, torch.from_numpy(keep[lo:hi] - start))
        parts.append(batch)
        start += size
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
