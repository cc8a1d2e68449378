"""Streamed ingest: read an uploaded CSV / gzip CSV / Parquet once, write its typed Parquet copy and
profile every column in the same pass, with pyarrow (no per-row Python, no pandas frame).

Three threads share the work: one parses the file and regroups its rows into row groups of
``ROW_GROUP_ROWS`` rows, the calling thread profiles each row group with whole-column pyarrow
kernels while a third writes it. Memory is bounded by a few row groups (the one being assembled,
one queued, the one being profiled and written) plus the read blocks (``BLOCK_BYTES`` of CSV
text), whatever the file's length.

CSV column types: pyarrow infers them from a sample at the start of the file (dates and times are
kept as text, as pandas reads them), and the file is then read with those explicit types. When a
later block holds a value the type cannot hold (an int column with ``1.5`` or ``abc`` further down,
a column empty at the start), the column is promoted to the narrowest type that holds the value
(int -> float -> text) and the read starts over from the first byte. Restarts only happen on such
drift, at most a few times per column, so a valid file never fails on its types.

No Django here: :func:`ingest_file` takes paths and limits and returns a :class:`TableProfile`.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, Full, Queue
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .profiling import (
    DISTINCT_CAP, PREVIEW_ROWS, SEQUENCE_SAMPLE, SNIFF_BYTES, VALUE_COUNTS_MAX, ColumnProfile, DatasetError,
    TableProfile, _keep_one_label, _preview_dict, _utf8_message, check_header, detect_format, infer_role,
    SEQUENCE_MAX_ITEM, SEQUENCE_SEPARATORS, _ID_TOKEN, _INT_TOKEN, parquet_columns, sniff_delimiter,
)

BLOCK_BYTES = 4 * 1024 * 1024  # CSV text per read block
TYPE_SAMPLE_BYTES = 2 * 1024 * 1024  # CSV text the column types are inferred from
ROW_GROUP_ROWS = 131_072  # rows per row group of the copy
ROW_GROUP_MAX_ROWS = 1_048_576  # a Parquet upload with bigger row groups is rewritten
MAX_RESTARTS = 64
NULL_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
               "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]  # what pandas reads as missing

Progress = Callable[[float], None]


# ---------------------------------------------------------------------------------------------
# Entry point


def ingest_file(path: Path, out_path: Path | None = None, *, delimiter: str | None = None,
                max_decompressed_bytes: int | None = None, progress: Progress | None = None) -> TableProfile:
    """Check ``path`` is a well-formed table, profile it, and (when ``out_path``) write its Parquet copy.

    Raises :class:`DatasetError` with a message naming the cause; then ``out_path`` does not exist.
    ``TableProfile.copied`` is False when a Parquet upload is already a good copy (nothing written).
    """
    path = Path(path)
    file_format = detect_format(path)
    tmp = out_path.with_name(out_path.name + ".tmp") if out_path is not None else None
    try:
        if file_format == "parquet":
            profile = _ingest_parquet(path, tmp, progress)
        else:
            profile = _ingest_csv(path, file_format, tmp, delimiter, max_decompressed_bytes, progress)
        if tmp is not None and tmp.exists():
            tmp.replace(out_path)
        return profile
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------------------------------------
# Column statistics


class ColumnStats:
    """Running statistics of one column across row groups, computed with pyarrow compute.

    Each row group costs a handful of whole-array kernels per column (null count, min/max and sum,
    one hash pass for the distinct values and, while there are few of them, their counts); nothing
    runs per value in Python.
    """

    def __init__(self, name: str):
        self.name = name
        self.kinds: set[str] = set()
        self.missing = 0
        self.uniques: pa.Array | None = None  # the distinct values so far: exact until the cap
        self.pending_uniques: list[pa.Array] = []  # blocks' distinct values not merged yet
        self.pending_len = 0
        self.capped = False
        self.total = 0.0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self.value_counts: dict[str, int] = {}
        self.too_many_values = False
        self.pipe_hits = 0
        self.strings = 0
        self.seq_sample: list[pa.Array] = []  # the first SEQUENCE_SAMPLE text values
        self.seq_count = 0

    def update(self, column: pa.Array | pa.ChunkedArray) -> None:
        """Fold one block of the column (a row group's worth) into the statistics."""
        self.missing += column.null_count
        if pa.types.is_floating(column.type):
            nan = pc.is_nan(column)
            n_nan = pc.sum(nan).as_py() or 0
            if n_nan:
                self.missing += n_nan
                column = pc.filter(column, pc.invert(nan))  # drops the nulls too (already counted)
        n_values = len(column) - column.null_count
        if n_values == 0:
            return
        kind = _kind(column)
        self.kinds.add(kind)
        if kind == "list":
            self.strings += n_values
            self.pipe_hits += n_values
            return
        if kind in ("int", "float", "bool"):
            self._add_numbers(column, n_values)
        elif kind == "string" and self.seq_count < SEQUENCE_SAMPLE:
            self._add_text_sample(column)
        self._add_distinct(column)

    def _add_numbers(self, column: pa.Array | pa.ChunkedArray, n_values: int) -> None:
        lo_hi = pc.min_max(column)  # nulls skipped
        lo, hi = lo_hi["min"].as_py(), lo_hi["max"].as_py()
        self.min = min(self.min, float(lo))
        self.max = max(self.max, float(hi))
        t = column.type
        if (pa.types.is_integer(t) or pa.types.is_boolean(t)) and max(abs(int(lo)), abs(int(hi))) * n_values < 2**53:
            # Every partial sum is a whole number below 2**53, so the integer sum is the float sum
            # exactly, without casting the column.
            self.total += float(pc.sum(column).as_py())
        else:  # float, so an int64 sum cannot overflow; ids past 2**53 are summed approximately
            self.total += pc.sum(pc.cast(column, pa.float64(), safe=False)).as_py()
        self.count += n_values

    def _add_text_sample(self, column: pa.Array | pa.ChunkedArray) -> None:
        # The sequence hints (share holding a "|", separators, id patterns) come from the first
        # SEQUENCE_SAMPLE values: a scan of every row would cost as much as parsing the file.
        values = pc.drop_null(column) if column.null_count else column
        piece = values.slice(0, SEQUENCE_SAMPLE - self.seq_count)
        if isinstance(piece, pa.ChunkedArray):  # a copy: keeps none of the row group's buffers alive
            piece = pa.concat_arrays(piece.chunks) if piece.num_chunks else pa.array([], piece.type)
        self.seq_sample.append(piece)
        self.seq_count += len(piece)
        self.strings += len(piece)
        self.pipe_hits += pc.sum(pc.match_substring(piece, "|")).as_py() or 0

    def _add_distinct(self, column: pa.Array | pa.ChunkedArray) -> None:
        """Distinct values (exact until DISTINCT_CAP) and, while there are at most VALUE_COUNTS_MAX,
        their counts: one hash pass over the block either way."""
        if self.capped and self.too_many_values:
            return
        if self.too_many_values:
            uniques = pc.unique(column)
        else:
            counts = pc.value_counts(column)
            uniques, numbers = counts.field("values"), counts.field("counts")
            if uniques.null_count:
                valid = pc.is_valid(uniques)
                uniques, numbers = pc.filter(uniques, valid), pc.filter(numbers, valid)
            for value, n in zip(uniques.to_pylist(), numbers.to_pylist()) if len(uniques) <= VALUE_COUNTS_MAX else ():
                key = str(value)
                self.value_counts[key] = self.value_counts.get(key, 0) + int(n)
            if len(uniques) > VALUE_COUNTS_MAX or len(self.value_counts) > VALUE_COUNTS_MAX:
                self.too_many_values, self.value_counts = True, {}
        if self.capped:
            return
        if uniques.null_count:
            uniques = pc.drop_null(uniques)
        # Merging with the values seen so far is a hash pass over both, so blocks' values wait and
        # are merged together now and then (inserting a new value is what a hash pass pays for).
        self.pending_uniques.append(uniques)
        self.pending_len += len(uniques)
        if self.pending_len > DISTINCT_CAP // 2:
            self._merge_uniques()

    def _merge_uniques(self) -> None:
        pieces = ([self.uniques] if self.uniques is not None else []) + self.pending_uniques
        self.pending_uniques, self.pending_len = [], 0
        if not pieces:
            return
        merged = pieces[0] if len(pieces) == 1 else pc.unique(pa.chunked_array(pieces, pieces[0].type))
        if len(merged) > DISTINCT_CAP:
            self.capped, self.uniques = True, None
        else:
            self.uniques = merged

    def finish(self) -> ColumnProfile:
        if not self.capped:
            self._merge_uniques()
        kinds = self.kinds
        if not kinds:
            dtype = "empty"
        elif kinds == {"int"}:
            dtype = "int"
        elif kinds <= {"int", "float"}:
            dtype = "float"
        elif len(kinds) == 1:
            dtype = next(iter(kinds))
        elif "list" in kinds:
            dtype = "list"
        else:
            dtype = "string"
        numeric = dtype in ("int", "float", "bool") and self.count
        return ColumnProfile(
            name=self.name,
            dtype=dtype,
            missing=self.missing,
            distinct=DISTINCT_CAP if self.capped else (len(self.uniques) if self.uniques is not None else 0),
            distinct_capped=self.capped,
            min=self.min if numeric else None,
            max=self.max if numeric else None,
            mean=self.total / self.count if numeric else None,
            values=None if self.too_many_values else dict(sorted(self.value_counts.items(), key=lambda kv: -kv[1])),
            pipe_share=self.pipe_hits / self.strings if self.strings else 0.0,
            sequence=sequence_stats_arrow(self.seq_sample) if dtype == "string" else None,
        )


def sequence_stats_arrow(pieces: list[pa.Array]) -> dict[str, Any]:
    """:func:`datasets.profiling.sequence_stats` on Arrow text, with pyarrow's vectorised regexes.

    RE2 has no look-ahead, so "at least one non-blank item" is a second search; ``\\w`` is ASCII
    there (Python's is Unicode): ids with non-ASCII letters count as not-ids, as free text would.
    """
    text = pc.utf8_trim_whitespace(pa.chunked_array(pieces, pa.string()) if pieces else pa.chunked_array([], pa.string()))
    n = len(text)
    if not n:
        return {"sep": None, "multi_share": 0.0, "id_share": 0.0, "parse_share": 1.0, "bad_example": None}
    hits = {sep: pc.sum(pc.match_substring(text, sep)).as_py() or 0 for sep in SEQUENCE_SEPARATORS}
    sep = max(SEQUENCE_SEPARATORS, key=lambda k: hits[k])
    if not hits[sep]:
        sep = "|"
    token, gap = (_INT_TOKEN, r"\s*") if sep in ",;" else (_ID_TOKEN, "")
    q = re.escape(sep)
    ids = pc.match_substring_regex(text, rf"^{token}(?:{gap}{q}{gap}{token})*$")
    item = rf"[^{q}]{{0,{SEQUENCE_MAX_ITEM}}}"
    parsed = pc.and_(pc.match_substring_regex(text, rf"^{item}(?:{q}{item})*$"),
                     pc.match_substring_regex(text, rf"[^\s{q}]"))
    bad = pc.filter(text, pc.invert(parsed))
    return {"sep": sep, "multi_share": round(hits[sep] / n, 4), "id_share": round(pc.mean(ids).as_py(), 4),
            "parse_share": round(pc.mean(parsed).as_py(), 4), "bad_example": bad[0].as_py()[:80] if len(bad) else None}


def _kind(values: pa.Array) -> str:
    t = values.type
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        integral = pc.all(pc.equal(pc.floor(values), values)).as_py()
        return "int" if integral and pc.all(pc.is_finite(values)).as_py() else "float"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    return "string"


class Profiler:
    """Statistics of every column plus the first rows, fed one row group (a table) at a time."""

    def __init__(self, names: list[str]):
        self.names = names
        self.stats = [ColumnStats(n) for n in names]
        self.n_rows = 0
        self.preview: pd.DataFrame | None = None
        self.last_text: dict[str, str] = {}  # the last row's text values (to spot a quote never closed)

    def update(self, table: pa.Table | pa.RecordBatch) -> None:
        if self.preview is None and table.num_rows:
            self.preview = table.slice(0, PREVIEW_ROWS).to_pandas()
        self.n_rows += table.num_rows
        for stats, column in zip(self.stats, table.columns):
            stats.update(column)
        if table.num_rows:
            self.last_text = {f.name: v for f, c in zip(table.schema, table.columns)
                              if pa.types.is_string(f.type) and isinstance(v := c[table.num_rows - 1].as_py(), str)}

    def finish(self, file_format: str, delimiter: str | None) -> TableProfile:
        if self.n_rows == 0:
            raise DatasetError("The file has a header but no data rows.")
        profiles = [s.finish() for s in self.stats]
        for p in profiles:
            p.role = infer_role(p, self.n_rows)
        _keep_one_label(profiles)
        return TableProfile(file_format=file_format, delimiter=delimiter, n_rows=self.n_rows,
                            columns=[p.as_dict(self.n_rows) for p in profiles], preview=_preview_dict(self.preview))


def _prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Iterate ``items`` on a background thread, ``depth`` ahead: parsing the next row group
    overlaps with profiling and writing this one (pyarrow releases the GIL in all three)."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.2)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            queue.put(exc)

    thread = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                queue.get(timeout=0.2)
            except Empty:
                pass
        thread.join()


def _row_groups(batches: Iterable[pa.RecordBatch], schema: pa.Schema,
                cast: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``ROW_GROUP_ROWS`` rows (the last one shorter):
    each is profiled as one block and written as one row group."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        batch = cast(batch) if cast is not None else pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        pending.append(batch)
        rows += batch.num_rows
        while rows >= ROW_GROUP_ROWS:
            table = pa.Table.from_batches(pending, schema)
            rest = table.slice(ROW_GROUP_ROWS)
            pending, rows = rest.to_batches(), rest.num_rows
            yield table.slice(0, ROW_GROUP_ROWS)
    if rows:
        yield pa.Table.from_batches(pending, schema)


def _statistics_columns(schema: pa.Schema) -> list[str]:
    """Columns whose row-group min/max the copy stores: not text (no reader filters on it, and it
    is a fifth of the writing time)."""
    return [f.name for f in schema if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                                           or pa.types.is_binary(f.type) or pa.types.is_nested(f.type))]


class _RowGroupWriter:
    """Writes each table it is given as one row group of a Parquet file, on a background thread (so
    writing one row group overlaps with profiling it and with reading the next)."""

    def __init__(self, path: Path | None, schema: pa.Schema):
        self.writer = (pq.ParquetWriter(path, schema, compression="snappy", write_statistics=_statistics_columns(schema))
                       if path is not None else None)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer") if self.writer else None
        self.pending: Future | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None or not table.num_rows:
            return
        self._wait()
        self.pending = self.pool.submit(self.writer.write_table, table, row_group_size=table.num_rows)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        if self.writer is not None:
            self._wait()
            self.writer.close()
            self.pool.shutdown()

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self._wait()
            except Exception:  # noqa: BLE001 - already failing; the partial file is removed by the caller
                pass
            self.pool.shutdown()
            self.writer.close()


# ---------------------------------------------------------------------------------------------
# CSV


class _CountingReader(io.RawIOBase):
    """A wrapper of the decompressing stream of a gzip upload: counts the text read and stops past the
    decompressed-size limit, and keeps the last bytes (a plain CSV is read natively, without it)."""

    def __init__(self, raw, limit: int | None, on_read: Callable[[], None] | None = None):
        self.raw = raw
        self.limit = limit
        self.read_bytes = 0
        self.over_limit = False
        self.on_read = on_read
        self.tail = b""

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.read_bytes

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.read_bytes += len(data)
        if data:
            self.tail = (self.tail + data[-256:])[-256:]
        if self.limit is not None and self.read_bytes > self.limit:
            self.over_limit = True
            raise OSError("decompressed size limit exceeded")
        if self.on_read is not None:
            self.on_read()
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_text(path: Path, file_format: str):
    """(the text stream, the file underneath it: its position is the progress)."""
    raw = pa.OSFile(str(path), "rb")
    return (pa.CompressedInputStream(raw, "gzip") if file_format == "csv.gz" else raw), raw


def _header(path: Path, file_format: str, delimiter: str | None) -> tuple[str, list[str], list[str], bool]:
    """(delimiter, column names, names as written, whether the sample holds a quoted value with a line break)."""
    raw = _read_head(path, file_format, SNIFF_BYTES)
    if len(raw) == SNIFF_BYTES and b"\n" not in raw:
        raise DatasetError(
            f"The first line is longer than {SNIFF_BYTES // 1024} KiB: the file has no line breaks, or it is not a "
            "CSV table. A CSV has a header line naming the columns, then one row per line.")
    if len(raw) == SNIFF_BYTES:
        raw = raw[: raw.rfind(b"\n") + 1]
    try:
        sample = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(_utf8_message(exc)) from None
    if not sample.strip():
        raise DatasetError("The file is empty: it has no header row and no data.")
    delim = sniff_delimiter(sample, delimiter)
    rows = csv.reader(io.StringIO(sample), delimiter=delim)
    try:
        header = next(rows)
    except csv.Error as exc:
        raise DatasetError(f"The CSV header could not be parsed: {exc}.") from None
    try:
        body = list(rows)
    except csv.Error:  # the sample may end inside a quoted value; the real read decides
        body = []
    broken = [h for h in header if "\n" in h or "\r" in h]
    if broken:
        raise DatasetError(f"Column name {broken[0]!r} contains a line break. Rename the column so its name is on "
                           "one line.")
    names = [h.strip() for h in header]
    check_header(names)
    if len(names) == 1:
        raise DatasetError(
            "The file has a single column. A CTR table needs at least a label and one feature; "
            "if your file uses another delimiter, choose it explicitly.")
    quoted_newlines = any("\n" in v or "\r" in v for row in body for v in row)
    return delim, names, header, quoted_newlines


def _read_head(path: Path, file_format: str, n: int) -> bytes:
    try:
        if file_format == "csv.gz":
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"The gzip file could not be decompressed ({exc}). Upload a valid .csv.gz, a plain CSV "
                           "or Parquet.") from None


