"""Job pages: list (live), new-job form, detail (live progress, log, charts), cancel, compare."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ctrsite.pagination import cursor_page
from datasets.kinds import kind_choices
from datasets.models import Dataset
from filestore import services as filestore
from datasets.selectors import datasets_visible_to
from mlcore.querystring import parse_ids, parse_int

from . import files, services
from .comparison import run_rows
from .charts import comparison_charts, job_charts, kind_panel
from .forms import JobForm, role_requirements
from .models import Job
from .registry import algorithms_for_kind, get_algorithm
from .rows import job_rows
from . import selectors
from .selectors import jobs_visible_to, live_workers

PAGE_SIZE = 50


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    """Newest first, 50 a page ("Newer"/"Older" cursor links keep the filters and the search)."""
    filters = selectors.JobFilters.from_query(request.GET)
    page = cursor_page(request, selectors.job_list(request.user, filters), page_size=PAGE_SIZE)
    context = {"rows": job_rows(page.rows), "page": page, "filters": filters, "statuses": Job.Status.choices,
               "kinds": [value for value, _ in kind_choices()]}
    if request.htmx:
        return render(request, "jobs/_job_rows.html", context)
    return render(request, "jobs/list.html", context)


@login_required
def job_new(request: HttpRequest) -> HttpResponse:
    datasets = datasets_visible_to(request.user).filter(status=Dataset.Status.READY)
    source = request.POST if request.method == "POST" else request.GET
    like = _run_like(request)  # "New run like this": the run's own dataset, algorithm and settings
    dataset_id = parse_int(source.get("dataset"), minimum=1) or (like.dataset_id if like else None)
    dataset = datasets.filter(pk=dataset_id).first() if dataset_id else None
    algorithm = None
    if dataset is None and dataset_id:
        waiting = datasets_visible_to(request.user).filter(pk=dataset_id).first()
        if waiting is not None:  # visible but not ready: say why instead of an empty form
            messages.warning(request, services.not_ready_message(waiting))
    if dataset is not None:
        choices = algorithms_for_kind(dataset.kind)
        keys = [a.key for a in choices]
        asked = source.get("algorithm") or (like.algorithm if like else None)
        key = asked if asked in keys else (keys[0] if keys else None)
        algorithm = get_algorithm(key) if key else None
    initial = {"dataset": str(dataset.pk) if dataset else "", "algorithm": algorithm.key if algorithm else ""}
    if like is not None and algorithm is not None and like.algorithm == algorithm.key:
        declared = {p.name for p in algorithm.params}
        initial.update({f"param__{k}": v for k, v in like.params.items() if k in declared})
        initial["device_preference"] = like.device_preference
    if request.method == "POST" and "submit" in request.POST:
        form = JobForm(request.POST, datasets=datasets, dataset=dataset, algorithm=algorithm)
        if form.is_valid() and dataset is not None and algorithm is not None:
            try:
                with transaction.atomic():
                    job = services.submit_job(
                        owner=request.user, dataset=dataset, algorithm=algorithm.key, params=form.raw_params(),
                        name=form.cleaned_data["name"], device_preference=form.cleaned_data["device_preference"],
                    )
            except services.JobError as exc:
                for field, message in exc.errors.items():
                    name = field if field in form.fields else f"param__{field}"
                    form.add_error(name if name in form.fields else None, message)
            else:
                messages.success(request, f"Job {job.display_name} queued.", extra_tags=_job_state_tag(job))
                return redirect(job)
    else:
        form = JobForm(initial=initial, datasets=datasets, dataset=dataset, algorithm=algorithm)
    template = "jobs/_params.html" if request.htmx and request.method == "GET" else "jobs/new.html"
    return render(request, template, {"form": form, "dataset": dataset, "algorithm": algorithm,
                                      "has_datasets": datasets.exists(), "roles": role_requirements(algorithm, dataset)})


def _run_like(request: HttpRequest) -> Job | None:
    """The job named by ``?like=<id>`` on a GET of the new-job form, when the user may see it."""
    like_id = parse_int(request.GET.get("like"), minimum=1) if request.method == "GET" else None
    return jobs_visible_to(request.user).filter(pk=like_id).first() if like_id else None


@login_required
@require_POST
def job_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """One click: queue a new job with this job's settings (failed or cancelled jobs show the button)."""
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    try:
        with transaction.atomic():
            new = services.rerun_job(job, owner=request.user)
    except services.JobError as exc:
        messages.error(request, f"Could not re-run: {exc}", extra_tags=_job_state_tag(job))
        return redirect(job)
    messages.success(request, f"Job {new.display_name} queued with the settings of {job.display_name}.",
                     extra_tags=_job_state_tag(new))
    return redirect(new)


def _job_state_tag(job: Job) -> str:
    """Tags a flash message about a job's state; the live part removes it once the status moves on."""
    return f"job-state job-{job.pk} status-{job.status}"


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        job = selectors.job_for_page(request.user, pk)
    except Job.DoesNotExist:
        raise Http404("No such job (or it is not yours).") from None
    context = {"job": job, "charts": job_charts(job) if job.status == Job.Status.SUCCEEDED else [],
               "kind_panel": kind_panel(job), "others": _best_others(request.user, job)}
    if request.htmx:
        return render(request, "jobs/_job_live.html", context)
    return render(request, "jobs/detail.html", context)


