"""Read product catalogues and attribute labels into two normalised frames.

Every reader returns the same pair, so the graph, the baselines and the evaluation never care
where the data came from:

- ``products``: ``product_id`` (str, unique), ``title``, ``description``, ``category`` (all str,
  empty when unknown) and ``source_split`` (the split the file came from, or "").
- ``labels``: ``product_id``, ``attribute``, ``value`` (str), ``evidence_start``,
  ``evidence_end`` (nullable ``Int64`` character offsets, end exclusive) and ``evidence_field``
  (``title`` / ``description`` / "" when the value is implicit or the offsets are unknown).
  "Not applicable" answers ("n/a", empty) are dropped: an absent attribute is not a value.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from mlcore.api import DataError
from mlcore.paths import shared_data_dir

PRODUCT_COLUMNS = ("product_id", "title", "description", "category", "source_split")
LABEL_COLUMNS = ("product_id", "attribute", "value", "evidence_start", "evidence_end",
                 "evidence_field")
_MISSING_VALUES = {"", "n/a", "na", "none", "null", "nan"}
_ALIASES = {
    "product_id": ("product_id", "id", "asin", "sku", "item_id"),
    "title": ("title", "input_title", "input", "name", "product_title", "texts"),
    "description": ("description", "input_description", "desc", "body"),
    "category": ("category", "category_path", "product_category"),
    "attribute": ("attribute", "attribute_name", "attribute_names", "key"),
    "value": ("value", "attribute_value", "attribute_values"),
    "evidence_start": ("evidence_start", "begin", "start"),
    "evidence_end": ("evidence_end", "end"),
}


def empty_labels() -> pd.DataFrame:
    return _normalise_labels(pd.DataFrame(columns=list(LABEL_COLUMNS)))


def _normalise_products(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "product_id": frame["product_id"].astype(str),
        "title": frame.get("title", pd.Series("", index=frame.index)).fillna("").astype(str),
        "description": frame.get("description", pd.Series("", index=frame.index))
        .fillna("").astype(str),
        "category": frame.get("category", pd.Series("", index=frame.index)).fillna("").astype(str),
        "source_split": frame.get("source_split", pd.Series("", index=frame.index))
        .fillna("").astype(str),
    })
    return out.drop_duplicates("product_id", keep="first").reset_index(drop=True)


def _normalise_labels(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "product_id": frame["product_id"].astype(str),
        "attribute": frame["attribute"].astype(str).str.strip(),
        "value": frame["value"].astype(str).str.strip(),
        "evidence_start": pd.array(frame.get("evidence_start", pd.Series(pd.NA, index=frame.index)),
                                   dtype="Int64"),
        "evidence_end": pd.array(frame.get("evidence_end", pd.Series(pd.NA, index=frame.index)),
                                 dtype="Int64"),
        "evidence_field": frame.get("evidence_field", pd.Series("", index=frame.index))
        .fillna("").astype(str),
    })
    keep = ~out["value"].str.lower().isin(_MISSING_VALUES) & (out["attribute"] != "")
    out = out[keep].drop_duplicates(["product_id", "attribute", "value"], keep="first")
    return out.reset_index(drop=True)


def _rename_aliases(frame: pd.DataFrame, wanted: Iterable[str]) -> pd.DataFrame:
    lower = {c.lower(): c for c in frame.columns}
    renames = {}
    for target in wanted:
        if target in frame.columns:
            continue
        for alias in _ALIASES[target]:
            if alias in lower and lower[alias] not in renames:
                renames[lower[alias]] = target
                break
    return frame.rename(columns=renames)


def _read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    if path.suffix in {".jsonl", ".ndjson"}:
        return pd.read_json(path, lines=True, dtype=False)
    if path.suffix == ".tsv":
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_products_table(path: Path) -> pd.DataFrame:
    """A CSV / TSV / JSONL / Parquet product table with an id and a title (aliases accepted)."""
    frame = _rename_aliases(_read_table(path), ("product_id", "title", "description", "category"))
    for required in ("product_id", "title"):
        if required not in frame.columns:
            raise DataError(f"{Path(path).name}: no `{required}` column; expected one of "
                            f"{', '.join(_ALIASES[required])}")
    return _normalise_products(frame)


def read_labels_table(path: Path) -> pd.DataFrame:
    """A CSV / TSV / JSONL / Parquet label table: one row per (product, attribute, value)."""
    frame = _rename_aliases(_read_table(path), ("product_id", "attribute", "value",
                                                "evidence_start", "evidence_end"))
    for required in ("product_id", "attribute", "value"):
        if required not in frame.columns:
            raise DataError(f"{Path(path).name}: no `{required}` column; expected one of "
                            f"{', '.join(_ALIASES[required])}")
    return _normalise_labels(frame)


def split_long_table(frame: pd.DataFrame, columns: Mapping[str, str]) -> tuple[pd.DataFrame,
                                                                              pd.DataFrame]:
    """Products and labels from one long table (a row per label, product columns repeated).

    ``columns`` maps our names (``product_id``, ``title``, ``description``, ``category``,
    ``attribute``, ``value``) to the analyst's column names; rows with an empty value are products
    still to be labelled.
    """
    missing = [c for c in ("product_id", "title") if c not in columns]
    if missing:
        raise DataError(f"the dataset needs a column for {', '.join(missing)}")
    renamed = frame.rename(columns={v: k for k, v in columns.items()})
    products = _normalise_products(renamed)
    if "attribute" in columns and "value" in columns:
        labels = _normalise_labels(renamed.dropna(subset=["attribute", "value"]))
    else:
        labels = empty_labels()
    return products, labels


def read_extractgpt_jsonl(paths: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ExtractGPT's ``{input, category, target_scores{attr: {value: 1}}}`` records (OA-Mine, AE-110K).

    Product ids are ``<file stem>-<line number>`` because the records carry no id.
    """
    products, labels = [], []
    for path in paths:
        path = Path(path)
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh):
                record = json.loads(line)
                pid = f"{path.stem}-{line_no}"
                products.append({"product_id": pid, "title": record["input"],
                                 "category": record.get("category", ""),
                                 "source_split": path.stem})
                for attribute, values in record.get("target_scores", {}).items():
                    for value in values:
                        labels.append({"product_id": pid, "attribute": attribute, "value": value})
    return _normalise_products(pd.DataFrame(products)), _labels_frame(labels)


