"""Read-only queries on jobs and workers.

List queries read only the columns their page shows (never ``curves`` or ``log_tail``, nor the
dataset's ``columns``/``preview`` JSON), are bounded, and walk an index in their order (see the
``Job.Meta.indexes`` and ``tests/test_list_query_plans.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from .leaderboard import (TOP_N, leaderboard_columns, metric_cells, pick_headline, reference_label, reference_rows,
                          summary_cell)
from mlcore.querystring import parse_int

from .models import Job, Worker

# What a row of the job list (page and API) shows; ``metrics``/``summary``/``params`` are small dicts.
LIST_FIELDS = ("id", "name", "kind", "algorithm", "status", "progress", "phase", "device", "created_at",
               "started_at", "finished_at", "heartbeat_at", "dataset", "owner", "dataset__id", "dataset__name",
               "headline_metric", "headline_value")
API_LIST_FIELDS = LIST_FIELDS + ("params", "metrics", "summary", "cancel_requested", "device_preference", "queue",
                                 "celery_task_id", "worker", "attempts", "error")
LEADERBOARD_FIELDS = ("id", "name", "kind", "algorithm", "status", "metrics", "summary", "finished_at", "dataset_id",
                      "owner_id", "headline_metric", "headline_value", "headline_score")
PICKER_FIELDS = ("id", "name", "algorithm", "dataset_id", "headline_metric", "headline_value", "headline_score")


def jobs_visible_to(user) -> QuerySet[Job]:
    """Staff see every job; everyone else only their own."""
    qs = Job.objects.select_related("dataset", "owner")
    if user.is_staff:
        return qs
    return qs.filter(owner=user)


def _visible(user) -> QuerySet[Job]:
    qs = Job.objects.all()
    return qs if user.is_staff else qs.filter(owner=user)


@dataclass
class JobFilters:
    """The job list's filters, as the page and the API read them from the query string."""

    status: str = ""
    kind: str = ""
    algorithm: str = ""
    dataset: int | None = None
    q: str = ""

    @classmethod
    def from_query(cls, query) -> "JobFilters":
        def text(name: str) -> str:
            return str(query.get(name, "") or "").strip()[:200]

        status = text("status")
        dataset = text("dataset")
        return cls(status=status if status in Job.Status.values else "", kind=text("kind"),
                   algorithm=text("algorithm"), dataset=parse_int(dataset, minimum=1),
                   q=text("q"))

    def apply(self, qs: QuerySet[Job]) -> QuerySet[Job]:
        if self.status:
            qs = qs.filter(status=self.status)
        if self.kind:
            qs = qs.filter(kind=self.kind)
        if self.algorithm:
            qs = qs.filter(algorithm=self.algorithm)
        if self.dataset is not None:
            qs = qs.filter(dataset_id=self.dataset)
        if self.q:
            qs = qs.filter(Q(name__icontains=self.q) | Q(algorithm__icontains=self.q))
        return qs


def job_list(user, filters: JobFilters | None = None, *, api: bool = False) -> QuerySet[Job]:
    """The job list's rows, newest first (paged by cursor on ``-created_at, -id``).

    The owner's name (API rows only) comes in a second query: joining ``auth_user`` into the page
    query made SQLite's planner read and sort every job of the owner instead of walking the index.
    """
    qs = (filters or JobFilters()).apply(_visible(user)).select_related("dataset")
    if api:
        qs = qs.prefetch_related(Prefetch("owner", queryset=get_user_model().objects.only("id", "username")))
    return qs.only(*(API_LIST_FIELDS if api else LIST_FIELDS)).order_by("-created_at", "-id")


def recent_jobs(user, n: int = 8) -> list[Job]:
    return list(job_list(user)[:n])


def job_for_page(user, pk: int) -> Job:
    """One job with everything its page shows, but not the dataset's column statistics and preview."""
    return (jobs_visible_to(user).defer("dataset__columns", "dataset__preview", "dataset__description")
            .get(pk=pk))


