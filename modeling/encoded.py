"""From a dataset's columnar copy to encoded train/valid/test splits in the job folder, in bounded memory.

How a CTR job reads its data (``encode_splits``):

1. **Split plan** (``modeling/split.py``): random by a seeded hash of the row position, by time
   from the timestamp column alone, or by the split column's values; no other column is read.
2. **Encoder fit**: one streamed pass over the table's chunks, the training rows of each chunk fed to
   :class:`modeling.features.StreamingFit` (exact vocabularies/mean/std, reservoir median).
3. **Encode**: a second streamed pass; each chunk is encoded once and its rows appended to their
   split's column files (:mod:`mlcore.store`), ``workdir/encoded/<split>/<key>.npy``. A job re-delivered
   after a worker death reuses a complete store whose manifest matches (same table, roles, split and
   encoder settings) and skips steps 2-3.
4. **Training source**: when the encoded train split (ids as int64) fits under
   ``CTRSTUDIO_TRAIN_IN_MEMORY_MB`` (default 512) it is loaded into tensors and batches use the exact
   full permutation (the faster path for small data); otherwise batches stream from disk with the
   chunk + buffer shuffle of :class:`mlcore.store.StoreSplit`. ``ctx.extra["train_data_path"]`` or
   ``CTRSTUDIO_TRAIN_DATA_PATH`` (``auto`` | ``memory`` | ``stream``) forces a path. The choice and its
   reason go to the job log. Validation and test always stream from the store in table order.
   ``ctx.extra`` may also set ``encode_chunk_rows``, ``store_chunk_rows`` and ``store_buffer_chunks``
   (tests use small ones so that a few thousand rows span many chunks).

Peak memory is one chunk of the table (``CHUNK_ROWS`` rows as pandas) plus its encoding, the
vocabularies, the reservoir samples and, for a time split, one byte per row; it does not grow with
the table's length (the in-memory training path aside, which is bounded by the threshold).
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch

from mlcore.api import RunContext
from mlcore.batching import BatchSource, TensorTable, as_source
from mlcore.store import EncodedStore, StoreSplit, StoreWriter

from .features import EncoderConfig, FeatureEncoder, StreamingFit
from .references import ReferenceFit
from .split import SPLITS, FrameTable, plan_split

CHUNK_ROWS = 65_536
DEFAULT_IN_MEMORY_MB = 512
ChunkExtras = Callable[[pd.DataFrame], dict[str, np.ndarray]]


@dataclass
class EncodedData:
    """The encoded splits of one job: ``train`` is tensors (in-memory path) or a store split."""

    encoder: FeatureEncoder  # or the ``fitter``'s encoder (uplift)
    train: TensorTable | StoreSplit
    valid: StoreSplit
    test: StoreSplit
    store: EncodedStore
    path: str  # "memory" | "stream"
    sizes: dict[str, int] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)  # untrained heuristics on the test rows


def source_table(ctx: RunContext, columns: list[str]):
    """The job's columnar table, or the frame ``read_table`` returns seen as one (tests, notebooks)."""
    return ctx.table if ctx.table is not None else FrameTable(ctx.read_table(columns))


def first_rows(table, columns: list[str], n: int = 2000) -> pd.DataFrame:
    return next(iter(table.iter_frames(columns, n)), pd.DataFrame(columns=columns))


