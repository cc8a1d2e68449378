"""What a profiled column looks like, the checks on a file's bytes and header, and the role guesses.

Plain pandas/pyarrow, no Django. The streamed pass over the file (the profile and the Parquet copy
in one read) is :mod:`datasets.ingest`; :func:`profile_file` is that pass without the copy.
"""
from __future__ import annotations

import csv
import gzip
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

DISTINCT_CAP = 100_000
VALUE_COUNTS_MAX = 20
PREVIEW_ROWS = 20
SNIFF_BYTES = 64 * 1024
CANDIDATE_DELIMITERS = [",", ";", "\t", "|"]
# Separators of delimited-id sequence cells ("123^456^789"), in the order the training pipeline tries them.
SEQUENCE_SEPARATORS = ("|", "^", ",", ";")
SEQUENCE_MAX_ITEM = 64  # longer "items" are free text, not ids
SEQUENCE_SAMPLE = 20_000  # non-missing text values per column checked for the sequence pattern
SEQUENCE_NAME_HINTS = ("seq", "hist", "history", "behavior", "behaviour", "clicks", "sequence")
_ID_TOKEN = r"[\w.\-:]+"
_INT_TOKEN = r"-?\d+"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

BASE_ROLES = ("label", "categorical", "numeric", "sequence", "timestamp", "user_id", "item_id", "split", "ignore")


