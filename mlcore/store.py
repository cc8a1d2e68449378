"""The encoded table on disk: one job's train/valid/test splits as column-wise ``.npy`` files.

Layout (in the job's work folder)::

    encoded/manifest.json          key (what was encoded, how), splits, per-key dtype/shape, "complete"
    encoded/<split>/<key>.npy      one array per batch key (``label``, ``cat``, ``num``, ``hist_*``...)

Files are written once, sequentially, by :class:`StoreWriter` (each split's rows arrive in table
order, so a file is a header of known shape followed by appended chunks), and read back by
:class:`StoreSplit` with plain positioned reads (``np.fromfile`` at an offset), not ``mmap``: mapped
pages would count in the process's resident memory until the kernel drops them, while reads
leave them in the page cache, outside the worker's RSS. Integer ids are stored as int32 and widened
to int64 per batch. The files are valid NumPy arrays (``np.load(path, mmap_mode="r")`` opens them).

A re-delivered job (worker death) reuses the store when its manifest's key matches and it is
``complete``; anything else is deleted and encoded again.

Training batches (:meth:`StoreSplit.iter_batches` with ``shuffle=True``) are shuffled honestly but
not perfectly: the split is cut into chunks of ``chunk_rows`` contiguous rows; the chunks are
visited in a random order, ``buffer_chunks`` of them at a time are read into a buffer whose rows are
permuted, and batches are cut from that permutation (rows left over at a buffer's end join the
next buffer). Both draws use the trainer's seeded generator, so an epoch's order is reproducible and
a resumed run replays it. A batch thus mixes rows from ``buffer_chunks`` random places in the table,
and every row is seen exactly once per epoch. Evaluation and prediction read in table order.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .batching import TensorTable, take

CHUNK_ROWS = 32_768
BUFFER_CHUNKS = 8
SPLITS = ("train", "valid", "test")


def _disk_array(array: np.ndarray) -> np.ndarray:
    """int64 ids become int32 on disk (halves I/O); everything else is kept as it is."""
    if array.dtype == np.int64 and (array.size == 0 or (array.min() >= -2**31 and array.max() < 2**31)):
        return array.astype(np.int32)
    return array


class StoreWriter:
    """Appends encoded chunks to ``folder/<split>/<key>.npy``; ``counts`` gives each split's final length.

    The first chunk of a split fixes each key's dtype and row shape (keys that need int64, e.g. user
    hashes, are detected there and stay int64).
    """

    def __init__(self, folder: Path, counts: dict[str, int], key: dict[str, Any]):
        self.folder, self.counts, self.key = Path(folder), dict(counts), key
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self.files: dict[tuple[str, str], Any] = {}
        self.layout: dict[str, dict[str, dict]] = {s: {} for s in counts}
        self.written = {s: 0 for s in counts}

    def write(self, split: str, table: dict[str, np.ndarray]) -> None:
        n = len(next(iter(table.values())))
        if n == 0:
            return
        if self.written[split] + n > self.counts[split]:
            raise ValueError(f"more rows for {split} than the {self.counts[split]:,} planned")
        for key, array in table.items():
            handle = self.files.get((split, key))
            if handle is None:
                array = _disk_array(array)
                path = self.folder / split / f"{key}.npy"
                path.parent.mkdir(exist_ok=True)
                handle = self.files[(split, key)] = open(path, "wb")
                shape = (self.counts[split], *array.shape[1:])
                np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(array.dtype),
                                                              "fortran_order": False, "shape": shape})
                self.layout[split][key] = {"dtype": array.dtype.str, "shape": list(shape), "offset": handle.tell()}
            dtype = np.dtype(self.layout[split][key]["dtype"])
            if array.dtype != dtype:
                if np.issubdtype(dtype, np.integer) and array.size and (array.min() < np.iinfo(dtype).min or array.max() > np.iinfo(dtype).max):
                    raise ValueError(f"values of {key} no longer fit {dtype}")
                array = array.astype(dtype)
            handle.write(np.ascontiguousarray(array).tobytes())
        self.written[split] += n

    def close(self, **extra: Any) -> "EncodedStore":
        """Finish the files and write the manifest (``extra`` is stored in it too, e.g. the fitted encoder)."""
        for handle in self.files.values():
            handle.close()
        short = {s: (self.written[s], c) for s, c in self.counts.items() if self.written[s] != c}
        if short:
            raise ValueError(f"encoded rows differ from the plan: {short}")
        manifest = {"key": self.key, "counts": self.counts, "layout": self.layout, **extra, "complete": True}
        tmp = self.folder / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest))
        tmp.replace(self.folder / "manifest.json")
        return EncodedStore(self.folder)


class EncodedStore:
    """A finished store; ``store[split]`` is a :class:`StoreSplit`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.manifest = json.loads((self.folder / "manifest.json").read_text())

    @classmethod
    def open_matching(cls, folder: Path, key: dict[str, Any]) -> "EncodedStore | None":
        """The store in ``folder`` when it is complete and was built for ``key`` (JSON-equal), else None."""
        try:
            store = cls(folder)
        except (OSError, ValueError):
            return None
        if store.manifest.get("complete") and store.manifest.get("key") == json.loads(json.dumps(key)):
            return store
        return None

    def __getitem__(self, split: str) -> "StoreSplit":
        return StoreSplit(self.folder / split, self.manifest["layout"][split], self.manifest["counts"][split])

    def nbytes(self, split: str, widened: bool = True) -> int:
        """Bytes of a split's arrays (as int64 ids in memory when ``widened``)."""
        total = 0
        for meta in self.manifest["layout"][split].values():
            itemsize = np.dtype(meta["dtype"]).itemsize
            if widened and np.dtype(meta["dtype"]) == np.int32:
                itemsize = 8
            total += int(np.prod(meta["shape"])) * itemsize
        return total


