"""Parse values from query strings and paths without letting a hostile value become a server error.

``"²".isdigit()`` is true yet ``int("²")`` raises, ``"1e999"`` parses to infinity and a 30-digit id
overflows SQLite: views call these helpers and answer a clear 400 (or ignore the filter) instead.
No Django import here.
"""
from __future__ import annotations

import math

MAX_ID = 2**63 - 1  # the largest primary key any supported database stores


def parse_int(value, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """``value`` as an int in [minimum, maximum], else ``default`` (ASCII digits only, no sign)."""
    text = str(value if value is not None else "").strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return default
    number = int(text)
    return number if minimum <= number <= maximum else default


def parse_ids(values) -> list[int]:
    """The valid ids among ``values`` (e.g. ``request.GET.getlist("ids")``), order kept, duplicates dropped."""
    out: list[int] = []
    for value in values:
        number = parse_int(value, minimum=1)
        if number is not None and number not in out:
            out.append(number)
    return out


def parse_float(value, default: float | None = None, *, minimum: float = -math.inf,
                maximum: float = math.inf) -> float | None:
    """``value`` as a finite float in [minimum, maximum], else ``default``."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return default
    if not math.isfinite(number) or not minimum <= number <= maximum:
        return default
    return number
