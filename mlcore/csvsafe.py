"""CSV cells that a spreadsheet cannot run as formulas (the OWASP "CSV injection" rule).

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return as a formula, so a product title such as ``=HYPERLINK("http://evil", "x")``
in an exported file runs on the analyst's machine. Every CSV the app writes goes through
:func:`safe_cell` / :func:`safe_frame`, which prefix such text cells with a single quote (and
double the quotes the CSV writer adds anyway).

Decision: **text** cells are escaped whatever follows the trigger character (so the text
``-5`` typed into a title column becomes ``'-5``: it is text, and OWASP says escape it); **numbers**
(Python ints/floats, numeric DataFrame columns) are written as numbers, so a negative uplift stays
``-0.0123`` and a spreadsheet still sums it. Parquet exports keep the original value: Parquet is
typed, nothing evaluates it. No Django import here.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text starting with a formula trigger; then ``'`` + value."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values) -> list[Any]:
    """:func:`safe_cell` applied to every cell of a row."""
    return [safe_cell(v) for v in values]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its text (object / string) columns escaped; numeric columns untouched."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out
