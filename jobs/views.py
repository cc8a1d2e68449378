"""Job pages: list (live), new-job form, detail (live progress, log, charts), cancel, compare."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from datasets.models import Dataset
from filestore import services as filestore
from datasets.selectors import datasets_visible_to

from . import files, services
from .charts import comparison_charts, job_charts, kind_panel
from .forms import JobForm, role_requirements
from .models import Job
from .registry import algorithms_for_kind, get_algorithm
from .selectors import jobs_visible_to, live_workers


def _filtered_jobs(request: HttpRequest):
    jobs = jobs_visible_to(request.user)
    status, kind, dataset = request.GET.get("status", ""), request.GET.get("kind", ""), request.GET.get("dataset", "")
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    if dataset.isdigit():
        jobs = jobs.filter(dataset_id=int(dataset))
    return jobs, {"status": status, "kind": kind, "dataset": dataset}


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs, filters = _filtered_jobs(request)
    context = {"jobs": jobs[:200], "filters": filters, "statuses": Job.Status.choices,
               "kinds": sorted(set(jobs_visible_to(request.user).values_list("kind", flat=True)))}
    if request.htmx:
        return render(request, "jobs/_job_rows.html", context)
    return render(request, "jobs/list.html", context)


@login_required
def job_new(request: HttpRequest) -> HttpResponse:
    datasets = datasets_visible_to(request.user).filter(status=Dataset.Status.READY)
    source = request.POST if request.method == "POST" else request.GET
    dataset = datasets.filter(pk=source.get("dataset")).first() if str(source.get("dataset", "")).isdigit() else None
    algorithm = None
    if dataset is None and str(source.get("dataset", "")).isdigit():
        waiting = datasets_visible_to(request.user).filter(pk=source.get("dataset")).first()
        if waiting is not None:  # visible but not ready: say why instead of an empty form
            messages.warning(request, services.not_ready_message(waiting))
    if dataset is not None:
        choices = algorithms_for_kind(dataset.kind)
        keys = [a.key for a in choices]
        key = source.get("algorithm") if source.get("algorithm") in keys else (keys[0] if keys else None)
        algorithm = get_algorithm(key) if key else None
    initial = {"dataset": str(dataset.pk) if dataset else "", "algorithm": algorithm.key if algorithm else ""}
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
                messages.success(request, f"Job {job.display_name} queued.")
                return redirect(job)
    else:
        form = JobForm(initial=initial, datasets=datasets, dataset=dataset, algorithm=algorithm)
    template = "jobs/_params.html" if request.htmx and request.method == "GET" else "jobs/new.html"
    return render(request, template, {"form": form, "dataset": dataset, "algorithm": algorithm,
                                      "has_datasets": datasets.exists(), "roles": role_requirements(algorithm, dataset)})


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    context = {"job": job, "charts": job_charts(job) if job.status == Job.Status.SUCCEEDED else [],
               "kind_panel": kind_panel(job),
               "others": jobs_visible_to(request.user).filter(dataset=job.dataset, status=Job.Status.SUCCEEDED).exclude(pk=job.pk)[:20]}
    if request.htmx:
        return render(request, "jobs/_job_live.html", context)
    return render(request, "jobs/detail.html", context)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    job = services.cancel_job(job)
    messages.info(request, "Cancelled." if job.status == Job.Status.CANCELLED else "Stopping at the next batch…")
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
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdigit()]
    chosen = list(visible.filter(pk__in=ids).order_by("pk"))
    error = ""
    datasets = {j.dataset_id for j in chosen}
    if len(datasets) > 1:
        error = "Pick jobs on the same dataset: their test splits must match to be comparable."
    dataset_id = request.GET.get("dataset") or (chosen[0].dataset_id if chosen else None)
    candidates = visible.filter(status=Job.Status.SUCCEEDED)
    if dataset_id:
        candidates = candidates.filter(dataset_id=dataset_id)
    metric_names = sorted({k for j in chosen for k, v in j.metrics.items() if isinstance(v, (int, float))})
    context = {
        "chosen": chosen, "candidates": candidates[:100], "error": error, "metric_names": metric_names,
        "charts": comparison_charts(chosen) if len(chosen) >= 2 and not error else [],
        "datasets": datasets_visible_to(request.user).filter(jobs__status=Job.Status.SUCCEEDED).distinct(),
        "dataset_id": str(dataset_id or ""),
        "best": {m: _best(chosen, m) for m in metric_names},
    }
    return render(request, "jobs/compare.html", context)


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
    return render(request, "home.html", {
        "datasets": datasets_visible_to(request.user)[:5],
        "jobs": jobs_visible_to(request.user)[:8],
        "workers": live_workers(),
        "active": jobs_visible_to(request.user).filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).count(),
    })
