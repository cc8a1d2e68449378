"""Registry pages: model names, a name's versions side by side, promote, set production, score new rows, downloads."""
from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from datasets.models import Dataset
from datasets.profiling import DatasetError
from datasets.selectors import datasets_visible_to
from datasets.services import create_dataset
from jobs.models import Job
from jobs.selectors import jobs_visible_to

from . import selectors, services
from .api import EXPORT_FILES, predictions_dataset, predictions_response
from .forms import PromoteForm, ScoreForm

HEADLINE = {"ctr": ("auc", "logloss"), "uplift": ("sklift_qini_ctr", "sklift_qini_ctcvr", "sklift_auuc_ctr"),
            "attributes": ("micro_f1", "map")}


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "registry/list.html", {"models": selectors.model_names(request.user)})


@login_required
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    versions = list(selectors.versions_visible_to(request.user).filter(name=name).order_by("-version"))
    if not versions:
        raise Http404(f"No model called {name!r}.")
    keys = [k for k in HEADLINE.get(versions[0].kind, ()) if any(k in v.metrics for v in versions)]
    rows = [{"version": v, "metrics": [v.metrics.get(k) for k in keys]} for v in versions]
    return render(request, "registry/detail.html", {"name": name, "rows": rows, "metric_keys": keys,
                                                    "kind": versions[0].kind, "exports": list(EXPORT_FILES)})


@login_required
@require_POST
def promote(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    form = PromoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Model name: " + " ".join(form.errors.get("name", ["invalid"])))
        return redirect(job)
    try:
        version = services.promote_run(job=job, name=form.cleaned_data["name"], user=request.user,
                                       notes=form.cleaned_data["notes"], production=form.cleaned_data["production"])
    except services.RegistryError as exc:
        messages.error(request, str(exc))
        return redirect(job)
    messages.success(request, f"Promoted to {version.label}{' (production)' if version.is_production else ''}.")
    return redirect(version)


@login_required
@require_POST
def set_production(request: HttpRequest, name: str, version: int) -> HttpResponse:
    chosen = get_object_or_404(selectors.versions_visible_to(request.user), name=name, version=version)
    services.set_production(chosen)
    messages.success(request, f"{chosen.label} is now the production version.")
    return redirect(chosen)


@login_required
def score(request: HttpRequest) -> HttpResponse:
    """Pick a model (or run) and new rows; the scoring job runs on a worker and its page shows the predictions."""
    names = [m["name"] for m in selectors.model_names(request.user) if m["production"]]
    runs = list(selectors.scorable_runs(request.user)[:200])
    datasets = list(datasets_visible_to(request.user).filter(status=Dataset.Status.READY)
                    .exclude(kind="predictions")[:200])
    initial = {"model": request.GET.get("model", ""), "source_job": request.GET.get("run", "")}
    form = ScoreForm(request.POST or None, request.FILES or None, models=names, runs=runs, datasets=datasets,
                     initial=initial)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            job = _submit(request, form.cleaned_data)
        except (services.RegistryError, DatasetError) as exc:
            error, status = _message(exc), 400
        else:
            messages.success(request, "Scoring job queued; the predictions appear here when it finishes.")
            return redirect(job)
    elif request.method == "POST":
        error, status = " ".join(form.non_field_errors()), 400
    return render(request, "registry/score.html", {"form": form, "error": error}, status=status)


def _message(exc: Exception) -> str:
    if isinstance(exc, services.RegistryError):
        return " ".join(exc.errors.values())
    return " ".join(getattr(exc, "messages", [str(exc)]))


def _submit(request: HttpRequest, data: dict) -> Job:
    source = None
    if data.get("source_job"):
        source = get_object_or_404(jobs_visible_to(request.user), pk=int(data["source_job"]))
    if not data.get("file"):
        dataset = get_object_or_404(datasets_visible_to(request.user), pk=int(data["dataset"]))
        return services.submit_scoring_job(owner=request.user, dataset=dataset, source_job=source,
                                           model_name=data.get("model", ""))
    upload = data["file"]
    dataset = create_dataset(owner=request.user, source_file=upload, filename=upload.name, kind="rows",
                             name=f"New rows: {Path(upload.name).stem}")
    return services.submit_or_discard(owner=request.user, dataset=dataset, source_job=source,
                                      model_name=data.get("model", ""))


@login_required
def predictions_download(request: HttpRequest, pk: int, fmt: str):
    job = get_object_or_404(selectors.scoring_jobs_visible_to(request.user), pk=pk)
    return predictions_response(predictions_dataset(job, request.user), fmt)
