"""The one small interface between an algorithm and the job system.

An algorithm declares its hyperparameters as :class:`Param` objects, receives a :class:`RunContext`
(the prepared dataset, validated hyperparameters, a work folder for checkpoints and callbacks for
progress, logging and cancellation) and returns a :class:`RunResult`. Nothing here imports Django:
the ``jobs`` app builds the context from database rows and stores the result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd


class ParamError(ValueError):
    """Hyperparameters the analyst must fix; ``errors`` maps a parameter name to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class DataError(ValueError):
    """The dataset cannot be used as asked (a missing role, a column of the wrong type, ...)."""


class Cancelled(Exception):
    """Raised inside training when the analyst cancelled the job; the runner marks it cancelled."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type, default and bounds, shown on the new-job form and the API.

    ``type`` is one of ``int``, ``float``, ``bool``, ``choice`` or ``str``. ``log`` hints that the
    value spans orders of magnitude (a learning rate), which the form uses for its step.
    """

    name: str
    type: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: Sequence[str] = ()
    log: bool = False

    def coerce(self, raw: Any) -> Any:
        """Return ``raw`` converted to this parameter's type, or raise ``ValueError`` saying why."""
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"expected true or false, got {raw!r}")
        if self.type == "choice":
            value = str(raw)
            if value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}; got {value!r}")
            return value
        if self.type == "str":
            return str(raw)
        if self.type == "int":
            if isinstance(raw, bool):
                raise ValueError("expected a whole number")
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"expected a whole number, got {raw!r}") from None
            if not number.is_integer():
                raise ValueError(f"expected a whole number, got {raw!r}")
            value: Any = int(number)
        elif self.type == "float":
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"expected a number, got {raw!r}") from None
            if not math.isfinite(value):
                raise ValueError("must be a finite number")
        else:  # pragma: no cover - a programming error in an algorithm declaration
            raise TypeError(f"unknown parameter type {self.type!r}")
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {self.min:g}; got {value:g}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {self.max:g}; got {value:g}")
        return value


def validate_params(spec: Sequence[Param], raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill defaults, coerce types and check bounds; raise :class:`ParamError` listing every problem.

    Unknown names are errors too, so a typo never silently trains with a default.
    """
    raw = dict(raw or {})
    known = {p.name: p for p in spec}
    errors: dict[str, str] = {}
    for name in raw:
        if name not in known:
            errors[name] = f"unknown hyperparameter; known: {', '.join(sorted(known))}"
    clean: dict[str, Any] = {}
    for p in spec:
        if p.name in raw and raw[p.name] is not None and raw[p.name] != "":
            try:
                clean[p.name] = p.coerce(raw[p.name])
            except ValueError as exc:
                errors[p.name] = str(exc)
        else:
            clean[p.name] = p.default
    if errors:
        raise ParamError(errors)
    return clean


@dataclass
class RunContext:
    """Everything an algorithm needs to run one job.

    ``roles`` maps column name to role (``label``, ``categorical``, ``numeric``, ``sequence``,
    ``timestamp``, ``user_id``, ``item_id``, ``treatment``, ``ignore``, ...) as the analyst confirmed
    them. ``read_table(columns)`` loads the dataset (only the named columns when given).
    ``table`` is the dataset's columnar copy (:class:`mlcore.columnar.ColumnarTable`): stream it
    with ``table.iter_frames(columns)`` when the data may not fit in memory.
    ``workdir`` is private to the job and survives a worker restart: put epoch checkpoints there
    and resume from them. ``progress(fraction, phase)`` and ``log(message)`` are cheap to call
    often (the job system throttles database writes). ``check_cancelled()`` raises
    :class:`Cancelled` when the analyst asked to stop; call it once per batch.
    """

    params: dict[str, Any]
    roles: dict[str, str]
    read_table: Callable[..., pd.DataFrame]
    workdir: Path
    device: str = "cpu"
    progress: Callable[[float, str], None] = lambda fraction, phase: None
    log: Callable[[str], None] = lambda message: None
    check_cancelled: Callable[[], None] = lambda: None
    extra: dict[str, Any] = field(default_factory=dict)
    table: Any = None  # mlcore.columnar.ColumnarTable, or None outside a job (tests that pass a frame)

    def columns_with_role(self, role: str) -> list[str]:
        """Names of the columns the analyst gave ``role``, in dataset order."""
        return [name for name, r in self.roles.items() if r == role]


@dataclass
class RunResult:
    """What a finished run hands back to the job system.

    ``metrics`` holds held-out numbers only (flat name -> float). ``curves`` holds JSON-serialisable
    series for the dashboards, e.g. ``{"roc": {"fpr": [...], "tpr": [...]},
    "history": [{"epoch": 1, "train_loss": ..., "valid_auc": ...}, ...]}``. ``artifact`` is a file in
    the work folder (the trained model) or ``None``. ``summary`` holds small facts for the page
    (parameter count, samples/s, device, split sizes).
    """

    metrics: dict[str, float]
    curves: dict[str, Any] = field(default_factory=dict)
    artifact: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Algorithm:
    """A trainable method as the job system sees it.

    ``kind`` is the dataset kind it works on (``ctr``, ``uplift`` or ``attributes``); ``key`` is
    unique across kinds (``deepfm``, ``ecup``, ``hyperpave``...). ``run`` does the work.
    """

    key: str
    kind: str
    label: str
    description: str
    params: tuple[Param, ...]
    run: Callable[[RunContext], RunResult]
    required_roles: tuple[str, ...] = ()
    # Checks that need the parsed values together or the dataset's column roles (layer-width lists,
    # a time split without a timestamp column...): run before the job exists, raise ParamError.
    precheck: Callable[[dict[str, Any], dict[str, str]], None] | None = None

    def validate(self, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated hyperparameters with defaults filled in (see :func:`validate_params`)."""
        return validate_params(self.params, raw)

    def validate_request(self, raw: Mapping[str, Any] | None, roles: Mapping[str, str]) -> dict[str, Any]:
        """:meth:`validate`, then everything else this algorithm can know before it runs on a dataset
        whose columns have ``roles``; raises :class:`ParamError` naming each field to fix."""
        clean = self.validate(raw)
        if self.precheck is not None:
            self.precheck(clean, dict(roles))
        return clean
