"""The CTR dataset kind: one binary label column and at least one feature."""
from __future__ import annotations

from datasets.kinds import Columns, DatasetKind
from datasets.profiling import BASE_ROLES, LABEL_NAMES, is_binary

from .features import sequence_stem

FEATURE_ROLES = {"categorical", "numeric", "sequence", "user_id", "item_id"}


def check_ctr(columns: Columns, n_rows: int) -> tuple[list[str], list[str]]:
    """Errors that block training on a CTR table, and warnings worth reading."""
    errors: list[str] = []
    warnings: list[str] = []
    labels = [c for c in columns if c["role"] == "label"]
    lookalikes = [c for c in columns
                  if c["name"].strip().lower() in LABEL_NAMES and c["role"] != "label" and not is_binary(c)]
    if not labels and lookalikes:
        c = lookalikes[0]
        shown = ", ".join(sorted(c["values"])[:10]) if c.get("values") else "more than 20 distinct values"
        errors.append(f"Column `{c['name']}` looks like the label but has values {{{shown}}}; a CTR label must be binary (0/1).")
    elif not labels:
        errors.append(
            "No label column: a CTR dataset needs a binary click column. Name it `label` or `click`, "
            "or pick it as the label column when uploading (or set its role to label)."
        )
    elif len(labels) > 1:
        errors.append(f"Only one label column is allowed; found {', '.join('`%s`' % c['name'] for c in labels)}.")
    else:
        label = labels[0]
        values = label.get("values")
        if label["missing"]:
            errors.append(f"Label column `{label['name']}` has {label['missing']:,} missing values; every row needs a 0 or 1.")
        if values is None:
            errors.append(f"Column `{label['name']}` has more than 20 distinct values; a CTR label must be binary (0/1).")
        elif len(values) == 1:
            only = next(iter(values))
            errors.append(f"Label column `{label['name']}` only holds the value {only}; a CTR label needs both 0 (no click) and 1 (click).")
        elif not is_binary(label):
            shown = ", ".join(sorted(values)[:10])
            errors.append(f"Column `{label['name']}` has values {{{shown}}}; a CTR label must be binary (0/1).")
        else:
            total = sum(values.values())
            positives = sum(n for v, n in values.items() if v in {"1", "1.0", "True", "true"})
            rate = positives / total if total else 0
            if rate < 0.001 or rate > 0.999:
                warnings.append(f"Label rate is {rate:.4%}: with so few positives (or negatives) AUC will be noisy.")
    features = [c for c in columns if c["role"] in FEATURE_ROLES]
    if not features:
        errors.append("No feature columns: give at least one column the role categorical, numeric, sequence, user_id or item_id.")
    for c in columns:
        if c["role"] == "categorical" and c["distinct"] > 0.5 * n_rows and n_rows > 1000:
            warnings.append(f"Categorical column `{c['name']}` is almost unique per row ({c['distinct']:,} values); consider ignoring it.")
        if c["role"] == "numeric" and c["dtype"] not in {"int", "float", "bool"}:
            errors.append(f"Column `{c['name']}` holds text, so it cannot be numeric; make it categorical or ignore it.")
        if c["role"] == "sequence":
            errors.extend(check_sequence(c))
    warnings.extend(unpaired_sequences(columns))
    return errors, warnings


def unpaired_sequences(columns: Columns) -> list[str]:
    """Sequence columns that no target column shares ids with: sequence models would stop on them."""
    cats = {c["name"] for c in columns if c["role"] in {"categorical", "user_id", "item_id"}}
    has_item = any(c["role"] == "item_id" for c in columns)
    out = []
    for c in columns:
        name = c["name"]
        if c["role"] != "sequence" or name.lower().endswith(("_time", "_ts")) or has_item or sequence_stem(name) in cats:
            continue
        out.append(f"Sequence column `{name}` has no target item column to share ids with: sequence models (DIN, QIN, "
                   f"TIN, AW-MoE) need the target item column to have the role item_id.")
    return out


SEQUENCE_HELP = "ids separated by | ^ , or ; (e.g. `123^456^789`), or a Parquet list column"


def check_sequence(c: dict) -> list[str]:
    """A ``sequence`` column must read as lists of ids: delimited text, a list column or single integer ids."""
    dtype, name = c["dtype"], c["name"]
    if dtype in {"list", "int", "empty"}:
        return []
    if dtype in {"float", "bool", "datetime"}:
        kind = {"float": "decimal numbers", "bool": "true/false values", "datetime": "dates"}[dtype]
        return [f"Column `{name}` holds {kind}, so it cannot be a sequence; a sequence column holds {SEQUENCE_HELP}."]
    stats = c.get("sequence")
    if stats and stats["parse_share"] < 0.99:
        return [f"Column `{name}` cannot be read as a sequence with the separator `{stats['sep']}`: "
                f"{1 - stats['parse_share']:.0%} of values are not lists of ids, e.g. {stats['bad_example']!r}. "
                f"A sequence column holds {SEQUENCE_HELP}; clean the values or choose another role."]
    return []




CTR_KIND = DatasetKind(
    key="ctr",
    label="CTR (click prediction)",
    roles=BASE_ROLES,
    check=check_ctr,
    help="One row per impression: a binary click label plus categorical, numeric or sequence features.",
)
