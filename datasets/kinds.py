"""Dataset kinds (CTR, uplift, attributes) and the validation rules each one adds.

The ``datasets`` app knows how to read and profile a table; the ``modeling``, ``uplift`` and
``attributes`` apps each register the kind they train on, with the roles their columns may take
and a check that runs after profiling. No Django import here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

Columns = list[dict[str, Any]]


@dataclass(frozen=True)
class DatasetKind:
    """A kind of work a dataset is uploaded for.

    ``check(columns, n_rows)`` returns ``(errors, warnings)``: errors block the upload (or
    training), warnings are shown on the dataset page. ``infer_roles(columns)`` may refine the
    generic role guesses in place (e.g. uplift recognises a treatment column).
    ``unconfirmed_roles(columns)`` lists ``(column, message)`` for guesses that change what the data
    means (a treatment guessed from a column's values, not its name): a dataset with such a guess
    that the analyst did not give is *needs roles* until they confirm it.
    """

    key: str
    label: str
    roles: tuple[str, ...]
    check: Callable[[Columns, int], tuple[list[str], list[str]]]
    infer_roles: Callable[[Columns], None] = lambda columns: None
    unconfirmed_roles: Callable[[Columns], list[tuple[str, str]]] = lambda columns: []
    help: str = ""
    upload_options: dict[str, str] = field(default_factory=dict)


_KINDS: dict[str, DatasetKind] = {}


def register_kind(kind: DatasetKind) -> None:
    """Make ``kind`` available for uploads; called from an app's ``ready()``."""
    _KINDS[kind.key] = kind


def get_kind(key: str) -> DatasetKind:
    try:
        return _KINDS[key]
    except KeyError:
        known = ", ".join(sorted(_KINDS)) or "none"
        raise ValueError(f"Unknown dataset kind {key!r}; known kinds: {known}.") from None


def all_kinds() -> list[DatasetKind]:
    return [_KINDS[k] for k in sorted(_KINDS)]


def kind_choices() -> list[tuple[str, str]]:
    return [(k.key, k.label) for k in all_kinds()]
