"""Read-only queries on datasets, with the visibility rule in one place."""
from __future__ import annotations

from django.db.models import Func, IntegerField, QuerySet

from .models import Dataset

# What a row of the dataset list shows; the column statistics and preview JSON stay in the database.
LIST_FIELDS = ("id", "name", "kind", "status", "source", "n_rows", "size_bytes", "created_at", "owner__id",
               "owner__username", "owner_id")


class JSONArrayLength(Func):
    """The length of a JSON array column, computed by the database (the array is never sent)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra)


def datasets_visible_to(user) -> QuerySet[Dataset]:
    """Staff see every dataset; everyone else only their own."""
    qs = Dataset.objects.select_related("owner")
    if user.is_staff:
        return qs
    return qs.filter(owner=user)


def dataset_list(user, *, kind: str = "", q: str = "") -> QuerySet[Dataset]:
    """The dataset list's rows, newest first (cursor pages on ``-created_at, -id``), with ``n_columns``."""
    qs = datasets_visible_to(user)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.only(*LIST_FIELDS).annotate(n_columns=JSONArrayLength("columns")).order_by("-created_at", "-id")
