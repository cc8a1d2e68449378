"""Read-only queries on extracted values: the filtered browser, the review queue, coverage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from django.db.models import Count, Q, QuerySet

from jobs.selectors import jobs_visible_to

from .models import ExtractedValue

Status = ExtractedValue.Status
PAGE_SIZE = 50
FILLED = (Status.FROM_LABELS, Status.PREDICTED, Status.ACCEPTED)


def attribute_jobs_visible_to(user) -> QuerySet:
    return jobs_visible_to(user).filter(kind="attributes")


@dataclass
class ValueFilters:
    """The browser's filters, parsed from a query string; unknown or empty ones are ignored."""

    category: str = ""
    attribute: str = ""
    value: str = ""
    status: str = ""
    min_confidence: float | None = None
    q: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> "ValueFilters":
        def text(name: str) -> str:
            return str(query.get(name, "") or "").strip()

        try:
            min_conf = float(query["min_confidence"]) if text("min_confidence") else None
        except ValueError:
            min_conf = None
        status = text("status")
        return cls(category=text("category"), attribute=text("attribute"), value=text("value"),
                   status=status if status in Status.values else "", min_confidence=min_conf, q=text("q"))

    def apply(self, qs: QuerySet) -> QuerySet:
        if self.category:
            qs = qs.filter(category=self.category)
        if self.attribute:
            qs = qs.filter(attribute=self.attribute)
        if self.value:
            qs = qs.filter(value=self.value)
        if self.status:
            qs = qs.filter(status=self.status)
        if self.min_confidence is not None:
            qs = qs.filter(confidence__gte=self.min_confidence)
        if self.q:
            qs = qs.filter(Q(product_id=self.q) | Q(title__icontains=self.q) | Q(value__icontains=self.q))
        return qs

    def as_query(self) -> dict[str, str]:
        out = {k: str(v) for k, v in vars(self).items() if v not in ("", None)}
        return out


def values_page(job, filters: ValueFilters, after: int = 0, size: int = PAGE_SIZE) -> tuple[list[ExtractedValue], int | None]:
    """One page of the job's values in id order after ``after`` (keyset: no OFFSET scan at any depth).

    Returns the rows and the cursor of the next page (None on the last page).
    """
    qs = filters.apply(ExtractedValue.objects.filter(job=job))
    if after:
        qs = qs.filter(id__gt=after)
    rows = list(qs.order_by("id")[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more else None)


def filter_choices(job) -> dict[str, list[str]]:
    """Distinct categories and attributes of the job, for the filter menus."""
    qs = ExtractedValue.objects.filter(job=job)
    return {"categories": sorted(qs.values_list("category", flat=True).distinct()),
            "attributes": sorted(qs.values_list("attribute", flat=True).distinct())}


def review_queryset(job) -> QuerySet:
    """Predictions waiting for a decision, least confident first.

    Held-out test products are left out: their labels are known, and the job page measures them.
    """
    return (ExtractedValue.objects.filter(job=job, status=Status.PREDICTED).exclude(split="test")
            .order_by("confidence", "id"))


def next_to_review(job) -> ExtractedValue | None:
    return review_queryset(job).first()


def review_counts(job) -> dict[str, int]:
    counts = dict(ExtractedValue.objects.filter(job=job).values_list("status").annotate(n=Count("id")))
    return {s: counts.get(s, 0) for s in Status.values}


def coverage(job) -> dict[str, Any]:
    """Fill rates per attribute and category before (labels) and after extraction, and new values.

    A (product, attribute) is filled before when the file (or an earlier accept) gave it a value,
    and after when it also has a prediction or accepted value that was not rejected.
    """
    qs = ExtractedValue.objects.filter(job=job)
    n_products = (job.summary or {}).get("products") or qs.values("product_id").distinct().count()
    per_category_products = dict(qs.values_list("category").annotate(n=Count("product_id", distinct=True)))
    attrs_per_category = dict(qs.values_list("category").annotate(n=Count("attribute", distinct=True)))

    def filled(statuses, *by: str) -> dict:
        rows = qs.filter(status__in=statuses).values_list(*by).annotate(n=Count("product_id", distinct=True))
        return {key[0] if len(by) == 1 else key[:-1]: key[-1] for key in rows}

    before_attr = filled([Status.FROM_LABELS], "attribute")
    after_attr = filled(FILLED, "attribute")
    attributes = sorted(after_attr, key=lambda a: -after_attr[a])
    # a category's fill rate: filled (product, attribute) cells over its products × its attributes
    cells = {}
    for statuses, key in (([Status.FROM_LABELS], "before"), (FILLED, "after")):
        cells[key] = {}
        for (category, _), n in filled(statuses, "category", "attribute").items():
            cells[key][category] = cells[key].get(category, 0) + n
    label_values = set(qs.filter(status=Status.FROM_LABELS).values_list("attribute", "value").distinct())
    new_values = (qs.filter(status__in=[Status.PREDICTED, Status.ACCEPTED]).values("attribute", "value")
                  .annotate(n=Count("product_id", distinct=True)).order_by("-n", "attribute", "value"))
    emerging = [r for r in new_values if (r["attribute"], r["value"]) not in label_values][:30]
    top_values = list(qs.filter(status__in=FILLED).values("attribute", "value", "status")
                      .annotate(n=Count("product_id", distinct=True)).order_by("-n")[:200])
    return {
        "n_products": n_products,
        "attributes": attributes,
        "attribute_before": {a: before_attr.get(a, 0) / max(n_products, 1) for a in attributes},
        "attribute_after": {a: after_attr.get(a, 0) / max(n_products, 1) for a in attributes},
        "categories": sorted(per_category_products),
        "category_before": {c: _cell_share(cells["before"].get(c, 0), per_category_products[c],
                                           attrs_per_category.get(c, 0)) for c in per_category_products},
        "category_after": {c: _cell_share(cells["after"].get(c, 0), per_category_products[c],
                                          attrs_per_category.get(c, 0)) for c in per_category_products},
        "emerging": emerging,
        "top_values": top_values,
    }


def _cell_share(filled: int, products: int, attributes: int) -> float:
    return filled / max(products * attributes, 1)
