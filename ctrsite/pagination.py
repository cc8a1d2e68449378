"""Keyset (cursor) pages for every list that can grow, in the API and on the pages alike.

A cursor page reads ``page_size + 1`` rows from an index in the list's order, starting after the
last row the client saw: the cost is the same on page 1 and page 1,000 (an OFFSET page would read
and throw away every earlier row), there is no ``COUNT(*)``, and a row inserted meanwhile never
shifts the next page. The pages use DRF's own cursor, so a page's "Older" link carries exactly
the ``cursor=`` the API would return.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlsplit

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.functional import cached_property
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class NewestFirstCursorPagination(CursorPagination):
    """API lists: newest first (``-created_at, -id`` on an index), ``?cursor=`` from ``next``/``previous``."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@dataclass
class CursorPage:
    """The rows of one page and the query strings (``?cursor=…`` plus the list's filters) around it."""

    rows: list[Any]
    next_query: str | None
    previous_query: str | None

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_query or self.previous_query)


def _query(url: str | None) -> str | None:
    return ("?" + urlsplit(url).query) if url else None


def cursor_page(request: HttpRequest, queryset: QuerySet, *, ordering: Sequence[str] = ("-created_at", "-id"),
                page_size: int = 50) -> CursorPage:
    """One keyset page of ``queryset`` in ``ordering`` (its first field is the cursor's position).

    The ordering must match an index that starts with the list's equality filters, so the page is
    a bounded walk of that index; the last field must make rows unique (``id``).
    """
    paginator = NewestFirstCursorPagination()
    paginator.ordering = tuple(ordering)
    paginator.page_size = page_size
    paginator.page_size_query_param = None
    drf_request = request if isinstance(request, Request) else Request(request)
    try:
        rows = list(paginator.paginate_queryset(queryset, drf_request) or [])
    except NotFound as exc:  # a cursor edited by hand: the page does not exist
        raise Http404(str(exc.detail)) from exc
    return CursorPage(rows, _query(paginator.get_next_link()), _query(paginator.get_previous_link()))


class CappedCountPaginator(Paginator):
    """Admin changelists: count at most ``CAP`` matching rows (``COUNT(*)`` over an unordered ``LIMIT``).

    Django's admin counts the filtered rows on every page; over a million values that is a full
    scan. Pages past the cap are reached by filtering or searching.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:self.CAP].count()
