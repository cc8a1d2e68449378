"""The value browser's rows, formatted once per request in Python.

A page shows 50 values, each with its product line, a confidence, a highlighted evidence snippet
and a status; through the template engine (``ifchanged``, ``with``, two ``truncatechars``, a
``slice``, a ``floatformat`` and a choice label per row) that was most of the page's server time.
Each cell here is formatted by the same functions the template filters use, so the page reads
exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from django.template.defaultfilters import floatformat, truncatechars

from .models import ExtractedValue

TITLE_CHARS = 140
EVIDENCE_CONTEXT = 60  # characters shown on each side of the highlighted evidence


@dataclass
class ValueRow:
    """One extracted value as the browser shows it; ``first_of_product`` opens a product line (``title``)."""

    pk: int
    first_of_product: bool
    product_id: str
    title: str
    category: str
    attribute: str
    value: str
    is_new_value: bool
    held_out: bool
    correct: bool | None
    confidence: str
    stated: bool  # the value is written in the text: the evidence cells below are filled
    evidence_field: str
    evidence_before: str
    evidence_match: str
    evidence_after: str
    status: str


def value_rows(values: Iterable[ExtractedValue]) -> list[ValueRow]:
    rows, previous = [], object()
    for v in values:
        first = v.product_id != previous  # the product line (title, category) shows once per product
        parts = v.evidence_parts
        before, match, after = parts or ("", "", "")
        rows.append(ValueRow(
            pk=v.pk, first_of_product=first, product_id=v.product_id,
            title=truncatechars(v.title, TITLE_CHARS) if first else "", category=v.category or "no category",
            attribute=v.attribute, value=v.value, is_new_value=v.is_new_value, held_out=v.split == "test",
            correct=v.correct, confidence=floatformat(v.confidence, 3), stated=bool(parts),
            evidence_field=v.evidence_field, evidence_before=before[-EVIDENCE_CONTEXT:], evidence_match=match,
            evidence_after=truncatechars(after, EVIDENCE_CONTEXT) if parts else "", status=v.get_status_display(),
        ))
        previous = v.product_id
    return rows
