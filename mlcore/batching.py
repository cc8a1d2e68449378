"""Batches sliced from pre-encoded tensors: one permutation per epoch, no per-row Python."""
from __future__ import annotations

from typing import Iterator

import torch

TensorTable = dict[str, torch.Tensor]


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
