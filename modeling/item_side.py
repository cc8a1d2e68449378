"""The item side table: one content embedding per item, joined into batches by item id.

Vectors come from each item's text (title, genres, tags...) through ``mlcore.text`` (MiniLM 384-d
when installed, else TF-IDF + SVD). A table is saved as Parquet (``item_id`` string + a
fixed-size list column ``embedding``) or as ``<name>.npy`` with the ids in ``<name>.ids.txt``.

Joining follows the batch contract of ``modeling/schema.py``: ``item_emb`` (B, D) for the target
and ``hist_item_emb`` (B, L, D) for the behaviours, left-padded exactly like the encoder pads
``hist_<item>``; unknown items and padding get a zero vector. Because (N, L, D) floats are large
(100k rows × 50 × 384 is 7.7 GB), the pipeline stores per-row *row numbers* into the table
(:func:`item_rows`) and :class:`ItemEmbeddingLookup` expands them batch by batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

from mlcore.api import DataError, Param
from mlcore.text import MINILM_DIM, TextEncoder

from .features import _as_text, left_pad, sequence_tokens


ITEM_TABLE_PARAM = Param(
    "item_table", "int", 0, "Dataset id of an item table (kind item_table: an item id and a vector per item) whose "
    "vectors feed the model as multimodal item embeddings; 0 = none.", min=0, max=2**31 - 1)


@dataclass
class ItemEmbeddings:
    """``ids`` (N,) item ids as text and ``vectors`` float32 (N, D), row i for ids[i]."""

    ids: np.ndarray
    vectors: np.ndarray
    method: str = "uploaded"

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def rows(self, item_ids) -> np.ndarray:
        """1-based row of each id in :meth:`padded` (0 for unknown or missing ids)."""
        text = _as_text(pd.Series(item_ids)).to_numpy(dtype=object)
        return (pd.Index(self.ids, dtype=object).get_indexer(text) + 1).astype(np.int64)

    def padded(self) -> np.ndarray:
        """(N + 1, D): row 0 is the zero vector for padding and unknown items."""
        return np.vstack([np.zeros((1, self.dim), dtype=np.float32), self.vectors.astype(np.float32)])


def compute_item_embeddings(items: pd.DataFrame, *, id_column: str = "item_id", text_column: str = "text",
                            method: str = "auto", dim: int = MINILM_DIM, cache_dir: Path | None = None) -> ItemEmbeddings:
    """Embed each item's text; ``method`` is ``auto`` (MiniLM if installed), ``minilm`` or ``tfidf``."""
    if items[id_column].duplicated().any():
        raise DataError(f"Item ids in `{id_column}` must be unique in an item table.")
    texts = items[text_column].fillna("").astype(str).tolist()
    encoder = TextEncoder.fit(texts, method=method, dim=dim)
    vectors = encoder.encode(texts, cache_dir=cache_dir)  # (N, D)
    return ItemEmbeddings(_as_text(items[id_column]).to_numpy(dtype=object), vectors, encoder.method)


def save_item_embeddings(embeddings: ItemEmbeddings, path: Path) -> Path:
    """Parquet (``.parquet``) or ``.npy`` + ``.ids.txt``, by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, embeddings.vectors.astype(np.float32))
        path.with_suffix(".ids.txt").write_text("\n".join(map(str, embeddings.ids)) + "\n")
        return path
    flat = pa.array(embeddings.vectors.astype(np.float32).ravel())
    column = pa.FixedSizeListArray.from_arrays(flat, embeddings.dim)
    pq.write_table(pa.table({"item_id": pa.array(list(map(str, embeddings.ids)), pa.string()), "embedding": column}), path)
    return path


def load_item_embeddings(path: Path, *, id_column: str = "item_id", vector_column: str = "embedding") -> ItemEmbeddings:
    """Read a table written by :func:`save_item_embeddings` (or uploaded in the same layout)."""
    path = Path(path)
    if path.suffix == ".npy":
        ids_path = path.with_suffix(".ids.txt")
        if not ids_path.exists():
            raise DataError(f"{path.name} needs its item ids in {ids_path.name}, one per line.")
        ids = np.array(ids_path.read_text().splitlines(), dtype=object)
        vectors = np.load(path).astype(np.float32)
    else:
        table = pq.read_table(path)
        missing = [c for c in (id_column, vector_column) if c not in table.column_names]
        if missing:
            raise DataError(f"The item table needs columns `{id_column}` and `{vector_column}` (a list of floats); "
                            f"missing {', '.join(missing)}.")
        ids = _as_text(table.column(id_column).to_pandas()).to_numpy(dtype=object)
        lists = table.column(vector_column).combine_chunks()
        lengths = lists.value_lengths().to_numpy(zero_copy_only=False) if hasattr(lists, "value_lengths") else None
        if lengths is not None and len(set(lengths.tolist())) > 1:
            raise DataError(f"Every `{vector_column}` vector must have the same length; found {sorted(set(lengths.tolist()))[:5]}.")
        vectors = np.asarray(lists.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(ids), -1)
    if len(ids) != len(vectors):
        raise DataError(f"The item table has {len(ids)} ids but {len(vectors)} vectors.")
    if pd.Series(ids).duplicated().any():
        raise DataError("Item ids in the item table must be unique.")
    return ItemEmbeddings(ids, vectors)


def item_rows(frame: pd.DataFrame, embeddings: ItemEmbeddings, *, item_column: str, history_column: str,
              max_len: int, sep: str = "|") -> dict[str, torch.Tensor]:
    """``item_row`` (B,) and ``hist_item_row`` (B, L): rows of :meth:`ItemEmbeddings.padded`, laid out
    like the encoder's ``hist_<item>`` (most recent ``max_len``, left-padded, 0 = none)."""
    tokens = sequence_tokens(frame[history_column], sep)
    hist, _, _ = left_pad(tokens, embeddings.rows(tokens.to_numpy()), len(frame), max_len, 0, np.int64)
    return {"item_row": torch.from_numpy(embeddings.rows(frame[item_column].to_numpy())),
            "hist_item_row": torch.from_numpy(hist)}