def leaderboard_queryset(user, dataset_id: int, metric: str) -> QuerySet[Job]:
    """Finished runs of a dataset whose headline is ``metric``, best first (one index walk)."""
    if not metric:
        return Job.objects.none()
    return (_visible(user).filter(dataset_id=dataset_id, status=Job.Status.SUCCEEDED, headline_metric=metric)
            .only(*LEADERBOARD_FIELDS).order_by("-headline_score", "-id"))


LEADERBOARD_ORDERING = ("-headline_score", "-id")


MAX_HEADLINE_METRICS = 20


def headline_metrics(user, dataset_id: int) -> list[str]:
    """The headline metrics the dataset's finished runs report (usually one), sorted.

    Read by skipping along the leaderboard index (``dataset, status, headline_metric, …``): one
    ``LIMIT 1`` probe per metric plus one that finds none, so the cost does not grow with the runs
    (a ``DISTINCT`` read every finished run of the dataset: ~9 ms at 2,000 runs on PostgreSQL).
    """
    qs = (_visible(user).filter(dataset_id=dataset_id, status=Job.Status.SUCCEEDED)
          .order_by("headline_metric").values_list("headline_metric", flat=True))
    found: list[str] = []
    while len(found) < MAX_HEADLINE_METRICS:
        metric = qs.filter(headline_metric__gt=found[-1] if found else "").first()
        if metric is None:
            break
        found.append(metric)
    return found


def leaderboard_metric(user, dataset_id: int, asked: str = "") -> tuple[str, list[str]]:
    """The metric to rank by (``asked`` when the runs report it, else the most preferred) and all of them."""
    present = headline_metrics(user, dataset_id)
    return (asked if asked in present else pick_headline(present)), present


@dataclass
class Leaderboard:
    """What a leaderboard panel shows: the ranked runs of one headline metric and their columns."""

    metric: str
    metrics: list[str]  # every headline metric the dataset's runs report (a menu when more than one)
    runs: list[Job]
    columns: list
    references: list
    more: bool = False  # more runs than shown: link to the paged leaderboard


def _board(metric: str, present: list[str], runs: list[Job], more: bool = False) -> Leaderboard:
    columns = leaderboard_columns(runs)
    if metric and columns and columns[0].key != metric:  # the ranked metric always leads
        columns = [c for c in columns if c.key == metric] + [c for c in columns if c.key != metric]
    for job in runs:  # S-learner and text-similarity runs are references, not contenders
        job.reference_label = reference_label(job)
        job.metric_cells = metric_cells(job.metrics, columns)
        job.speed_cell = summary_cell(job.summary, "samples_per_s")
        job.size_cell = summary_cell(job.summary, "params_count")
    return Leaderboard(metric, present, runs, columns, reference_rows(runs), more)


def leaderboard_top(user, dataset_id: int, asked: str = "", n: int = TOP_N) -> Leaderboard:
    """The dataset page's panel: the best ``n`` runs (one index walk) and whether there are more."""
    metric, present = leaderboard_metric(user, dataset_id, asked)
    if not metric:
        return _board("", present, [])
    runs = list(leaderboard_queryset(user, dataset_id, metric)[:n + 1])
    return _board(metric, present, runs[:n], more=len(runs) > n)


def leaderboard_from_page(metric: str, present: list[str], runs: list[Job]) -> Leaderboard:
    return _board(metric, present, runs)


def live_workers() -> QuerySet[Worker]:
    """Workers whose heartbeat is recent enough to trust."""
    cutoff = timezone.now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)
    return Worker.objects.filter(online=True, last_seen__gte=cutoff)


def gpu_worker_available(queue: str | None = None) -> bool:
    """Whether a live worker with CUDA consumes ``queue`` (default: the one-GPU queue)."""
    queue = queue or settings.JOB_QUEUE_GPU
    return any(w.has_cuda and queue in w.queues for w in live_workers())
