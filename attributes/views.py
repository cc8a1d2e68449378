"""Attribute pages: extraction results per job (browser), review queue, coverage, export, CTR bridge."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ctrsite.pagination import cursor_page
from datasets.profiling import DatasetError
from datasets.selectors import datasets_visible_to
from mlcore.querystring import parse_int

from . import selectors, services
from .charts import coverage_charts
from .models import ExtractedValue
from .rows import value_rows


CONFIDENCE_HELP = ("The probability (0 to 1) that the value is right, calibrated on the job's validation products "
                   "(Platt scaling of the model's score); 1 for values from the labels.")
EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _job(request: HttpRequest, pk: int):
    """The job a page is about, without its log or the dataset's column statistics and preview."""
    return get_object_or_404(selectors.attribute_jobs_visible_to(request.user)
                             .defer("log_tail", "dataset__columns", "dataset__preview", "dataset__description"), pk=pk)


@login_required
def job_index(request: HttpRequest) -> HttpResponse:
    page = cursor_page(request, selectors.finished_attribute_jobs(request.user))
    return render(request, "attributes/index.html", {"jobs": page.rows, "page": page})


@login_required
def values_browser(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    filters = selectors.ValueFilters.from_query(request.GET)
    after = parse_int(request.GET.get("after"), 0)
    rows, next_after = selectors.values_page(job, filters, after)
    return render(request, "attributes/browser.html", {
        "job": job, "rows": value_rows(rows), "next_after": next_after, "after": after, "filters": filters,
        "query": filters.as_query(), "choices": selectors.filter_choices(job),
        "statuses": ExtractedValue.Status.choices, "counts": selectors.review_counts(job),
        "confidence_help": CONFIDENCE_HELP})


@login_required
def review_queue(request: HttpRequest, pk: int) -> HttpResponse:
    """The queue; ``?done=<value id>`` shows what the last decision did (the page's answer without HTMX)."""
    job = _job(request, pk)
    done_id = parse_int(request.GET.get("done"), minimum=1)
    done = (ExtractedValue.objects.filter(job=job, pk=done_id, reviewed_at__isnull=False).first()
            if done_id else None)
    return render(request, "attributes/review.html", {"job": job, **_review_context(job, done=done)})


def _review_context(job, error: str = "", done: ExtractedValue | None = None) -> dict:
    counts = selectors.review_counts(job)
    return {"job": job, "item": selectors.next_to_review(job), "counts": counts, "waiting": counts["waiting"],
            "confidence_help": CONFIDENCE_HELP,
            "error": error, "done": done}


@login_required
@require_POST
def review_value(request: HttpRequest, value_id: int) -> HttpResponse:
    """Accept or reject one value; answers the next item (HTMX) or goes back to the queue."""
    value = get_object_or_404(ExtractedValue.objects.filter(job__in=selectors.attribute_jobs_visible_to(request.user)),
                              pk=value_id)
    error, done = "", None
    try:
        done = services.review_value(value, user=request.user, decision=request.POST.get("decision", ""))
    except services.ReviewError as exc:
        error = str(exc)
    if request.htmx:
        # 200 even when refused: HTMX swaps the card, which shows the reason and the same item
        return render(request, "attributes/_review_card.html", _review_context(value.job, error, done))
    if error:  # without HTMX (no script yet, or a click before HTMX wired the new card): the same answers
        return render(request, "attributes/review.html", {"job": value.job, **_review_context(value.job, error)})
    return redirect(f"{reverse('attributes:review', args=[value.job_id])}?done={value.pk}")


@login_required
def coverage(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    data = selectors.coverage(job)
    return render(request, "attributes/coverage.html", {"job": job, "data": data, "charts": coverage_charts(data)})


@login_required
def export(request: HttpRequest, pk: int, fmt: str) -> StreamingHttpResponse:
    """``export.csv`` (formula-like text escaped) or ``export.parquet`` (values as stored); any other format 404s."""
    if fmt not in EXPORT_FORMATS:
        raise Http404(f"Unknown export format `{fmt}`: use export.csv or export.parquet.")
    job = _job(request, pk)
    qs = selectors.ValueFilters.from_query(request.GET).apply(ExtractedValue.objects.filter(job=job))
    rows = services.export_parquet(qs) if fmt == "parquet" else services.export_csv(qs)
    response = StreamingHttpResponse(rows, content_type=EXPORT_FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-attributes.{fmt}"'
    return response


@login_required
def to_ctr(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick a CTR dataset with an item id; build a copy with the attribute values as categorical columns."""
    job = _job(request, pk)
    candidates = [d for d in datasets_visible_to(request.user).filter(kind="ctr", status="ready")
                  if d.columns_with_role("item_id")]
    errors: list[str] = []
    if request.method == "POST":
        chosen_id = parse_int(request.POST.get("dataset"), minimum=1)
        chosen = datasets_visible_to(request.user).filter(pk=chosen_id).first() if chosen_id else None
        if chosen is None:
            errors = ["Pick a CTR dataset."]
        else:
            try:
                dataset = services.add_attributes_to_ctr(job, chosen, owner=request.user,
                                                         name=request.POST.get("name", ""))
            except DatasetError as exc:
                errors = exc.messages
            else:
                messages.success(request, f"Created {dataset.name} with the attribute columns.")
                return redirect(dataset)
    return render(request, "attributes/to_ctr.html", {"job": job, "candidates": candidates, "errors": errors},
                  status=400 if errors else 200)
