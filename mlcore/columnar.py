"""The columnar data reader: a dataset's typed Parquet copy, read a few columns at a time.

Every dataset has one columnar copy (a Parquet file with row groups of bounded size) written once
at ingest; jobs, previews, exports and derived datasets read it through :class:`ColumnarTable`,
asking only for the columns they need. ``iter_frames`` streams record batches, so memory is bounded
by the batch size whatever the table's length; ``read`` loads whole columns for code that needs
them in memory and is known to be small enough (or to accept the cost).

No Django here: the ``datasets`` app owns where the file lives and hands its path over.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 262_144


def data_columns(pf: pq.ParquetFile) -> list[str]:
    """The data columns of a Parquet file, without the index pandas may have stored beside them."""
    meta = pf.schema_arrow.pandas_metadata or {}
    index_columns = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    return [n for n in pf.schema_arrow.names if n not in index_columns]


class ColumnarTable:
    """Read-only access to one Parquet file (or a folder of Parquet parts read as one table).

    ``columns`` and ``n_rows`` come from the footer without reading data.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # pre_buffer=False: with pre-buffering, iter_batches keeps every row group it has read
        # cached until the file is closed (RSS grew by the file's size: 0.9 GiB for 5M rows)
        self._file = pq.ParquetFile(self.path, pre_buffer=False) if self.path.is_file() else None
        if self._file is None:
            self._dataset = pq.ParquetDataset(self.path)
            self._columns = [n for n in self._dataset.schema.names if not n.startswith("__index_level_")]
            self._n_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in self._dataset.files)
        else:
            self._columns = data_columns(self._file)
            self._n_rows = self._file.metadata.num_rows

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def n_rows(self) -> int:
        return int(self._n_rows)

    @property
    def schema(self) -> pa.Schema:
        return self._file.schema_arrow if self._file is not None else self._dataset.schema

    def _check(self, columns: Sequence[str] | None) -> list[str]:
        if columns is None:
            return self.columns
        missing = [c for c in columns if c not in self._columns]
        if missing:
            raise KeyError(f"column(s) {', '.join(map(repr, missing))} not in the table; it has {', '.join(self._columns)}")
        return list(columns)

    def iter_batches(self, columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Arrow record batches of at most ``batch_rows`` rows, in file order."""
        names = self._check(columns)
        files = [self._file] if self._file is not None else [pq.ParquetFile(f, pre_buffer=False) for f in sorted(self._dataset.files)]
        for pf in files:
            yield from pf.iter_batches(batch_size=batch_rows, columns=names, use_pandas_metadata=False)

    def iter_frames(self, columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
        """The table as pandas frames of at most ``batch_rows`` rows, in file order (index 0..k-1 per frame)."""
        for batch in self.iter_batches(columns, batch_rows):
            yield batch.to_pandas()

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Whole columns in memory (only ``columns`` when given)."""
        names = self._check(columns)
        table = pq.read_table(self.path, columns=names)
        return table.to_pandas(ignore_metadata=True)