def _options(delim: str, quoted_newlines: bool, column_types: dict[str, pa.DataType] | None, handler=None):
    read = pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True)
    parse = pacsv.ParseOptions(delimiter=delim, newlines_in_values=quoted_newlines, invalid_row_handler=handler)
    convert = pacsv.ConvertOptions(column_types=column_types, null_values=NULL_VALUES, strings_can_be_null=True,
                                   quoted_strings_can_be_null=True, timestamp_parsers=[])
    return read, parse, convert


def _sample_types(path: Path, file_format: str, delim: str, quoted_newlines: bool) -> dict[str, pa.DataType] | None:
    """Column types pyarrow infers from the start of the file; dates and times stay text."""
    raw = _read_head(path, file_format, TYPE_SAMPLE_BYTES)
    if len(raw) == TYPE_SAMPLE_BYTES:
        raw = raw[: raw.rfind(b"\n") + 1]
    read, parse, convert = _options(delim, quoted_newlines, None, handler=lambda row: "skip")
    try:
        schema = pacsv.read_csv(io.BytesIO(raw), read_options=read, parse_options=parse, convert_options=convert).schema
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return {f.name: _csv_type(f.type) for f in schema}


def _csv_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_temporal(t) or pa.types.is_binary(t) or pa.types.is_large_string(t):
        return pa.string()
    return t