def _table_identity(table) -> dict[str, Any]:
    if isinstance(table, FrameTable):
        return {"frame": int(pd.util.hash_pandas_object(table.frame, index=False).sum()), "n_rows": table.n_rows}
    path = Path(table.path)
    stat = path.stat()
    return {"path": str(path), "n_rows": table.n_rows, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _log_split(ctx: RunContext, method: str, counts) -> None:
    ctx.log(f"split ({method}): train {counts[0]:,}, valid {counts[1]:,}, test {counts[2]:,}")


def _to_numpy(table: dict) -> dict[str, np.ndarray]:
    return {k: (v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in table.items()}


def encode_splits(ctx: RunContext, roles: dict[str, str], *, method: str, valid_frac: float, test_frac: float,
                  seed: int, config: EncoderConfig, extras: Callable[[FeatureEncoder], ChunkExtras | None] | None = None,
                  extras_key: Any = None, chunk_rows: int = CHUNK_ROWS,
                  references: ReferenceFit | None = None, strata_column: str | None = None,
                  strata: dict[str, int] | None = None, fitter: Any = None,
                  load_encoder: Callable[[dict], Any] = FeatureEncoder.from_dict) -> EncodedData:
    """Split, fit the encoder on train and write the encoded splits to ``ctx.workdir/encoded`` (see the module
    docstring). ``extras(encoder)`` may return a function adding columns to each encoded chunk (item-side rows).
    ``references`` (untrained heuristics) is fitted on the training chunks of the first pass and scored on the
    test chunks of the second, and its result kept in the store's manifest for a resumed run.

    Other kinds reuse the same passes: ``strata_column`` (and its counts ``strata``) stratifies the random
    split (``modeling/split.py``); ``fitter`` replaces the CTR :class:`StreamingFit` (anything with
    ``update(train_rows)`` and ``finish()`` returning an encoder with ``transform(frame)`` and ``to_dict()``),
    and ``load_encoder`` turns the manifest's ``to_dict()`` back into that encoder on resume."""
    columns = list(roles)
    chunk_rows = int(ctx.extra.get("encode_chunk_rows") or chunk_rows)
    table = source_table(ctx, columns)
    time_cols = [c for c, r in roles.items() if r == "timestamp"]
    split_cols = [c for c, r in roles.items() if r == "split"]
    key = {"table": _table_identity(table), "roles": roles, "method": method, "valid_frac": valid_frac,
           "test_frac": test_frac, "seed": seed, "config": config.__dict__, "extras": extras_key, "version": 1,
           **({"strata": strata_column} if strata_column else {})}
    folder = Path(ctx.workdir) / "encoded"
    store = EncodedStore.open_matching(folder, key)
    if store is not None:
        encoder = load_encoder(store.manifest["encoder"])
        counts = tuple(store.manifest["counts"][s] for s in SPLITS)
        found_references = store.manifest.get("references") or {}
        _log_split(ctx, method + (f", stratified by `{strata_column}`" if strata_column else ""), counts)
        ctx.log(f"reusing the encoded splits already in the job folder ({sum(counts):,} rows)")
    else:
        t0 = time.perf_counter()
        ctx.progress(0.0, "splitting")
        plan = plan_split(table, method=method, valid_frac=valid_frac, test_frac=test_frac, seed=seed,
                          time_column=time_cols[0] if time_cols else None,
                          split_column=split_cols[0] if split_cols else None, strata_column=strata_column,
                          strata=strata)
        counts = plan.counts
        _log_split(ctx, method + (f", stratified by `{strata_column}`" if strata_column else ""), counts)
        ctx.progress(0.0, "fitting the encoder")
        fitter = fitter if fitter is not None else StreamingFit(roles, config, seed=seed)
        start = 0
        for chunk in table.iter_frames(columns, chunk_rows):
            ctx.check_cancelled()
            codes = plan.codes(start, chunk)
            fitter.update(chunk[codes == 0])
            if references is not None:
                references.fit_chunk(chunk[codes == 0])
            start += len(chunk)
        encoder = fitter.finish()
        add = extras(encoder) if extras else None
        ctx.progress(0.0, "encoding features")
        writer = StoreWriter(folder, dict(zip(SPLITS, counts)), key)
        start = 0
        for chunk in table.iter_frames(columns, chunk_rows):
            ctx.check_cancelled()
            chunk.index = pd.RangeIndex(start, start + len(chunk))  # error messages name the table's row
            codes = plan.codes(start, chunk)
            encoded = _to_numpy(encoder.transform(chunk))
            if references is not None:
                references.score_chunk(chunk[codes == SPLITS.index("test")])
            if add is not None:
                encoded.update(_to_numpy(add(chunk)))
            for k, split in enumerate(SPLITS):
                rows = codes == k
                if rows.any():
                    writer.write(split, {name: array[rows] for name, array in encoded.items()})
            start += len(chunk)
        found_references = references.finish() if references is not None else {}
        store = writer.close(encoder=encoder.to_dict(), references=found_references)
        ctx.log(f"encoded {start:,} rows in {time.perf_counter() - t0:.1f} s (two streamed passes of "
                f"{chunk_rows:,}-row chunks) into the job folder")
    train, path = choose_train_source(ctx, store)
    return EncodedData(encoder, train, store["valid"], store["test"], store, path,
                       {"n_train": counts[0], "n_valid": counts[1], "n_test": counts[2]}, found_references)


def remove_store(ctx: RunContext, data: EncodedData) -> None:
    """Delete a finished job's encoded splits (they only serve resuming; the artifact holds the encoder)."""
    size = sum(f.stat().st_size for f in data.store.folder.rglob("*") if f.is_file())
    shutil.rmtree(data.store.folder, ignore_errors=True)
    ctx.log(f"removed the encoded splits from the job folder ({size / 2**20:,.0f} MB)")


def choose_train_source(ctx: RunContext, store: EncodedStore) -> tuple[TensorTable | StoreSplit, str]:
    """Tensors in memory when the train split is small enough (or forced), else the store split; logged."""
    mode = str(ctx.extra.get("train_data_path") or os.environ.get("CTRSTUDIO_TRAIN_DATA_PATH") or "auto")
    limit_mb = float(os.environ.get("CTRSTUDIO_TRAIN_IN_MEMORY_MB") or DEFAULT_IN_MEMORY_MB)
    size_mb = store.nbytes("train") / 2**20
    train = store["train"]
    train.chunk_rows = int(ctx.extra.get("store_chunk_rows") or train.chunk_rows)
    train.buffer_chunks = int(ctx.extra.get("store_buffer_chunks") or train.buffer_chunks)
    if mode == "memory" or (mode == "auto" and size_mb <= limit_mb):
        why = "forced" if mode == "memory" else f"{size_mb:,.0f} MB encoded ≤ the {limit_mb:,.0f} MB in-memory limit"
        ctx.log(f"training batches: in memory ({why}); exact shuffle of all training rows every epoch")
        return train.load(), "memory"
    why = "forced" if mode == "stream" else f"{size_mb:,.0f} MB encoded > the {limit_mb:,.0f} MB in-memory limit"
    ctx.log(f"training batches: streamed from the encoded splits on disk ({why}); shuffled by chunks of "
            f"{train.chunk_rows:,} rows in random order, mixed in a buffer of {train.buffer_chunks} chunks")
    return train, "stream"


def row_lengths(data: TensorTable | BatchSource, key: str = "hist_mask", batch_size: int = 65_536) -> np.ndarray:
    """Behaviours per row (the sum of ``hist_mask`` over its length), streamed: one int per row."""
    parts = [batch[key].sum(1).numpy().astype(np.int32)
             for batch in as_source(data).iter_batches(batch_size, shuffle=False)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


@torch.no_grad()
def predict_table(model: torch.nn.Module, encoder: FeatureEncoder, table, *, device: torch.device | str = "cpu",
                  batch_rows: int = CHUNK_ROWS, extras: ChunkExtras | None = None,
                  forward: Callable[[torch.nn.Module, TensorTable], torch.Tensor] | None = None) -> Iterator[np.ndarray]:
    """Click probabilities for every row of ``table`` (a :class:`mlcore.columnar.ColumnarTable` or
    anything with ``iter_frames``), chunk by chunk in table order, as float32 arrays.

    Reads only the encoder's columns; memory is one chunk whatever the table's length. The label
    column is not needed (rows without one are scored).
    """
    from mlcore.batching import to_device

    device = torch.device(device)
    model.eval()
    forward = forward or (lambda m, b: m(b))
    columns = encoder_columns(encoder)
    have = set(getattr(table, "columns", columns))
    for chunk in table.iter_frames([c for c in columns if c in have], batch_rows):
        if encoder.label not in chunk:
            chunk = chunk.assign(**{encoder.label: 0})
        batch = encoder.transform(chunk)
        if extras is not None:
            batch.update({k: torch.as_tensor(v) for k, v in extras(chunk).items()})
        batch = to_device(batch, device)
        yield torch.sigmoid(forward(model, batch).float()).cpu().numpy()


def encoder_columns(encoder: FeatureEncoder) -> list[str]:
    """The table columns an encoder reads."""
    cols = [encoder.label, *encoder.vocabs, *encoder.buckets, *encoder.numeric]
    if encoder.user:
        cols.append(encoder.user)
    cols += list(encoder.sequences) + list(encoder.behaviour_sequences)
    cols += [c for c in (encoder.time_sequence, encoder.timestamp) if c]
    return list(dict.fromkeys(cols))
