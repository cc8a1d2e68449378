"""Predictions as CSV, streamed from the columnar copy so a million-row download never sits in memory."""
from __future__ import annotations

import io
from typing import Iterator

from datasets.models import Dataset
from datasets.services import columnar_table
from mlcore.csvsafe import safe_frame

CSV_CHUNK_ROWS = 100_000


def predictions_csv_chunks(dataset: Dataset) -> Iterator[str]:
    """Header and rows of ``dataset`` as CSV text, one chunk of rows at a time."""
    first = True
    for frame in columnar_table(dataset).iter_frames(batch_rows=CSV_CHUNK_ROWS):
        buffer = io.StringIO()
        safe_frame(frame).to_csv(buffer, index=False, header=first)  # analysts' text: no spreadsheet formulas
        first = False
        yield buffer.getvalue()
    if first:  # an empty table still gets its header
        yield ",".join(columnar_table(dataset).columns) + "\n"