_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+): invalid value '(.*)'",
                         re.DOTALL)
_INT = re.compile(r"\s*[-+]?\d+\s*")


def _promote(old: pa.DataType, value: str) -> pa.DataType:
    """The narrowest type wider than ``old`` that can hold ``value``."""
    if pa.types.is_null(old) or pa.types.is_boolean(old):
        if _INT.fullmatch(value):
            return pa.int64()
        try:
            float(value)
            return pa.float64()
        except ValueError:
            return pa.string()
    if pa.types.is_integer(old):
        try:
            float(value)
            return pa.float64()
        except ValueError:
            return pa.string()
    return pa.string()


def _ingest_csv(path: Path, file_format: str, tmp: Path | None, delimiter: str | None,
                max_decompressed_bytes: int | None, progress: Progress | None) -> TableProfile:
    delim, names, raw_names, quoted_newlines = _header(path, file_format, delimiter)
    types = _sample_types(path, file_format, delim, quoted_newlines)
    limit = max_decompressed_bytes if file_format == "csv.gz" else None
    for _ in range(MAX_RESTARTS):
        try:
            return _read_csv_once(path, file_format, tmp, delim, names, raw_names, quoted_newlines, types, limit,
                                  progress)
        except _TypeDrift as drift:
            types = drift.types
        except DatasetError as exc:
            if quoted_newlines or not getattr(exc, "ragged", False):
                raise
            quoted_newlines = True  # a quoted value with a line break past the sample: read again allowing them
    raise DatasetError("The column types keep changing through the file; upload it as Parquet with explicit types.")