def _best_others(user, job: Job, n: int = 10) -> list[Job]:
    """The dataset's best other runs (same headline metric), to compare this one with."""
    if not job.headline_metric:
        return []
    return list(selectors.leaderboard_queryset(user, job.dataset_id, job.headline_metric)
                .only(*selectors.PICKER_FIELDS).exclude(pk=job.pk)[:n])


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    job = services.cancel_job(job)
    messages.info(request, "Cancelled." if job.status == Job.Status.CANCELLED else "Stopping at the next batch…",
                  extra_tags=_job_state_tag(job))
    return redirect(job)


@login_required
@require_POST
def job_delete(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    services.delete_job(job)
    messages.success(request, "Job deleted.")
    return redirect("jobs:list")


@login_required
def job_artifact(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    if not job.artifact_path:
        raise Http404("This job has no trained model file.")
    # Only the owner gets a presigned link (it can be passed on); staff downloads stream through here.
    return filestore.download_response(files.artifact_key(job), f"job-{job.pk}-{job.algorithm}.pt",
                                       presign=job.owner_id == request.user.pk)


@login_required
def job_compare(request: HttpRequest) -> HttpResponse:
    """Pick 2+ finished jobs on one dataset; show their metrics side by side and overlaid curves."""
    visible = jobs_visible_to(request.user)
    ids = parse_ids(request.GET.getlist("ids"))[:MAX_COMPARED]
    # each run brings its curves (the charts), not its log nor its dataset's column statistics and preview
    chosen = list(visible.filter(pk__in=ids).defer("log_tail", "dataset__columns", "dataset__preview",
                                                   "dataset__description").order_by("pk"))
    error = ""
    datasets = {j.dataset_id for j in chosen}
    if len(datasets) > 1:
        error = "Pick jobs on the same dataset: their test splits must match to be comparable."
    asked = request.GET.get("dataset", "")
    dataset_pk = parse_int(asked, minimum=1) or (chosen[0].dataset_id if chosen else None)
    if asked and parse_int(asked, minimum=1) is None:
        error = error or f"`{asked[:40]}` is not a dataset id: pick a dataset from the list."
    dataset_id = dataset_pk
    candidates, metric = None, ""
    if dataset_pk is not None:  # the picker: the dataset's best runs, 50 a page
        metric, _ = selectors.leaderboard_metric(request.user, dataset_pk, request.GET.get("metric", ""))
        candidates = cursor_page(request, selectors.leaderboard_queryset(request.user, dataset_pk, metric)
                                 .only(*selectors.PICKER_FIELDS), ordering=selectors.LEADERBOARD_ORDERING)
    metric_names = sorted({k for j in chosen for k, v in j.metrics.items() if isinstance(v, (int, float))})
    context = {
        "chosen": chosen, "candidates": candidates.rows if candidates else [], "candidates_page": candidates,
        "metric": metric, "error": error, "metric_names": metric_names,
        "charts": comparison_charts(chosen) if len(chosen) >= 2 and not error else [],
        "datasets": datasets_visible_to(request.user).select_related(None).only("id", "name")[:MAX_DATASETS],
        "dataset_id": str(dataset_id or ""),
        "best": {m: _best(chosen, m) for m in metric_names},
        "run_rows": run_rows(chosen),
    }
    return render(request, "jobs/compare.html", context)


@login_required
def dataset_leaderboard(request: HttpRequest, dataset_pk: int) -> HttpResponse:
    """Every finished run of a dataset, best first, 50 a page (the dataset page shows the top 25)."""
    dataset = get_object_or_404(datasets_visible_to(request.user).select_related(None)
                                .only("id", "name", "status", "kind"), pk=dataset_pk)
    metric, present = selectors.leaderboard_metric(request.user, dataset.pk, request.GET.get("metric", ""))
    page = cursor_page(request, selectors.leaderboard_queryset(request.user, dataset.pk, metric),
                       ordering=selectors.LEADERBOARD_ORDERING)
    board = selectors.leaderboard_from_page(metric, present, page.rows)
    return render(request, "jobs/leaderboard.html", {"dataset": dataset, "board": board, "page": page,
                                                     "full_page": True})


MAX_DATASETS = 200  # newest first in the compare page's dataset menu
MAX_COMPARED = 10  # runs side by side on the compare page (each brings its curves)
LOWER_IS_BETTER = {"logloss", "loss"}


def _best(jobs: list[Job], metric: str) -> int | None:
    scored = [(j.metrics.get(metric), j.pk) for j in jobs if isinstance(j.metrics.get(metric), (int, float))]
    if len(scored) < 2:
        return None
    pick = min if any(metric.endswith(s) for s in LOWER_IS_BETTER) or metric in {"n", "positive_rate"} else max
    if metric in {"n", "positive_rate"}:
        return None
    return pick(scored)[1]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from datasets.selectors import dataset_list

    return render(request, "home.html", {
        "datasets": dataset_list(request.user)[:5],
        "jobs": selectors.recent_jobs(request.user),
        "workers": live_workers(),
        "active": jobs_visible_to(request.user).filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).count(),
    })
