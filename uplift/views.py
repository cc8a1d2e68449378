"""Uplift pages: the targeting planner of a finished job, its JSON, the chosen users as CSV, scoring new users."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render

from jobs.models import Job
from jobs.selectors import jobs_visible_to

from datasets.profiling import DatasetError, detect_format, read_table
from filestore import services as filestore
from mlcore.api import DataError

from .planner import TASKS, chosen_users
from .scoring import score_new_rows
from .selectors import NoScores, heldout_scores, job_plan


def _uplift_job(request: HttpRequest, pk: int) -> Job:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk, kind="uplift")
    if job.status != Job.Status.SUCCEEDED:
        raise Http404("The planner opens once the job has succeeded.")
    return job


def _plan_or_404(job: Job) -> dict:
    try:
        return job_plan(job)
    except NoScores as exc:
        raise Http404(str(exc)) from None


@login_required
def planner(request: HttpRequest, pk: int) -> HttpResponse:
    job = _uplift_job(request, pk)
    plan = _plan_or_404(job)
    arms = [(k, name) for k, name in sorted(plan["arms"].items(), key=lambda kv: int(kv[0])) if k != "0"]
    return render(request, "uplift/planner.html", {"job": job, "plan": plan, "arms": arms, "tasks": TASKS})


@login_required
def planner_data(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_plan_or_404(_uplift_job(request, pk)))


@login_required
def export_users(request: HttpRequest, pk: int) -> HttpResponse:
    """CSV of the held-out users the chosen plan targets: ?arm=<k>&task=ctr|ctcvr&share=0..1."""
    job = _uplift_job(request, pk)
    try:
        arm, task, share = int(request.GET.get("arm", "1")), request.GET.get("task", "ctr"), float(request.GET.get("share", "0.1"))
        users = chosen_users(heldout_scores(job), arm, task, share)
    except NoScores as exc:
        raise Http404(str(exc)) from None
    except (ValueError, KeyError) as exc:
        return HttpResponseBadRequest(f"Cannot export: {exc}. Use arm=1..K, task=ctr or ctcvr, share between 0 and 1.")
    return _csv(users, f"job-{job.pk}-arm{arm}-{task}-top{round(share * 100)}pct.csv")


def _csv(frame, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    frame.to_csv(response, index=False)
    return response


@login_required
def score_users(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload users with the training features (no outcomes needed); download their predicted uplift per arm."""
    job = _uplift_job(request, pk)
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if getattr(request, "upload_error", None):
            error = request.upload_error
        elif upload is None or not job.artifact_path:
            error = "Choose a CSV or Parquet file with the same feature columns as the training data."
        else:
            try:
                path = Path(upload.temporary_file_path())
                frame = read_table(path, detect_format(path))
                scored = score_new_rows(filestore.local_copy(job.artifact_path), frame)
            except (DataError, DatasetError, ValueError) as exc:
                error = str(exc)
            else:
                return _csv(scored, f"job-{job.pk}-uplift-scores.csv")
    features = [c["name"] for c in job.dataset.columns if c["role"] in ("categorical", "numeric", "user_id")]
    return render(request, "uplift/score.html", {"job": job, "error": error, "features": features},
                  status=400 if error else 200)