class _TypeDrift(Exception):
    def __init__(self, types: dict[str, pa.DataType]):
        self.types = types


def _read_csv_once(path: Path, file_format: str, tmp: Path | None, delim: str, names: list[str], raw_names: list[str],
                   quoted_newlines: bool, types: dict[str, pa.DataType] | None, limit: int | None,
                   progress: Progress | None) -> TableProfile:
    size = path.stat().st_size
    source, raw = _open_text(path, file_format)
    invalid: list[Any] = []

    def on_invalid(row) -> str:
        invalid.append(row)
        return "error"

    # A plain file is handed to pyarrow as is (its reads need no GIL); a gzip stream goes through
    # the counter, which applies the decompressed-size limit.
    counter = _CountingReader(source, limit) if file_format == "csv.gz" else None
    read, parse, convert = _options(delim, quoted_newlines, types, handler=on_invalid)
    profiler = Profiler(names)
    writer: _RowGroupWriter | None = None
    reader = None
    try:
        try:
            reader = pacsv.open_csv(counter or source, read_options=read, parse_options=parse, convert_options=convert)
            if len(reader.schema) != len(names):
                raise DatasetError(f"The header could not be read consistently: {len(names)} columns by one reading, "
                                   f"{len(reader.schema)} by another. Check the quotes in the header line.")
            schema = pa.schema([pa.field(n, f.type) for n, f in zip(names, reader.schema)])
            writer = _RowGroupWriter(tmp, schema)
            for table in _prefetch(_row_groups(reader, schema)):
                writer.write(table)  # written on the writer thread while this thread profiles it
                profiler.update(table)
                if progress is not None:
                    progress(min(raw.tell() / size, 0.99) if size else 0.99)
            writer.close()
        except (pa.ArrowException, OSError) as exc:
            if writer is not None:
                writer.abort()
            raise _csv_error(exc, path, file_format, raw_names, invalid, counter, limit, types) from None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    finally:
        source.close()
        raw.close()
    _check_unterminated_quote(profiler, counter.tail if counter is not None else _file_tail(path))
    return profiler.finish(file_format, delim)