class DatasetError(ValueError):
    """A problem with an uploaded file that the analyst can fix; ``messages`` says what to do."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__(" ".join(self.messages))


@dataclass
class ColumnProfile:
    """What we learned about one column while streaming through the file."""

    name: str
    dtype: str = "empty"  # int, float, bool, string, list, datetime, empty
    role: str = "ignore"
    missing: int = 0
    distinct: int = 0
    distinct_capped: bool = False
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    values: dict[str, int] | None = None  # value counts when there are few distinct values
    pipe_share: float = 0.0  # share of non-missing strings holding a "|" (a sequence hint)
    # For text columns: the likeliest sequence separator, and over a sample of values the share holding
    # it, the share that parse as a list of ids with it, and one value that does not (see sequence_stats).
    sequence: dict[str, Any] | None = None

    def as_dict(self, n_rows: int) -> dict[str, Any]:
        d = {
            "name": self.name,
            "dtype": self.dtype,
            "role": self.role,
            "missing": self.missing,
            "missing_pct": round(100.0 * self.missing / n_rows, 3) if n_rows else 0.0,
            "distinct": self.distinct,
            "distinct_capped": self.distinct_capped,
        }
        for key in ("min", "max", "mean"):
            value = getattr(self, key)
            d[key] = None if value is None or not math.isfinite(value) else float(value)
        d["values"] = self.values
        if self.sequence is not None:
            d["sequence"] = self.sequence
        return d


@dataclass
class TableProfile:
    """The result of profiling a whole file."""

    file_format: str
    delimiter: str | None
    n_rows: int
    columns: list[dict[str, Any]]
    preview: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    copied: bool = True  # False when a Parquet upload is used as its own columnar copy


# ---------------------------------------------------------------------------------------------
# Format detection


def detect_format(path: Path) -> str:
    """Return ``parquet``, ``csv.gz`` or ``csv`` from the file's bytes, or raise DatasetError."""
    size = path.stat().st_size
    if size == 0:
        raise DatasetError("The file is empty (0 bytes). Upload a CSV with a header row and data, or a Parquet file.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "csv.gz"
    if head.startswith(b"PK"):
        raise DatasetError("This looks like a zip or Excel (.xlsx) file, not CSV or Parquet. Export the sheet as CSV (UTF-8) and upload that.")
    if head.startswith(b"%PDF"):
        raise DatasetError("This is a PDF, not CSV or Parquet.")
    sample = _read_text_sample(path, "csv")
    if "\x00" in sample:
        raise DatasetError("The file holds binary data: it is not CSV or Parquet. Upload a CSV (UTF-8 text) or a Parquet file.")
    stripped = sample.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        raise DatasetError("This looks like JSON, not CSV or Parquet. Convert it to CSV or Parquet first.")
    return "csv"


def _read_text_sample(path: Path, file_format: str) -> str:
    opener = gzip.open if file_format == "csv.gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"The gzip file could not be decompressed ({exc}). Upload a valid .csv.gz, a plain CSV or Parquet.") from None
    # Cut at the last newline so a multi-byte character split by the sample edge is not an error.
    if len(raw) == SNIFF_BYTES and b"\n" in raw:
        raw = raw[: raw.rfind(b"\n") + 1]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(_utf8_message(exc)) from None


def _utf8_message(exc: UnicodeDecodeError) -> str:
    bad = exc.object[exc.start : exc.start + 1].hex()
    return (
        f"The file is not UTF-8 text (byte 0x{bad} at position {exc.start} cannot be decoded). "
        "Re-save it as UTF-8 (in Excel: 'CSV UTF-8'; in pandas: to_csv(..., encoding='utf-8'))."
    )


# ---------------------------------------------------------------------------------------------
# CSV header and delimiter


def sniff_delimiter(sample: str, requested: str | None = None) -> str:
    """Choose the delimiter: the one requested, or the one that splits the header consistently."""
    lines = [line for line in sample.splitlines() if line.strip()][:50]
    if not lines:
        raise DatasetError("The file has no header row. The first line must name the columns.")
    if requested:
        if requested not in CANDIDATE_DELIMITERS:
            raise DatasetError(f"Unsupported delimiter {requested!r}; use one of comma, semicolon, tab or pipe.")
        n_fields = len(next(csv.reader([lines[0]], delimiter=requested)))
        if n_fields == 1:
            other = _best_delimiter(lines)
            if other and other != requested:
                raise DatasetError(
                    f"With the {DELIMITER_NAMES[requested]} delimiter the header has a single column, but the file looks "
                    f"{DELIMITER_NAMES[other]}-separated. Choose '{DELIMITER_NAMES[other]}' as delimiter (or leave it on auto)."
                )
        return requested
    return _best_delimiter(lines) or ","


def _best_delimiter(lines: list[str]) -> str | None:
    best, best_score = None, 0
    for delim in CANDIDATE_DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = counts[0] * consistent
        if consistent >= 0.9 and score > best_score:
            best, best_score = delim, score
    return best


def check_header(names: list[str]) -> None:
    """Reject empty and duplicate column names with a message that names them."""
    blanks = [i + 1 for i, n in enumerate(names) if not n]
    if blanks:
        raise DatasetError(f"Column(s) at position {', '.join(map(str, blanks))} have no name. Every column needs a header.")
    seen: dict[str, int] = {}
    dups = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        if seen[n] == 2:
            dups.append(n)
    if dups:
        raise DatasetError(f"Duplicate column names: {', '.join(repr(d) for d in dups)}. Rename them so each column name is unique.")


# ---------------------------------------------------------------------------------------------
# Reading


def parquet_columns(pf: pq.ParquetFile) -> list[str]:
    """The data columns of a Parquet file, without the index pandas may have stored beside them."""
    meta = pf.schema_arrow.pandas_metadata or {}
    index_columns = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    return [n for n in pf.schema_arrow.names if n not in index_columns]


def read_table(path: Path, file_format: str, delimiter: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """Load a whole (already validated) table, or only ``columns`` of it, for training."""
    if file_format == "parquet":
        table = pq.read_table(path, columns=columns or parquet_columns(pq.ParquetFile(path)))
        return table.to_pandas(ignore_metadata=True)
    return pd.read_csv(
        path,
        sep=delimiter or ",",
        encoding="utf-8-sig",
        compression="gzip" if file_format == "csv.gz" else None,
        usecols=columns,
        low_memory=False,
    )


# ---------------------------------------------------------------------------------------------
# Profiling


def profile_file(path: Path, *, delimiter: str | None = None, max_decompressed_bytes: int | None = None) -> TableProfile:
    """Check the file is a well-formed table and describe every column; raise DatasetError if not.

    The streamed ingest (:func:`datasets.ingest.ingest_file`) without writing the columnar copy.
    """
    from .ingest import ingest_file

    return ingest_file(path, None, delimiter=delimiter, max_decompressed_bytes=max_decompressed_bytes)


def sequence_stats(text: pd.Series) -> dict[str, Any]:
    """How well text values read as delimited lists of ids (``"123^456"``, ``"a|b"``, ``"1,2,3"``).

    Picks the separator held by most values and returns ``{"sep", "multi_share", "id_share",
    "parse_share", "bad_example"}`` over the values given: the share holding the separator; the
    share that are a list of plain ids with it (a single id counts; with ``,`` or ``;``, common in
    free text, only integer ids, optionally spaced); the share training can read as items (at least
    one non-blank item, none longer than ``SEQUENCE_MAX_ITEM`` characters, i.e. ids rather than
    free text; blank items are dropped at training); and the first value it cannot.
    """
    text = text.astype(str).str.strip()
    n = len(text)
    if not n:
        return {"sep": None, "multi_share": 0.0, "id_share": 0.0, "parse_share": 1.0, "bad_example": None}
    hits = {sep: int(text.str.contains(sep, regex=False).sum()) for sep in SEQUENCE_SEPARATORS}
    sep = max(SEQUENCE_SEPARATORS, key=lambda s: hits[s])  # ties keep the first, as the pipeline does
    if not hits[sep]:
        sep = "|"
    token, gap = (_INT_TOKEN, r"\s*") if sep in ",;" else (_ID_TOKEN, "")
    q = re.escape(sep)
    ids = text.str.fullmatch(rf"{token}(?:{gap}{q}{gap}{token})*")
    item = rf"[^{q}]{{0,{SEQUENCE_MAX_ITEM}}}"
    parsed = text.str.fullmatch(rf"(?=.*[^\s{q}]){item}(?:{q}{item})*")
    bad = text[~parsed]
    return {"sep": sep, "multi_share": round(hits[sep] / n, 4), "id_share": round(float(ids.mean()), 4),
            "parse_share": round(float(parsed.mean()), 4), "bad_example": bad.iloc[0][:80] if len(bad) else None}


def looks_like_sequence(p: ColumnProfile | dict) -> bool:
    """Delimited ids in (almost) every value, and several ids in many of them (or a name that says so)."""
    get = p.get if isinstance(p, dict) else lambda key: getattr(p, key)
    if get("dtype") == "list":
        return True
    stats = get("sequence")
    if get("dtype") != "string" or not stats or not stats["multi_share"]:
        return False
    lname = get("name").strip().lower()
    hinted = any(h in lname for h in SEQUENCE_NAME_HINTS)
    return stats["id_share"] >= 0.98 and (stats["multi_share"] >= 0.3 or hinted)


LABEL_NAMES = {"label", "labels", "click", "clicked", "is_click", "clk", "target", "y", "outcome"}
USER_NAMES = {"user", "user_id", "userid", "uid", "customer_id", "visitor_id"}
ITEM_NAMES = {"item", "item_id", "itemid", "movie_id", "movieid", "product_id", "ad_id", "adid", "sku",
              "adgroup_id", "ad_group_id", "goods_id", "video_id", "article_id", "news_id", "target_item"}
TIME_NAMES = {"timestamp", "time_stamp", "time", "ts", "date", "datetime", "event_time", "hour", "day"}
ID_NAMES = {"id", "row_id", "index", "unnamed: 0"}


def is_binary(profile: ColumnProfile | dict) -> bool:
    """True when a column holds exactly the values 0 and 1 (or True/False) and nothing else."""
    values = profile["values"] if isinstance(profile, dict) else profile.values
    if not values:
        return False
    return set(values) <= {"0", "1", "0.0", "1.0", "True", "False", "true", "false"} and len(values) == 2


def infer_role(p: ColumnProfile, n_rows: int) -> str:
    """A first guess at what the column is; the analyst confirms or corrects it before training."""
    lname = p.name.strip().lower()
    readable = not p.sequence or p.sequence["parse_share"] >= 0.99
    if looks_like_sequence(p) or (p.dtype == "string" and p.pipe_share > 0.5 and readable):
        return "sequence"
    if p.dtype == "empty" or (p.distinct <= 1 and not p.distinct_capped):
        return "ignore"
    if lname in LABEL_NAMES and is_binary(p):
        return "label"
    if lname == "split" and p.values and set(p.values) <= {"train", "valid", "validation", "test"}:
        return "split"
    if lname in USER_NAMES:
        return "user_id"
    if lname in ITEM_NAMES:
        return "item_id"
    if p.dtype == "datetime" or lname in TIME_NAMES or lname.endswith(("_time", "_ts", "_timestamp")):
        return "timestamp"
    if lname in ID_NAMES and p.distinct >= 0.99 * (n_rows - p.missing):
        return "ignore"
    if p.dtype == "string":
        if n_rows > 100 and p.distinct >= 0.99 * (n_rows - p.missing):
            return "ignore"  # a free-text or row identifier, useless as a category
        return "categorical"
    if p.dtype == "bool":
        return "categorical"
    if p.dtype == "int":
        looks_categorical = re.match(r"^(c|cat|category|categorical)[_\d]", lname) or lname.endswith("_id")
        hashed_ids = p.max is not None and p.max > 1e6 and p.distinct < 0.5 * n_rows
        if looks_categorical or hashed_ids or p.distinct <= 2:
            return "categorical"
        return "numeric"
    return "numeric"


def _keep_one_label(profiles: list[ColumnProfile]) -> None:
    labels = [p for p in profiles if p.role == "label"]
    for extra in labels[1:]:
        extra.role = "categorical"


def _preview_dict(frame: pd.DataFrame | None) -> dict[str, Any]:
    if frame is None:
        return {"columns": [], "rows": []}
    frame = frame.apply(_whole_numbers_as_int)
    rows = []
    for record in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
        rows.append([_jsonable(v) for v in record])
    return {"columns": [str(c) for c in frame.columns], "rows": rows}


def _whole_numbers_as_int(column: pd.Series) -> pd.Series:
    """An integer column with a missing value is read as float: preview it as integers again."""
    if pd.api.types.is_float_dtype(column):
        values = column.dropna()
        if len(values) and np.isfinite(values).all() and (values == np.floor(values)).all():
            return column.astype("Int64")
    return column


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        text = "|".join(str(v) for v in items[:20])
        return text + ("|…" if len(items) > 20 else "")
    return str(value)


def label_rate(columns: list[dict[str, Any]]) -> float | None:
    """Share of positives of the label column, from the profiled value counts."""
    for c in columns:
        if c["role"] == "label" and c.get("values"):
            total = sum(c["values"].values())
            pos = sum(n for v, n in c["values"].items() if v in {"1", "1.0", "True", "true"})
            return pos / total if total else None
    return None
