"""The dataset page's schema table and preview, formatted in Python once per request.

A 40-column dataset's page shows a role ``<select>`` per column, five formatted statistics and up
to five value chips per column, and a 20 × 40 preview. Rendered cell by cell in the template (a
form widget template per select, a filter call per number, a loop node per preview cell) that was
most of the page's server time; here each cell is formatted by the same functions the template
filters use (``floatformat``, ``localize``), so the page reads exactly as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from html import escape  # what django.utils.html.escape does, without its lazy-string wrapper
from typing import Any, Iterable, Sequence

from django import forms
from django.template.defaultfilters import floatformat
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

from .templatetags.datasettags import preview_rows, value_text

RANGE_ROLES = {"numeric", "label", "timestamp"}  # columns whose min / mean / max are shown
CHIPS = 5  # most frequent values shown per column


@dataclass
class SchemaRow:
    """One column of the schema table, every cell already formatted."""

    name: str
    dtype: str
    sequence_sep: str
    role_select: SafeString
    missing: str
    distinct: str
    shows_range: bool
    min: str = ""
    mean: str = ""
    max: str = ""
    chips: list[str] = field(default_factory=list)


def role_select(name: str, roles: Sequence[str], selected: Any, invalid: bool = False) -> SafeString:
    """The role ``<select>`` as Django's ``Select`` widget renders it for ``RolesForm``'s field."""
    invalid_attr = ' aria-invalid="true"' if invalid else ""
    return mark_safe(f'<select name="{escape(name)}" id="id_{escape(name)}"{invalid_attr}>'
                     f'{_options(tuple(roles), str(selected))}\n</select>')


@lru_cache(maxsize=256)
def _options(roles: tuple[str, ...], selected: str) -> str:
    return "".join(f'\n  <option value="{escape(r)}"{" selected" if str(r) == selected else ""}>{escape(r)}</option>\n'
                   for r in roles)


def _stat(value: Any) -> str:
    return floatformat(value, "-3") if value is not None else ""


def schema_rows(columns: Iterable[dict], roles: Sequence[str], form: forms.Form | None = None) -> list[SchemaRow]:
    """The schema table's rows; a bound ``form`` (a refused POST) keeps the roles the analyst chose."""
    bound = form is not None and form.is_bound
    rows = []
    for c in columns:
        name = f"role__{c['name']}"
        selected = form.data.get(name, c.get("role")) if bound else c.get("role")
        invalid = bound and name in form.errors
        sequence = c.get("sequence") or {}
        row = SchemaRow(
            name=c["name"], dtype=str(c.get("dtype", "")),
            sequence_sep=sequence.get("sep", "") if c.get("role") == "sequence" and isinstance(sequence, dict) else "",
            role_select=role_select(name, roles, selected, invalid),
            missing=floatformat(c.get("missing_pct"), 2), distinct=floatformat(c.get("distinct"), "0g"),
            shows_range=c.get("role") in RANGE_ROLES,
        )
        if c.get("distinct_capped"):
            row.distinct += "+"
        if row.shows_range:
            row.min, row.mean, row.max = _stat(c.get("min")), _stat(c.get("mean")), _stat(c.get("max"))
        values = c.get("values") or {}
        if hasattr(values, "items"):
            row.chips = [f"{value_text(v, c.get('dtype'))}: {floatformat(n, '0g')}"
                         for v, n in list(values.items())[:CHIPS]]
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    """A preview cell as ``{{ v }}`` renders it (localized, escaped), ∅ for a missing value."""
    if value is None:
        return '<td><span class="muted">∅</span></td>'
    return f"<td>{escape(value if isinstance(value, str) else str(localize(value)))}</td>"


def preview_table(preview: dict | None) -> SafeString:
    """The preview's ``<thead>`` and ``<tbody>`` (whole-number columns as integers, ∅ for missing)."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in (preview or {}).get("columns", []))
    body = "".join(f"<tr>{''.join(_cell(v) for v in row)}</tr>" for row in preview_rows(preview))
    return mark_safe(f"<thead><tr>{head}</tr></thead>\n    <tbody>{body}</tbody>")