def _file_tail(path: Path, n: int = 256) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - n, 0))
        return fh.read(n)


def _csv_error(exc: Exception, path: Path, file_format: str, raw_names: list[str], invalid: list, counter, limit,
               types) -> Exception:
    text = str(exc)
    if counter is not None and counter.over_limit:
        error = DatasetError(
            f"The gzip file expands to more than {limit / 1024 / 1024:,.0f} MB of text (DATASET_MAX_DECOMPRESSED_MB). "
            "Upload a smaller file, or ask an administrator to raise the limit.")
        error.decompressed_limit = limit
        return error
    if invalid:
        row = invalid[0]
        line = _find_line(path, file_format, row.text)
        where = f"line {line}" if line else f"the row {row.text[:60]!r}"
        if row.actual_columns < row.expected_columns:
            hint = "Check for a missing value or delimiter on that line (an empty value still needs its delimiter)."
        else:
            hint = "Check for an unquoted delimiter inside a value or an extra column on that line."
        error = DatasetError(
            f"Ragged rows: {where} has {row.actual_columns} fields but the header has {row.expected_columns}. {hint}")
        error.ragged = True
        return error
    drift = _CONVERSION.search(text)
    if drift and int(drift.group(1)) < len(raw_names):
        index, old, value = drift.groups()
        current = dict(types or {})
        column = raw_names[int(index)]
        current[column] = _promote(current.get(column, getattr(pa, old, pa.string)()), value)
        return _TypeDrift(current)
    if "straddling object" in text or "straddles" in text:
        return DatasetError(
            f"A line is longer than {BLOCK_BYTES // 1024 // 1024} MB: the file has no line breaks there, or a value is "
            "far too long (or a quote is never closed). A CSV has one row per line.")
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
        return DatasetError("The file is not UTF-8 text. Re-save it as UTF-8 (in Excel: 'CSV UTF-8'; in pandas: "
                            "to_csv(..., encoding='utf-8')).")
    if isinstance(exc, OSError) or "gzip" in text.lower() or "zlib" in text.lower():
        return DatasetError(f"The file could not be read to the end ({text}). Was the upload cut short?")
    return DatasetError(f"The CSV could not be parsed: {text}")


