"""Django side of the build-sequences job: register the built table as a new CTR dataset."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlcore.api import Algorithm, RunContext, RunResult

from .sequences import sequence_roles


def with_registered_table(algorithm: Algorithm) -> Algorithm:
    """The same job, which then creates a derived dataset from its table and names it in the summary."""

    def run(ctx: RunContext) -> RunResult:
        from datasets.models import Dataset
        from datasets.services import create_dataset
        from jobs.models import Job

        result = algorithm.run(ctx)
        job = Job.objects.select_related("dataset", "owner").get(pk=ctx.extra["job_id"])
        ctx.progress(0.9, "registering the new dataset")
        s = result.summary
        roles = sequence_roles(s["item_fields"], feedback=s["feedback"], event_fields=s["event_fields"])
        path = Path(ctx.workdir) / s["table_file"]
        with path.open("rb") as handle:
            dataset = create_dataset(
                owner=job.owner, source_file=handle, filename=f"{Path(job.dataset.name).stem}_sequences.parquet",
                name=f"{job.dataset.name}: sequences (job #{job.pk})", kind="ctr", role_overrides=roles,
                description=f"Behaviour sequences built by job #{job.pk} from `{job.dataset.name}` "
                            f"(max_len {ctx.params['max_len']}, split {ctx.params['split']}).",
                source=Dataset.Source.DERIVED, inline=True)  # already on a worker: profile here, ready at once
        path.unlink()  # the dataset keeps its own copy
        s.pop("table_file")
        s["built_dataset_id"], s["built_dataset_name"] = dataset.pk, dataset.name
        ctx.log(f"registered dataset #{dataset.pk} `{dataset.name}`")
        return result

    return replace(algorithm, run=run)