class StoreSplit:
    """One split of an encoded store as a :class:`mlcore.batching.BatchSource` (see the module docstring)."""

    def __init__(self, folder: Path, layout: dict[str, dict], n_rows: int, *,
                 chunk_rows: int = CHUNK_ROWS, buffer_chunks: int = BUFFER_CHUNKS):
        self.folder, self.layout, self.n_rows = Path(folder), layout, int(n_rows)
        self.chunk_rows, self.buffer_chunks = chunk_rows, buffer_chunks

    def __len__(self) -> int:
        return self.n_rows

    def __contains__(self, key: str) -> bool:
        return key in self.layout

    def keys(self) -> list[str]:
        return list(self.layout)

    def _read(self, key: str, start: int, stop: int) -> np.ndarray:
        meta = self.layout[key]
        dtype, row_shape = np.dtype(meta["dtype"]), tuple(meta["shape"][1:])
        per_row = int(np.prod(row_shape, dtype=np.int64)) if row_shape else 1
        count = (stop - start) * per_row
        array = np.fromfile(self.folder / f"{key}.npy", dtype=dtype, count=count,
                            offset=meta["offset"] + start * per_row * dtype.itemsize)
        return array.reshape((stop - start, *row_shape))

    def column(self, key: str) -> np.ndarray:
        """A whole column as it is on disk (ids int32)."""
        return self._read(key, 0, self.n_rows)

    def read(self, start: int, stop: int) -> TensorTable:
        """Rows ``start:stop`` of every key as tensors (ids widened to int64)."""
        out = {}
        for key in self.layout:
            array = self._read(key, start, stop)
            tensor = torch.from_numpy(array)
            out[key] = tensor.long() if tensor.dtype == torch.int32 else tensor
        return out

    def head(self, n: int) -> TensorTable:
        return self.read(0, min(n, self.n_rows))

    def load(self) -> TensorTable:
        """The whole split in memory (the in-memory path for splits known to be small enough)."""
        return self.read(0, self.n_rows)

    def iter_batches(self, batch_size: int, *, shuffle: bool,
                     generator: torch.Generator | None = None) -> Iterator[TensorTable]:
        n = self.n_rows
        if not shuffle:
            step = max(batch_size, -(-self.chunk_rows // batch_size) * batch_size)
            for start in range(0, n, step):
                chunk = self.read(start, min(n, start + step))
                for s in range(0, len(next(iter(chunk.values()))), batch_size):
                    yield {k: v[s:s + batch_size] for k, v in chunk.items()}
            return
        n_chunks = -(-n // self.chunk_rows)
        order = torch.randperm(n_chunks, generator=generator).tolist()
        leftover: TensorTable | None = None
        for first in range(0, n_chunks, self.buffer_chunks):
            parts = [self.read(c * self.chunk_rows, min(n, (c + 1) * self.chunk_rows))
                     for c in order[first:first + self.buffer_chunks]]
            if leftover is not None:
                parts.insert(0, leftover)
            buffer = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
            del parts  # hold one buffer at a time, not the chunks it was built from
            size = len(next(iter(buffer.values())))
            perm = torch.randperm(size, generator=generator)
            last = first + self.buffer_chunks >= n_chunks
            full = size if last else size // batch_size * batch_size
            for s in range(0, full, batch_size):
                yield take(buffer, perm[s:min(s + batch_size, full)])
            leftover = take(buffer, perm[full:]) if full < size else None
            del buffer, perm