def _find_line(path: Path, file_format: str, text: str) -> int | None:
    """The line number (1-based) of the first line holding exactly ``text`` (only on the error path)."""
    target = text.encode("utf-8")
    opener = gzip.open if file_format == "csv.gz" else open
    try:
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if line.rstrip(b"\r\n") == target or (number == 1 and line.rstrip(b"\r\n").lstrip(b"\xef\xbb\xbf") == target):
                    return number
    except (OSError, EOFError):
        return None
    return None


def _check_unterminated_quote(profiler: Profiler, tail: bytes) -> None:
    """pyarrow reads a quote left open to the end of the file as one long value; refuse that.
    ``tail`` is the end of the file's text."""
    tail = tail.rstrip(b"\r\n")
    if not tail or tail.endswith(b'"'):
        return
    for name, value in profiler.last_text.items():
        end = value.rstrip("\r\n").encode("utf-8")[-64:]
        if ("\n" in value or "\r" in value) and end and tail.endswith(end):
            raise DatasetError(
                f"Column `{name}` has a quote that is never closed: from that value on, the rest of the file reads "
                "as one value. Close the quote (or double a quote inside a value: \"\").")


# ---------------------------------------------------------------------------------------------
# Parquet


def _parquet_target_type(name: str, t: pa.DataType) -> pa.DataType:
    """The type the copy stores a Parquet column as; raise DatasetError for types we cannot use."""
    if pa.types.is_dictionary(t):
        return _parquet_target_type(name, t.value_type)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_decimal(t):
        return pa.float64()
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_union(t):
        raise DatasetError(f"Column `{name}` holds nested records ({t}); flatten it into plain columns (or a list of "
                           "ids for a sequence) before uploading.")
    return t


