"""Dataset pages: list, upload (with a progress bar), detail with schema and statistics, delete."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ctrsite.pagination import cursor_page
from jobs.registry import algorithms_for_kind
from filestore import services as filestore

from . import services
from .forms import DatasetUploadForm, RolesForm, role_choices
from .kinds import kind_choices
from .profiling import DatasetError
from .schema_table import preview_table, schema_rows
from .selectors import dataset_list as list_rows
from .selectors import datasets_visible_to


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    """Newest first, 50 a page, with a name search and a kind filter kept in the page links."""
    kinds = [value for value, _ in kind_choices()]
    kind = request.GET.get("kind", "")
    kind = kind if kind in kinds else ""
    q = request.GET.get("q", "").strip()[:200]
    page = cursor_page(request, list_rows(request.user, kind=kind, q=q))
    return render(request, "datasets/list.html", {"datasets": page.rows, "page": page, "kind": kind, "q": q,
                                                  "kinds": kinds})


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
                    return JsonResponse({"id": dataset.pk, "url": dataset.get_absolute_url(), "status": dataset.status},
                                        status=202 if dataset.is_profiling else 201)
                messages.success(request, upload_message(dataset))
                return redirect(dataset)
        else:
            errors = [f"{field}: {' '.join(errs)}" if field != "__all__" else " ".join(errs) for field, errs in form.errors.items()]
        if wants_json:
            return JsonResponse({"errors": errors}, status=400)
        return render(request, "datasets/upload.html", {"form": form, "errors": errors, **_limits()}, status=400)
    return render(request, "datasets/upload.html", {"form": DatasetUploadForm(), **_limits()})


PAGE_CHUNK_BYTES = 8 * 1024 * 1024  # what the upload page sends per request (at most the server's chunk limit)


def _limits() -> dict:
    return {"limit_mb": _limit_mb(), "chunk_bytes": min(PAGE_CHUNK_BYTES, settings.DATASET_UPLOAD_CHUNK_BYTES)}


def upload_message(dataset) -> str:
    if dataset.is_profiling:
        return f"Uploaded {dataset.name}; a worker is profiling it now."
    return f"Uploaded {dataset.name}: {dataset.n_rows:,} rows."


def _limit_mb() -> int:
    return settings.DATASET_MAX_UPLOAD_BYTES // (1024 * 1024)


@login_required
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(datasets_visible_to(request.user), pk=pk)
    roles_form = None  # built only to read a POST: the page formats its role menus itself (schema_table)
    role_errors: list[str] = []
    if request.method == "POST":
        roles_form = RolesForm(request.POST, dataset=dataset)
        if roles_form.is_valid():
            try:
                services.update_roles(dataset, roles_form.roles())
            except DatasetError as exc:
                role_errors = exc.messages
            else:
                messages.success(request, "Column roles saved; the dataset is ready for training.")
                return redirect(dataset)
    # the leaderboard panel comes from the jobs app (``{% leaderboard_panel dataset %}``)
    return render(request, "datasets/detail.html", {
        "dataset": dataset, "role_errors": role_errors,
        "schema": schema_rows(dataset.columns, role_choices(dataset), roles_form),
        "preview_table": preview_table(dataset.preview),
        "algorithms": algorithms_for_kind(dataset.kind), "label_rate": dataset.label_rate,
    })


@login_required
def dataset_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live profiling panel (HTMX poll); once profiling ends the page reloads to show the result."""
    dataset = get_object_or_404(datasets_visible_to(request.user).defer("columns", "preview"), pk=pk)
    if not dataset.is_profiling:
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    return render(request, "datasets/_profiling.html", {"dataset": dataset})


@login_required
def dataset_download(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(datasets_visible_to(request.user), pk=pk)
    # Only the owner gets a presigned link from an object store; staff downloads stream through here.
    return filestore.download_response(dataset.file_path, dataset.original_filename,
                                       presign=dataset.owner_id == request.user.pk)


@login_required
@require_POST
def dataset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(datasets_visible_to(request.user), pk=pk)
    name = dataset.name
    services.delete_dataset(dataset)
    messages.success(request, f"Deleted {name} and its files.")
    return redirect("datasets:list")
