"""The uplift dataset kind: a treatment column, a click (or visit) and a conversion outcome, features.

Checks run on the upload profile (value counts of columns with few distinct values), so they catch
what can be seen per column; rules that need rows together (a conversion implies a click,
randomisation) run when a job starts, in :func:`uplift.data.validate_uplift_frame`.
"""
from __future__ import annotations

from datasets.kinds import Columns, DatasetKind
from datasets.profiling import is_binary
from mlcore.api import DataError

from .data import TRUE_EFFECT_PREFIXES, choose_control

ROLES = ("categorical", "numeric", "treatment", "click", "visit", "conversion", "exposure", "revenue", "user_id", "ignore")
NAMES = {
    "treatment": {"treatment", "treatment_flg", "treatment_group", "treatment_group_key", "treat", "is_treat",
                  "is_treated", "arm", "variant", "group", "w"},
    "click": {"click", "clicked", "is_click", "clk", "label"},
    "visit": {"visit", "visited", "is_visit"},
    "conversion": {"conversion", "converted", "is_conversion", "conv", "purchase", "purchased", "order"},
    "exposure": {"exposure", "exposed", "is_exposed"},
    "revenue": {"revenue", "spend", "gmv", "sales", "amount", "order_value"},
}
OUTCOME_ROLES = ("click", "visit", "conversion", "exposure")


def _looks_like_arms(column: dict) -> bool:
    """A few distinct values, one of which reads as control ("0", "No E-Mail", "control")."""
    values = column.get("values")
    if not values or not 2 <= len(values) <= 20:
        return False
    try:
        choose_control(list(values))
    except DataError:
        return False
    return True


def infer_uplift_roles(columns: Columns) -> None:
    """Refine generic guesses: name the treatment and outcome columns, ignore known true-effect columns."""
    taken: set[str] = set()
    for column in columns:
        name = column["name"].strip().lower()
        if name.startswith(tuple(TRUE_EFFECT_PREFIXES.values())):
            column["role"] = "ignore"
            continue
        for role, names in NAMES.items():
            if name in names and role not in taken and (role in ("treatment", "revenue") or is_binary(column)):
                column["role"] = role
                taken.add(role)
                break
        else:
            if column["role"] == "label":
                column["role"] = "click" if "click" not in taken else "categorical"
                taken.add("click")
    if "treatment" not in taken:
        # e.g. Hillstrom's `segment` (Mens E-Mail / Womens E-Mail / No E-Mail)
        for column in columns:
            if column["role"] in ("categorical", "numeric") and _looks_like_arms(column) and not is_binary(column):
                column["role"] = "treatment"
                break
    if "click" in taken and any(c["role"] == "visit" for c in columns):
        for column in columns:
            if column["role"] == "visit":
                column["role"] = "categorical"


def unconfirmed_uplift_roles(columns: Columns) -> list[tuple[str, str]]:
    """Treatment and outcome roles that were guessed from values or a generic name, not the column's own name."""
    out = []
    for column in columns:
        role, name = column["role"], column["name"].strip().lower()
        if role in NAMES and role != "revenue" and name not in NAMES[role]:
            out.append((column["name"], f"`{column['name']}` was guessed as the {role} column from its "
                                        f"{'values' if role == 'treatment' else 'name'}; confirm it (or choose "
                                        "another) on the roles form before training."))
    return out


def _lookalike(columns: Columns, roles: tuple[str, ...]) -> dict | None:
    """A column named like ``roles`` that did not get the role (e.g. a `visit` column holding 0..4)."""
    for column in columns:
        name = column["name"].strip().lower()
        if column["role"] not in roles and any(name in NAMES[r] for r in roles):
            return column
    return None


def check_uplift(columns: Columns, n_rows: int) -> tuple[list[str], list[str]]:
    """Errors that block training on an uplift table, and warnings worth reading."""
    errors: list[str] = []
    warnings: list[str] = []

    def with_role(*roles: str) -> list[dict]:
        return [c for c in columns if c["role"] in roles]

    for roles, what in ((("treatment",), "treatment"), (("click", "visit"), "click (or visit)"),
                        (("conversion",), "conversion")):
        found = with_role(*roles)
        lookalike = _lookalike(columns, roles) if not found and roles != ("treatment",) else None
        if lookalike is not None:
            shown = ", ".join(sorted(lookalike.get("values") or {})[:10]) or "more than 20 distinct values"
            errors.append(f"Column `{lookalike['name']}` looks like the {what} outcome but has values {{{shown}}}; "
                          f"an uplift outcome must be binary (0/1). Recode it, or set another column's role.")
        elif not found:
            errors.append(f"No {what} column: an uplift dataset needs one; set its role to {' or '.join(roles)}.")
        elif len(found) > 1:
            names = ", ".join("`%s`" % c["name"] for c in found)
            errors.append(f"Only one {what} column is allowed; found {names}.")
    for column in with_role(*OUTCOME_ROLES):
        if column["missing"]:
            errors.append(f"Column `{column['name']}` has {column['missing']:,} missing values; every row needs 0 or 1.")
        elif not is_binary(column):
            shown = ", ".join(sorted(column.get("values") or {})[:10]) or "more than 20 distinct values"
            errors.append(f"Column `{column['name']}` has values {{{shown}}}; a {column['role']} outcome must be binary (0/1).")
    for column in with_role("treatment")[:1]:
        values = column.get("values")
        if column["missing"]:
            errors.append(f"Treatment column `{column['name']}` has {column['missing']:,} missing values; every row "
                          "needs an arm.")
        if values is None:
            errors.append(f"Treatment column `{column['name']}` has more than 20 distinct values; it should name a "
                          "few arms (control and treatments).")
        elif len(values) < 2:
            errors.append(f"Treatment column `{column['name']}` holds one value only; uplift needs a control arm and "
                          "at least one treated arm.")
        else:
            try:
                choose_control(list(values))
            except DataError:
                warnings.append(f"Cannot tell which value of `{column['name']}` is the control arm; set the `control` "
                                "hyperparameter when training.")
            total = sum(values.values())
            for arm, count in values.items():
                if count < 0.05 * total:
                    warnings.append(f"Arm {arm!r} has only {count / total:.1%} of rows; its uplift estimates will be noisy.")
    if not with_role("categorical", "numeric"):
        errors.append("No feature columns: give at least one column the role categorical or numeric.")
    for column in with_role("numeric"):
        if column["dtype"] not in {"int", "float", "bool"}:
            errors.append(f"Column `{column['name']}` holds text, so it cannot be numeric; make it categorical or ignore it.")
    for column in with_role("revenue"):
        if column["dtype"] not in {"int", "float"}:
            errors.append(f"Revenue column `{column['name']}` must hold numbers.")
    return errors, warnings


UPLIFT_KIND = DatasetKind(
    key="uplift",
    label="Uplift (treatment effect)",
    roles=ROLES,
    check=check_uplift,
    infer_roles=infer_uplift_roles,
    unconfirmed_roles=unconfirmed_uplift_roles,
    help="One row per user or impression from a randomised campaign: the arm it got (treatment), a binary "
         "click or visit, a binary conversion, and features. Optional: exposure, revenue.",
)