def _ingest_parquet(path: Path, tmp: Path | None, progress: Progress | None) -> TableProfile:
    try:
        pf = pq.ParquetFile(path)
        names = parquet_columns(pf)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatasetError(f"The Parquet file could not be read: {exc}") from None
    broken = [n for n in names if "\n" in n or "\r" in n]
    if broken:
        raise DatasetError(f"Column name {broken[0]!r} contains a line break. Rename the column so its name is on one line.")
    check_header([str(n).strip() for n in names])
    source = pf.schema_arrow
    target = pa.schema([pa.field(n.strip(), _parquet_target_type(n, source.field(n).type)) for n in names])
    groups = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
    retype = any(source.field(n).type != target.field(i).type or n != target.field(i).name for i, n in enumerate(names))
    write = tmp if retype or max(groups, default=0) > ROW_GROUP_MAX_ROWS else None
    profiler = Profiler([f.name for f in target])
    writer = _RowGroupWriter(write, target)
    total = max(pf.metadata.num_rows, 1)
    batches = pf.iter_batches(batch_size=ROW_GROUP_ROWS, columns=names, use_pandas_metadata=False)
    try:
        for table in _prefetch(_row_groups(batches, target, cast=lambda batch: _cast_batch(batch, target))):
            writer.write(table)
            profiler.update(table)
            if progress is not None:
                progress(min(profiler.n_rows / total, 0.99))
        writer.close()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, DatasetError) as exc:
        writer.abort()
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"The Parquet file could not be read: {exc}") from None
    profile = profiler.finish("parquet", None)
    profile.copied = write is not None
    return profile


def _cast_batch(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for column, field in zip(batch.columns, target):
        if column.type != field.type:
            if pa.types.is_dictionary(column.type):
                column = column.dictionary_decode()
            try:
                column = pc.cast(column, field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                if pa.types.is_string(field.type):
                    raise DatasetError(f"Column `{field.name}` holds binary data (bytes) that is not UTF-8 text. "
                                       "Drop the column, or store it as text (e.g. hex or base64).") from None
                raise DatasetError(f"Column `{field.name}` of type {column.type} cannot be read as {field.type}.") from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=target)
