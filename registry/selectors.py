"""Reading the registry and scoring jobs, limited to what a user may see."""
from __future__ import annotations

from django.db.models import QuerySet

from jobs.models import Job
from jobs.selectors import jobs_visible_to

from .models import ModelVersion


def versions_visible_to(user) -> QuerySet[ModelVersion]:
    """Versions of runs the user may see (their own; staff see all)."""
    return ModelVersion.objects.filter(job__in=jobs_visible_to(user)).select_related("job", "created_by")


def model_names(user) -> list[dict]:
    """One entry per model name: its versions count, latest version and production version."""
    names: dict[str, dict] = {}
    for v in versions_visible_to(user).order_by("name", "-version"):
        entry = names.setdefault(v.name, {"name": v.name, "kind": v.kind, "versions": 0, "latest": v, "production": None})
        entry["versions"] += 1
        if v.is_production:
            entry["production"] = v
    return list(names.values())


def scoring_jobs_visible_to(user) -> QuerySet[Job]:
    return jobs_visible_to(user).filter(kind="scoring")


def scorable_runs(user) -> QuerySet[Job]:
    """Finished runs with a saved model that a scoring job can use."""
    return jobs_visible_to(user).filter(status=Job.Status.SUCCEEDED, kind__in=("ctr", "uplift", "attributes")) \
        .exclude(artifact_path="").exclude(algorithm="build_sequences")
