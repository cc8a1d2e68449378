"""The attributes dataset kind: a product catalogue as a long table, one row per known value.

Analysts upload what their PIM exports: a row per (product, attribute, value) with the product's
id, title, description and category repeated; a product with no row carrying an attribute is an
unlabelled product to extract values for. A ``brand`` column is read as a ``Brand`` label, a
``group`` column (a session or co-view list id) as a behaviour group. No Django import here.
"""
from __future__ import annotations

from datasets.kinds import Columns, DatasetKind

ROLES = ("item_id", "title", "description", "category", "attribute", "value", "brand", "price",
         "group", "ignore")
SINGLE_ROLES = ("item_id", "title", "description", "category", "attribute", "value", "brand",
                "price")
NAMES = {
    "item_id": {"product_id", "item_id", "id", "asin", "sku", "productid", "itemid", "product"},
    "title": {"title", "product_title", "name", "product_name", "input", "input_title"},
    "description": {"description", "desc", "body", "product_description", "input_description"},
    "category": {"category", "category_path", "product_category", "product_type"},
    "attribute": {"attribute", "attribute_name", "key", "property", "property_name"},
    "value": {"value", "attribute_value", "property_value"},
    "brand": {"brand", "brand_name", "manufacturer"},
    "price": {"price", "list_price", "sale_price"},
    "group": {"group", "group_id", "session", "session_id", "basket", "basket_id", "also_viewed"},
}


def infer_attribute_roles(columns: Columns) -> None:
    """Name the product, text and label columns by their names; everything else is ignored."""
    taken: set[str] = set()
    for column in columns:
        name = column["name"].strip().lower()
        for role, names in NAMES.items():
            if name in names and role not in taken:
                column["role"] = role
                taken.add(role)
                break
        else:
            column["role"] = "ignore"


def check_attributes(columns: Columns, n_rows: int) -> tuple[list[str], list[str]]:
    """Errors that block extraction on a catalogue, and warnings worth reading."""
    errors: list[str] = []
    warnings: list[str] = []
    by_role: dict[str, list[dict]] = {}
    for column in columns:
        by_role.setdefault(column["role"], []).append(column)
    names = ", ".join(f"`{c['name']}`" for c in columns)
    if "item_id" not in by_role:
        errors.append("No product id column: an attributes dataset needs one (name it `product_id`, `sku` "
                      f"or `item_id`, or set its role to item_id). Columns are: {names}.")
    if "title" not in by_role:
        errors.append("No title column: extraction reads the product title (name it `title` or set its "
                      f"role to title). Columns are: {names}.")
    for role in SINGLE_ROLES:
        if len(by_role.get(role, [])) > 1:
            found = ", ".join(f"`{c['name']}`" for c in by_role[role])
            errors.append(f"Only one {role} column is allowed; found {found}. Set the others to ignore.")
    for column in by_role.get("item_id", [])[:1]:
        if column["missing"]:
            errors.append(f"Product id column `{column['name']}` has {column['missing']:,} empty cells; every "
                          "row needs the id of its product.")
    for column in by_role.get("title", [])[:1]:
        if column["missing"] == n_rows:
            errors.append(f"Title column `{column['name']}` is empty; extraction needs product titles.")
        elif column["missing"]:
            warnings.append(f"{column['missing']:,} rows have no title; those products are matched on their "
                            "description only.")
    has_attribute, has_value = "attribute" in by_role, "value" in by_role
    if has_attribute != has_value:
        have, lack = ("attribute", "value") if has_attribute else ("value", "attribute")
        errors.append(f"There is an {have} column but no {lack} column: known labels need both (one row per "
                      "product, attribute and value).")
    elif not has_attribute and "brand" not in by_role:
        warnings.append("No attribute and value columns: no product has known values, so jobs have nothing "
                        "to learn from or be measured against. Add rows with attribute and value.")
    else:
        for column in by_role.get("attribute", [])[:1]:
            if column["missing"] == n_rows:
                warnings.append(f"Column `{column['name']}` is empty: no product has known values yet.")
    for column in by_role.get("price", [])[:1]:
        if column["dtype"] not in {"int", "float"}:
            warnings.append(f"Price column `{column['name']}` holds text; it is kept but not used.")
    return errors, warnings


ATTRIBUTES_KIND = DatasetKind(
    key="attributes",
    label="Attributes (product catalogue)",
    roles=ROLES,
    check=check_attributes,
    infer_roles=infer_attribute_roles,
    help="One row per product and known attribute value (product_id, title, description, category, "
         "attribute, value); products without attribute rows are extracted for.",
)
