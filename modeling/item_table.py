"""Item tables: uploaded item vectors (one per item id) that sequence models read as multimodal input.

An item table is a dataset of kind ``item_table``: one column with role ``item_id`` and the vector
either in one Parquet list / fixed-size-list column or in numeric columns ``e0..eN`` (role
``embedding``); anything else is ``ignore``. ``manage.py build_sequence_dataset --item-embeddings
PATH --register`` writes and registers one.

A sequence job names the table with its hyperparameter ``item_table`` (a dataset id, 0 = none).
:func:`with_item_table` wraps an algorithm's ``run`` on the Django side: it checks the job's
owner may see that dataset, reads the vectors into an
:class:`~modeling.item_side.ItemEmbeddings` and hands them to the Django-free engine as
``ctx.extra["item_embeddings"]``.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from datasets.kinds import Columns, DatasetKind
from mlcore.api import Algorithm, ParamError, RunContext, RunResult

from .item_side import ItemEmbeddings
from .features import _as_text

ITEM_TABLE_ROLES = ("item_id", "embedding", "ignore")
ID_NAMES = {"item_id", "item", "itemid", "movieid", "movie_id", "sku", "id"}
SCALAR_VECTOR = re.compile(r"(e|emb|embedding|v|dim)_?\d+", re.IGNORECASE)

def infer_item_table_roles(columns: Columns) -> None:
    """List columns and ``e0``-style numeric columns hold the vector; the id column is ``item_id``
    (or the first other column); everything else is ignored."""
    for c in columns:
        c["role"] = "ignore"
        if c["dtype"] == "list" or (c["dtype"] in {"int", "float"} and SCALAR_VECTOR.fullmatch(c["name"])):
            c["role"] = "embedding"
    rest = [c for c in columns if c["role"] != "embedding"]
    named = [c for c in rest if c["name"].strip().lower() in ID_NAMES]
    if named or rest:
        (named or rest)[0]["role"] = "item_id"


def check_item_table(columns: Columns, n_rows: int) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    ids = [c for c in columns if c["role"] == "item_id"]
    vectors = [c for c in columns if c["role"] == "embedding"]
    if len(ids) != 1:
        errors.append(f"An item table needs exactly one item id column (role item_id); found {len(ids)}.")
    elif ids[0]["missing"]:
        errors.append(f"Item id column `{ids[0]['name']}` has {ids[0]['missing']:,} missing values.")
    elif not ids[0].get("distinct_capped") and ids[0]["distinct"] < n_rows:
        errors.append(f"Item ids in `{ids[0]['name']}` must be unique: {n_rows - ids[0]['distinct']:,} rows repeat an id.")
    lists = [c for c in vectors if c["dtype"] == "list"]
    scalars = [c for c in vectors if c["dtype"] != "list"]
    if not vectors:
        errors.append("No vector column: an item table needs a list column of floats (Parquet) or numeric columns "
                      "e0, e1, ... (CSV) with the role embedding.")
    elif lists and (len(lists) > 1 or scalars):
        errors.append("Give the role embedding either to one list column or to numeric columns e0..eN, not both.")
    for c in scalars:
        if c["dtype"] not in {"int", "float"}:
            errors.append(f"Column `{c['name']}` holds {c['dtype']} values, so it cannot be part of a vector.")
        elif c["missing"]:
            errors.append(f"Vector column `{c['name']}` has {c['missing']:,} missing values.")
    return errors, []


ITEM_TABLE_KIND = DatasetKind(
    key="item_table",
    label="Item table (item vectors)",
    roles=ITEM_TABLE_ROLES,
    check=check_item_table,
    infer_roles=infer_item_table_roles,
    help="One row per item: an item id and its vector (a Parquet list column, or CSV columns e0..eN). Sequence "
         "models (DIN, QIN, TIN, AW-MoE, SUAN) read it as multimodal item embeddings via their item_table setting.",
)


def embeddings_from_frame(frame: pd.DataFrame, id_column: str, vector_columns: list[str]) -> ItemEmbeddings:
    """An :class:`ItemEmbeddings` from one list column or several numeric columns; raises ValueError."""
    ids = _as_text(frame[id_column]).to_numpy(dtype=object)
    if len(vector_columns) == 1 and frame[vector_columns[0]].map(lambda v: hasattr(v, "__len__")).all():
        cells = frame[vector_columns[0]].to_list()
        lengths = {len(v) for v in cells}
        if len(lengths) != 1:
            raise ValueError(f"every `{vector_columns[0]}` vector must have the same length; found {sorted(lengths)[:5]}")
        vectors = np.asarray([np.asarray(v, dtype=np.float32) for v in cells], dtype=np.float32).reshape(len(ids), -1)
    else:
        vectors = frame[vector_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    if not np.isfinite(vectors).all():
        raise ValueError("the vectors hold missing or non-numeric values")
    if pd.Series(ids).duplicated().any():
        raise ValueError("item ids must be unique")
    if vectors.shape[1] == 0:
        raise ValueError("the vectors are empty")
    return ItemEmbeddings(ids, vectors, method="item table")


def resolve_item_table(owner, dataset_id: int) -> ItemEmbeddings:
    """The vectors of item table ``dataset_id``, or ParamError on ``item_table`` saying why not."""
    from datasets.selectors import datasets_visible_to
    from datasets.services import load_frame

    dataset = datasets_visible_to(owner).filter(pk=dataset_id).first()
    if dataset is None:
        raise ParamError({"item_table": f"no dataset #{dataset_id} that you can see; give the id of one of your item "
                                       f"tables, or 0 for none"})
    ids = dataset.columns_with_role("item_id")
    vectors = dataset.columns_with_role("embedding")
    if dataset.kind != ITEM_TABLE_KIND.key or len(ids) != 1 or not vectors:
        raise ParamError({"item_table": f"dataset #{dataset_id} `{dataset.name}` is not an item table with an item id "
                                       f"and a vector column (upload it with the kind “{ITEM_TABLE_KIND.label}”)"})
    try:
        return embeddings_from_frame(load_frame(dataset, ids + vectors), ids[0], vectors)
    except (ValueError, TypeError) as exc:
        raise ParamError({"item_table": f"dataset #{dataset_id} `{dataset.name}` has no usable vectors: {exc}"}) from None


def with_item_table(algorithm: Algorithm) -> Algorithm:
    """``algorithm`` whose run first resolves its ``item_table`` hyperparameter into ``ctx.extra``."""
    run = algorithm.run

    def run_with_item_table(ctx: RunContext) -> RunResult:
        table_id = int(ctx.params.get("item_table") or 0)
        if table_id and "item_embeddings" not in ctx.extra:
            from jobs.models import Job

            if "job_id" not in ctx.extra:
                raise ParamError({"item_table": "an item table is resolved for a job's owner; outside a job pass "
                                                "ctx.extra['item_embeddings'] instead"})
            owner = Job.objects.select_related("owner").get(pk=ctx.extra["job_id"]).owner
            ctx.extra["item_embeddings"] = resolve_item_table(owner, table_id)
            ctx.log(f"item table #{table_id}: {len(ctx.extra['item_embeddings'].ids):,} items × "
                    f"{ctx.extra['item_embeddings'].dim}")
        return run(ctx)

    return dataclasses.replace(algorithm, run=run_with_item_table)