class ItemEmbeddingLookup(nn.Module):
    """Adds ``item_emb`` (B, D) and ``hist_item_emb`` (B, L, D) to a batch holding ``item_row`` and
    ``hist_item_row``; the table is a frozen buffer saved with the model."""

    def __init__(self, padded_vectors: np.ndarray | torch.Tensor):
        super().__init__()
        self.register_buffer("vectors", torch.as_tensor(padded_vectors, dtype=torch.float32))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if "item_row" not in batch:
            return batch
        out = dict(batch)
        out["item_emb"] = self.vectors[batch["item_row"]]  # (B, D)
        out["hist_item_emb"] = self.vectors[batch["hist_item_row"]]  # (B, L, D)
        return out


def join_item_embeddings(frame: pd.DataFrame, embeddings: ItemEmbeddings, *, item_column: str,
                         history_column: str, max_len: int, sep: str = "|") -> dict[str, torch.Tensor]:
    """The contract tensors ``item_emb`` (B, D) and ``hist_item_emb`` (B, L, D) for a small frame."""
    rows = item_rows(frame, embeddings, item_column=item_column, history_column=history_column, max_len=max_len, sep=sep)
    joined = ItemEmbeddingLookup(embeddings.padded())(rows)
    return {"item_emb": joined["item_emb"], "hist_item_emb": joined["hist_item_emb"]}


class WithItemSide(nn.Module):
    """Expands ``item_row``/``hist_item_row`` into ``item_emb``/``hist_item_emb`` before ``net``."""

    def __init__(self, net: nn.Module, lookup: ItemEmbeddingLookup | None):
        super().__init__()
        self.net, self.lookup = net, lookup

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(self.lookup(batch) if self.lookup is not None else batch)

    def __getattr__(self, name: str):  # the wrapped net's aux_loss, diagnostics...
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("net"), name)


def item_side_rows(embeddings, encoder, max_len: int):
    """``(embeddings, add)``: the loaded table and a function giving each encoded chunk its ``item_row`` /
    ``hist_item_row`` columns, or ``(None, None)`` when the job has no item table.

    ``embeddings`` is an :class:`ItemEmbeddings`, a path to one, or None.
    """
    if embeddings is None:
        return None, None
    if not isinstance(embeddings, ItemEmbeddings):
        embeddings = load_item_embeddings(Path(embeddings))
    item_col = encoder.item
    hist_col = next(c for c, t in encoder.sequences.items() if t == item_col)

    def add(frame: pd.DataFrame) -> dict[str, torch.Tensor]:
        return item_rows(frame, embeddings, item_column=item_col, history_column=hist_col, max_len=max_len,
                         sep=encoder.config.seq_sep)
    return embeddings, add


def attach_item_side(embeddings: ItemEmbeddings | None, train_item_rows: np.ndarray | None, schema,
                     log=lambda message: None):
    """The vectors' width in the schema and the lookup module, once the encoded tables hold item rows.

    Returns ``(schema, lookup, info)``; ``info`` (for the run summary) holds ``multimodal_dim`` and
    the share of training targets the table covers (from ``train_item_rows``).
    """
    import dataclasses

    if embeddings is None:
        return schema, None, {}
    covered = float((np.asarray(train_item_rows) > 0).mean())
    log(f"item side table: {len(embeddings.ids):,} items × {embeddings.dim}, covering {covered:.1%} of train targets")
    schema = dataclasses.replace(schema, sequence=dataclasses.replace(schema.sequence, multimodal_dim=embeddings.dim))
    info = {"multimodal_dim": embeddings.dim, "item_table_items": len(embeddings.ids),
            "item_table_coverage": round(covered, 4)}
    return schema, ItemEmbeddingLookup(embeddings.padded()), info
