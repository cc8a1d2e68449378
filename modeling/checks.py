"""What a CTR job can be refused for before it exists: layer-width lists that do not parse, fractions
that leave no training rows, a split method the dataset's columns cannot serve.

The pipelines call :func:`effective_split_method` too, so the split that runs, the one recorded
in the job's summary and the one checked here are the same rule. No Django import here.
"""
from __future__ import annotations

from typing import Any, Mapping

from mlcore.api import ParamError

UNIT_LIST_PARAMS = ("hidden_units", "attention_units", "expert_units", "gate_units")


def parse_units(text: Any, name: str) -> list[int]:
    """"400,400,400" → [400, 400, 400]; raises ParamError (on ``name``) for anything but widths 1..8192."""
    try:
        units = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    except ValueError:
        units = []
    if not units or any(u <= 0 or u > 8192 for u in units):
        raise ParamError({name: f"expected comma-separated layer widths between 1 and 8192, e.g. 400,400,400; got {text!r}"})
    return units


def effective_split_method(params: Mapping[str, Any], roles: Mapping[str, str], *, column_always_wins: bool = False) -> str:
    """The split a job really uses: a column with role ``split`` replaces the default random split
    (and, for models built on time-held-out sequence tables, any method: ``column_always_wins``)."""
    method = params["split_method"]
    if "split" in roles.values() and (method == "random" or column_always_wins):
        return "column"
    return method


def check_ctr_request(params: dict[str, Any], roles: Mapping[str, str], *, column_always_wins: bool = False) -> None:
    """Raise ParamError listing every CTR setting the dataset cannot run with."""
    errors: dict[str, str] = {}
    for name in UNIT_LIST_PARAMS:
        if name in params:
            try:
                parse_units(params[name], name)
            except ParamError as exc:
                errors.update(exc.errors)
    if {"valid_frac", "test_frac"} <= params.keys() and params["valid_frac"] + params["test_frac"] >= 0.9:
        errors["test_frac"] = "valid_frac + test_frac must leave at least 10% of rows for training"
    if "split_method" in params:
        method = effective_split_method(params, roles, column_always_wins=column_always_wins)
        if method == "time" and "timestamp" not in roles.values():
            errors["split_method"] = ("`time` needs a column with the role timestamp and this dataset has none: "
                                      "choose random, or give a column the timestamp role on the dataset page.")
        if method == "column" and "split" not in roles.values():
            errors["split_method"] = ("`column` needs a column with the role split (train/valid/test) and this dataset "
                                      "has none: choose random, or give a column the split role on the dataset page.")
    query = params.get("query_field")
    if query and roles.get(query) != "categorical":
        errors["query_field"] = (f"the dataset has no column `{query}`: name a categorical column holding the search "
                                 f"query, or leave it empty" if query not in roles else
                                 f"column `{query}` has the role {roles[query]}; the query field must be a categorical "
                                 f"column: give it that role on the dataset page, or leave query_field empty")
    if params.get("temporal_encoding") == "time" and "timestamp" not in roles.values():
        errors["temporal_encoding"] = "`time` encodes the gap to the target's timestamp: the dataset has no timestamp column."
    if errors:
        raise ParamError(errors)


def check_sequence_table_request(params: dict[str, Any], roles: Mapping[str, str]) -> None:
    """SUAN-family models: a split column (from the sequence builder) always wins over the chosen method."""
    check_ctr_request(params, roles, column_always_wins=True)
