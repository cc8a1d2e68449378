"""Dataset pages: list, upload (with a progress bar), detail with schema and statistics, delete."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jobs.leaderboard import leaderboard, reference_label, reference_rows
from jobs.registry import algorithms_for_kind
from jobs.selectors import jobs_visible_to

from . import services
from .forms import DatasetUploadForm, RolesForm
from .profiling import DatasetError
from .selectors import datasets_visible_to


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    datasets = datasets_visible_to(request.user)
    kind = request.GET.get("kind", "")
    if kind:
        datasets = datasets.filter(kind=kind)
    return render(request, "datasets/list.html", {"datasets": datasets[:200], "kind": kind})


@login_required
def dataset_upload(request: HttpRequest) -> HttpResponse:
    """The upload page; the page's script posts with XMLHttpRequest to show progress and gets JSON."""
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    if request.method == "POST":
        form = DatasetUploadForm(request.POST, request.FILES)
        upload_error = getattr(request, "upload_error", None)
        errors: list[str] = []
        if upload_error:
            errors = [upload_error]
        elif form.is_valid():
            try:
                dataset = services.create_dataset(
                    owner=request.user, source_file=form.cleaned_data["file"], filename=form.cleaned_data["file"].name,
                    name=form.cleaned_data["name"], kind=form.cleaned_data["kind"],
                    description=form.cleaned_data["description"], delimiter=form.cleaned_data["delimiter"] or None,
                    role_overrides=form.role_overrides(),
                )
            except DatasetError as exc:
                errors = exc.messages
            else:
                if wants_json:
                    return JsonResponse({"id": dataset.pk, "url": dataset.get_absolute_url()}, status=201)
                messages.success(request, f"Uploaded {dataset.name}: {dataset.n_rows:,} rows.")
                return redirect(dataset)
        else:
            errors = [f"{field}: {' '.join(errs)}" if field != "__all__" else " ".join(errs) for field, errs in form.errors.items()]
        if wants_json:
            return JsonResponse({"errors": errors}, status=400)
        return render(request, "datasets/upload.html", {"form": form, "errors": errors, "limit_mb": _limit_mb()}, status=400)
    return render(request, "datasets/upload.html", {"form": DatasetUploadForm(), "limit_mb": _limit_mb()})


def _limit_mb() -> int:
    return settings.DATASET_MAX_UPLOAD_BYTES // (1024 * 1024)


@login_required
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(datasets_visible_to(request.user), pk=pk)
    roles_form = RolesForm(dataset=dataset)
    role_errors: list[str] = []
    if request.method == "POST":
        roles_form = RolesForm(request.POST, dataset=dataset)
        if roles_form.is_valid():
            try:
                services.update_roles(dataset, roles_form.roles())
            except DatasetError as exc:
                role_errors = exc.messages
            else:
                messages.success(request, "Column roles saved.")
                return redirect(dataset)
    jobs = jobs_visible_to(request.user).filter(dataset=dataset)
    columns, ranked = leaderboard(jobs)
    for job in ranked:  # S-learner and text-similarity runs are references, not contenders
        job.reference_label = reference_label(job)
    return render(request, "datasets/detail.html", {
        "dataset": dataset, "roles_form": roles_form, "role_errors": role_errors, "jobs": jobs[:50],
        "leaderboard": ranked, "leaderboard_columns": columns, "leaderboard_references": reference_rows(ranked),
        "algorithms": algorithms_for_kind(dataset.kind),
        "label_rate": dataset.label_rate,
    })


@login_required
def dataset_download(request: HttpRequest, pk: int) -> FileResponse:
    dataset = get_object_or_404(datasets_visible_to(request.user), pk=pk)
    return FileResponse(open(dataset.path, "rb"), as_attachment=True, filename=dataset.original_filename)


@login_required
@require_POST
def dataset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(datasets_visible_to(request.user), pk=pk)
    name = dataset.name
    services.delete_dataset(dataset)
    messages.success(request, f"Deleted {name} and its files.")
    return redirect("datasets:list")
