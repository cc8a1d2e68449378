"""Read-only queries on extracted values: the filtered browser, the review queue, coverage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet

from jobs.selectors import jobs_visible_to
from mlcore.querystring import parse_float

from .models import ExtractedValue

Status = ExtractedValue.Status
PAGE_SIZE = 50
# What the browser, the review card and the API show of a value (not who reviewed it)
ROW_FIELDS = ("id", "job_id", "dataset_id", "product_id", "title", "category", "attribute", "value", "confidence",
              "stated", "evidence_field", "evidence_start", "evidence_end", "evidence_text", "is_new_value", "split",
              "correct", "status", "reviewed_at")
COVERAGE_CACHE_SECONDS = 3600
FILLED = (Status.FROM_LABELS, Status.PREDICTED, Status.ACCEPTED)


def attribute_jobs_visible_to(user) -> QuerySet:
    return jobs_visible_to(user).filter(kind="attributes")


def finished_attribute_jobs(user) -> QuerySet:
    """The attribute index's rows (newest first, cursor pages): only what the table shows."""
    return (attribute_jobs_visible_to(user).filter(status="succeeded").select_related(None).select_related("dataset")
            .only("id", "name", "algorithm", "dataset", "dataset__id", "dataset__name", "metrics", "summary",
                  "finished_at", "created_at").order_by("-created_at", "-id"))


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

        min_conf = parse_float(text("min_confidence"))
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
    qs = filters.apply(ExtractedValue.objects.filter(job=job)).only(*ROW_FIELDS)
    if after:
        qs = qs.filter(id__gt=after)
    rows = list(qs.order_by("id")[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more else None)


def job_facets(job) -> dict[str, Any]:
    """``categories`` (name -> products) and ``attributes`` of the job's values.

    Stored on the job when its values are written (they never change after, review only changes
    statuses), so menus and coverage need no scan; computed here for older jobs.
    """
    facets = (job.curves or {}).get("extraction")
    if facets:
        return facets
    qs = ExtractedValue.objects.filter(job=job)
    return {"categories": dict(qs.values_list("category").annotate(n=Count("product_id", distinct=True))),
            "attributes": sorted(qs.values_list("attribute", flat=True).distinct())}


def filter_choices(job) -> dict[str, list[str]]:
    """Categories and attributes of the job, for the filter menus."""
    facets = job_facets(job)
    return {"categories": sorted(facets["categories"]), "attributes": sorted(facets["attributes"])}


def review_queryset(job) -> QuerySet:
    """Predictions waiting for a decision, least confident first.

    Held-out test products are left out: their labels are known, and the job page measures them.
    """
    return (ExtractedValue.objects.filter(job=job, status=Status.PREDICTED).exclude(split="test")
            .order_by("confidence", "id"))


def next_to_review(job) -> ExtractedValue | None:
    """The least confident prediction waiting: the first entry of the ``xv_job_review_queue`` index."""
    return review_queryset(job).only(*ROW_FIELDS).first()


def _review_stamp(job) -> str:
    """Changes whenever a value of the job is reviewed or the job is re-run (an indexed MAX: a millisecond)."""
    latest = ExtractedValue.objects.filter(job=job).aggregate(latest=Max("reviewed_at"))["latest"]
    stamp = lambda t: t.isoformat() if t else "-"  # noqa: E731
    return f"{job.pk}:{stamp(job.created_at)}:{stamp(job.finished_at)}:{stamp(latest)}"


def _cached_counts(job) -> dict[str, int]:
    """Values per status and the review queue's length, counted once per review decision.

    Counting reads every index entry of the job (a million at the largest, ~0.1 s on PostgreSQL);
    the browser and the review card show them on every page, so they are cached until the next
    decision (the key holds the latest review time).
    """
    key = f"attributes:counts:{_review_stamp(job)}"
    data = cache.get(key)
    if data is None:
        counts = dict(ExtractedValue.objects.filter(job=job).values_list("status").annotate(n=Count("id")))
        data = {s: counts.get(s, 0) for s in Status.values}
        data["waiting"] = review_queryset(job).count()
        cache.set(key, data, COVERAGE_CACHE_SECONDS)
    return data


def review_counts(job) -> dict[str, int]:
    """Values per status, and ``waiting``: the one definition of "waiting for review" every page shows
    (:func:`review_queryset`: predictions not on held-out test products); cached per review decision."""
    counts = _cached_counts(job)
    out = {s: counts[s] for s in Status.values}
    out["waiting"] = counts["waiting"]
    out["predicted_test"] = out[Status.PREDICTED] - out["waiting"]
    return out


def waiting_count(job) -> int:
    """How many predictions the review queue holds (as :func:`review_queryset` counts them)."""
    return _cached_counts(job)["waiting"]


def _cells(job) -> list[tuple[str, str, int, int]]:
    """``(category, attribute, products labelled, products filled)`` in one pass over an index.

    Filled counts a product once whatever mix of label, prediction and accept it has, so the
    two counts are exact distinct-product counts.
    """
    table = ExtractedValue._meta.db_table
    filled = ", ".join(["%s"] * len(FILLED))
    sql = f"""
        SELECT category, attribute, SUM(labelled), SUM(filled) FROM (
            SELECT category, attribute, product_id,
                   MAX(CASE WHEN status = %s THEN 1 ELSE 0 END) AS labelled,
                   MAX(CASE WHEN status IN ({filled}) THEN 1 ELSE 0 END) AS filled
            FROM {table} WHERE job_id = %s GROUP BY category, attribute, product_id) cells
        GROUP BY category, attribute"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [Status.FROM_LABELS, *FILLED, job.pk])
        return [(c, a, int(lab or 0), int(fill or 0)) for c, a, lab, fill in cursor.fetchall()]


def coverage(job) -> dict[str, Any]:
    """:func:`compute_coverage`, cached until the job's next review decision (or re-run).

    Computing it reads every row of the job (about 15 s at a million rows on SQLite); the key
    holds the latest review time, which an indexed MAX reads in a millisecond.
    """
    latest = ExtractedValue.objects.filter(job=job).aggregate(latest=Max("reviewed_at"))["latest"]
    stamp = lambda t: t.isoformat() if t else "-"  # noqa: E731
    key = f"attributes:coverage:{job.pk}:{stamp(job.created_at)}:{stamp(job.finished_at)}:{stamp(latest)}"
    data = cache.get(key)
    if data is None:
        data = compute_coverage(job)
        cache.set(key, data, COVERAGE_CACHE_SECONDS)
    return data


def compute_coverage(job) -> dict[str, Any]:
    """Fill rates per attribute and category before (labels) and after extraction, and new values.

    A (product, attribute) is filled before when the file (or an earlier accept, now a label)
    gave it a value, and after when it also has a prediction or accepted value not rejected.
    A category's fill rate is its filled (product, attribute) cells over its products times the
    attributes seen in it. Two grouped queries, both index-only.
    """
    qs = ExtractedValue.objects.filter(job=job)
    facets = job_facets(job)
    n_products = (job.summary or {}).get("products") or sum(facets["categories"].values())
    attribute_before: dict[str, int] = {}
    attribute_after: dict[str, int] = {}
    category_before: dict[str, int] = {}
    category_after: dict[str, int] = {}
    category_attributes: dict[str, set] = {}
    for category, attribute, labelled, filled in _cells(job):
        attribute_before[attribute] = attribute_before.get(attribute, 0) + labelled
        attribute_after[attribute] = attribute_after.get(attribute, 0) + filled
        category_before[category] = category_before.get(category, 0) + labelled
        category_after[category] = category_after.get(category, 0) + filled
        category_attributes.setdefault(category, set()).add(attribute)
    attributes = sorted(attribute_after, key=lambda a: (-attribute_after[a], a))
    counts = list(qs.values_list("attribute", "value", "status").annotate(n=Count("id")))
    labelled_values = {(a, v) for a, v, status, _ in counts if status == Status.FROM_LABELS}
    new: dict[tuple[str, str], int] = {}
    for attribute, value, status, n in counts:
        if status in (Status.PREDICTED, Status.ACCEPTED) and (attribute, value) not in labelled_values:
            new[(attribute, value)] = new.get((attribute, value), 0) + n
    emerging = [{"attribute": a, "value": v, "n": n}
                for (a, v), n in sorted(new.items(), key=lambda kv: (-kv[1], kv[0]))[:30]]
    top_values = sorted(({"attribute": a, "value": v, "status": s, "n": n} for a, v, s, n in counts
                         if s in FILLED), key=lambda r: -r["n"])[:200]

    def share(cells: dict, category: str) -> float:
        products = facets["categories"].get(category, 0)
        return cells.get(category, 0) / max(products * len(category_attributes[category]), 1)

    categories = sorted(category_attributes)
    return {
        "n_products": n_products,
        "attributes": attributes,
        "attribute_before": {a: attribute_before[a] / max(n_products, 1) for a in attributes},
        "attribute_after": {a: attribute_after[a] / max(n_products, 1) for a in attributes},
        "categories": categories,
        "category_before": {c: share(category_before, c) for c in categories},
        "category_after": {c: share(category_after, c) for c in categories},
        "emerging": emerging,
        "top_values": top_values,
    }