def _labels_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_labels()
    frame = pd.DataFrame(rows)
    if "evidence_field" in frame.columns:
        frame["evidence_field"] = frame["evidence_field"].fillna("")
    return _normalise_labels(frame)


def read_mave_jsonl(paths: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MAVE-schema JSONL (``paragraphs[{text, source}]``, ``attributes[{key, evidences}]``).

    A product may be spread over several lines (WDC-PAVE writes one line per attribute), so lines
    with the same category and paragraph texts are one product, named by the first line's ``id``.
    The ``title`` paragraph becomes the title, the other paragraphs (joined by newlines) the
    description, and evidence offsets are moved into whichever of the two holds them.
    Attributes with no evidence (MAVE negatives) add the product but no label.
    """
    products: dict[tuple, dict] = {}
    labels = []
    for path in paths:
        path = Path(path)
        with open(path, encoding="utf-8") as fh:
            for record in map(json.loads, fh):
                paragraphs = record.get("paragraphs", [])
                key = (record.get("category", ""), tuple(p["text"] for p in paragraphs))
                if key not in products:
                    products[key] = _mave_product(record, paragraphs, path)
                product = products[key]
                for attribute in record.get("attributes", []):
                    for ev in attribute.get("evidences", []):
                        field, offset = product["_where"][ev["pid"]]
                        labels.append({
                            "product_id": product["product_id"], "attribute": attribute["key"],
                            "value": ev["value"], "evidence_field": field,
                            "evidence_start": offset + ev["begin"],
                            "evidence_end": offset + ev["end"],
                        })
    frame = pd.DataFrame([{k: v for k, v in p.items() if k != "_where"}
                          for p in products.values()])
    return _normalise_products(frame), _labels_frame(labels)


def _mave_product(record: dict, paragraphs: list[dict], path: Path) -> dict:
    title_pids = [i for i, p in enumerate(paragraphs) if p.get("source") == "title"][:1]
    title = paragraphs[title_pids[0]]["text"] if title_pids else ""
    where: dict[int, tuple[str, int]] = {i: ("title", 0) for i in title_pids}
    description_parts, offset = [], 0
    for i, paragraph in enumerate(paragraphs):
        if i in where:
            continue
        where[i] = ("description", offset)
        description_parts.append(paragraph["text"])
        offset += len(paragraph["text"]) + 1
    return {"product_id": str(record.get("id", len(paragraphs))), "title": title,
            "description": "\n".join(description_parts), "category": record.get("category", ""),
            "source_split": path.parent.name, "_where": where}


def _concat(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    products = _normalise_products(pd.concat([p for p, _ in parts], ignore_index=True))
    labels = _normalise_labels(pd.concat([l for _, l in parts], ignore_index=True))
    return products, labels


# --- the real datasets in the shared data folder -------------------------------------------------

def load_extractgpt(name: str, splits: Sequence[str] = ("train", "test"),
                    root: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """OA-Mine (``oa-mine``) or AE-110K (``ae-110k``) as prepared by ExtractGPT; titles only."""
    folder = Path(root or shared_data_dir()) / "extractgpt_avs" / name
    return read_extractgpt_jsonl([folder / f"{split}.jsonl" for split in splits])


def load_wdc_pave(splits: Sequence[str] = ("train", "validation", "test"),
                  include_negatives: bool = False,
                  root: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """WDC-PAVE in MAVE format (one line per product-attribute, with evidence offsets)."""
    folder = Path(root or shared_data_dir()) / "wdc_pave" / "mave_format"
    files = []
    for split in splits:
        files.append(folder / split / "mave_positives.jsonl")
        negatives = folder / split / "mave_negatives.jsonl"
        if include_negatives and negatives.exists():
            files.append(negatives)
    return read_mave_jsonl(files)


def load_implicitave(domains: Sequence[str] | None = None,
                     splits: Sequence[str] = ("train", "val", "test"),
                     root: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ImplicitAVE TSVs (one row per product and attribute; values are implicit, no offsets)."""
    folder = Path(root or shared_data_dir()) / "implicitave" / "training_data" / "texts"
    domains = domains or sorted(p.name for p in folder.iterdir() if p.is_dir())
    parts = []
    for domain in domains:
        for split in splits:
            frame = pd.read_csv(folder / domain / f"{split}.tsv", sep="\t", dtype=str,
                                keep_default_na=False)
            frame = frame.rename(columns={"id": "product_id", "attribute_names": "attribute",
                                          "attribute_values": "value"})
            frame["title"] = frame["texts"].str.replace(r"^\[Title\]\s*", "", regex=True)
            frame["source_split"] = split
            parts.append((_normalise_products(frame), _normalise_labels(frame)))
    return _concat(parts)


def to_long_table(products: pd.DataFrame, labels: pd.DataFrame,
                  unlabelled: Iterable[str] = ()) -> pd.DataFrame:
    """The analysts' upload shape: a row per (product, attribute, value), product columns repeated.

    Products without labels, and those listed in ``unlabelled`` (their labels are dropped), get one
    row with an empty attribute and value: the products a job extracts values for.
    """
    hidden = set(unlabelled)
    kept = labels[~labels["product_id"].isin(hidden)][["product_id", "attribute", "value"]]
    columns = ["product_id", "title"] + [c for c in ("description", "category")  # only when filled
                                         if c in products.columns and products[c].astype(bool).any()]
    table = products[columns].merge(kept, on="product_id", how="left")
    return table.fillna({"attribute": "", "value": ""})
