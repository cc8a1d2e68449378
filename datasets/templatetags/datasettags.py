"""Template helpers for the dataset pages."""
from django import template

register = template.Library()


@register.filter
def preview_rows(preview) -> list[list]:
    """The stored first rows with whole-number columns shown as integers.

    Pandas reads an integer column with a missing value as float, so the stored preview may hold
    ``1.0``; a column whose every value is a whole number is an integer column and reads ``1``.
    """
    rows = [list(r) for r in (preview or {}).get("rows", [])]
    if not rows:
        return []
    for i in range(len(rows[0])):
        cells = [r[i] for r in rows if i < len(r) and r[i] is not None]
        if cells and all(isinstance(v, float) and v.is_integer() for v in cells):
            for r in rows:
                if i < len(r) and r[i] is not None:
                    r[i] = int(r[i])
    return rows


@register.filter
def value_text(value, dtype) -> str:
    """A most-frequent value of an integer column without its float tail: "1.0" → "1"."""
    text = str(value)
    if dtype == "int" and text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        return text[:-2]
    return text
