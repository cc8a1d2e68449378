"""Refuse requests whose path or parameters hold a NUL character, before any view sees them.

PostgreSQL cannot store or compare text containing NUL, so a ``?status=%00`` that reaches a
queryset filter raises inside the database driver (a 500). No legitimate form, link or API
client sends one: answer 400 once here rather than in every view.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any("\x00" in key or any("\x00" in v for v in values)
                                         for key, values in request.GET.lists()):
            return _bad_request(request, "Request parameters may not contain NUL characters.")
        # url-encoded forms only: parsing a multipart upload here would read the file before the view
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            lists = list(request.POST.lists())
            if any("\x00" in key or any("\x00" in str(v) for v in values) for key, values in lists):
                return _bad_request(request, "Form fields may not contain NUL characters.")
        return self.get_response(request)


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """400 as JSON under /api/ (like every API error), as text elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponseBadRequest(message)
