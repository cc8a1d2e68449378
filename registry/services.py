"""Everything that changes the registry and starts scoring: promote, set production, submit a scoring job.

Pages, the API and tests call these, so a rule (one production version per name, columns checked
before a job exists) lives in one place.
"""
from __future__ import annotations

import json
import re

from django.conf import settings

from filestore import services as filestore
from django.db import IntegrityError, transaction
from django.db.models import Max

from datasets.models import Dataset
from jobs.models import Job
from jobs.services import enqueue_job

from .models import ModelVersion
from .serving import SCORABLE_KINDS, ScoringError, ServingSchema, check_columns, schema_for_run

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
SCHEMA_FILE = "serving_schema.json"
DEFAULT_CHUNK_ROWS = 65_536


class RegistryError(ValueError):
    """A registry or scoring request the analyst must fix; ``errors`` maps a field to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def run_schema(job: Job) -> ServingSchema:
    """The columns ``job``'s model reads, read from its artifact once and kept in its work folder."""
    if job.status != Job.Status.SUCCEEDED or not job.artifact_path:
        raise RegistryError({"job": f"Run {job.display_name} has not succeeded with a saved model."})
    cache = job.workdir / SCHEMA_FILE
    if cache.exists():
        return ServingSchema.from_dict(json.loads(cache.read_text()))
    try:
        schema = schema_for_run(job.kind, job.algorithm, filestore.local_copy(job.artifact_path), job.dataset.columns)
    except ScoringError as exc:
        raise RegistryError({"job": str(exc)}) from None
    cache.write_text(json.dumps(schema.to_dict()))
    return schema


def promote_run(*, job: Job, name: str, user, notes: str = "", production: bool = False) -> ModelVersion:
    """Register ``job`` as the next version of ``name`` (version = highest so far + 1)."""
    if not NAME_RE.match(name or ""):
        raise RegistryError({"name": "Use letters, digits, - and _ (up to 100 characters), starting with a letter or digit."})
    if job.kind not in SCORABLE_KINDS:
        raise RegistryError({"job": f"{job.kind} runs are not models; promote a CTR, uplift or attribute run."})
    schema = run_schema(job)
    taken = ModelVersion.objects.filter(name=name).exclude(job__owner=user).first()
    if taken and not user.is_staff:
        raise RegistryError({"name": f"`{name}` is another analyst's model; choose another name."})
    existing = ModelVersion.objects.filter(name=name).exclude(kind=job.kind).first()
    if existing:
        raise RegistryError({"name": f"`{name}` holds {existing.kind} models; give this {job.kind} run another name."})
    for _ in range(3):  # two promotions racing for the same number: the loser retries with the next one
        try:
            with transaction.atomic():
                number = (ModelVersion.objects.filter(name=name).aggregate(m=Max("version"))["m"] or 0) + 1
                version = ModelVersion.objects.create(
                    name=name, version=number, job=job, kind=job.kind, algorithm=job.algorithm, metrics=job.metrics,
                    schema=schema.to_dict(), notes=notes.strip(), created_by=user)
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - three lost races in a row
        raise RegistryError({"name": "Another promotion to this name happened at the same time; try again."})
    if production or version.version == 1:
        version = set_production(version)
    return version


def set_production(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the production version of its name; the previous one steps down in the same transaction."""
    with transaction.atomic():
        list(ModelVersion.objects.select_for_update().filter(name=version.name))  # serialise switches per name
        ModelVersion.objects.filter(name=version.name, is_production=True).exclude(pk=version.pk).update(is_production=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_production=True)
    version.refresh_from_db()
    return version


def resolve_source(*, user, source_job: Job | None = None, model_name: str = "",
                   model_version: int | None = None) -> tuple[Job, ModelVersion | None]:
    """The run to score with: the given run, or a registered model's chosen (default: production) version."""
    from .selectors import versions_visible_to

    if source_job is not None:
        return source_job, None
    if not model_name:
        raise RegistryError({"model": "Choose a finished run or a model name."})
    versions = versions_visible_to(user).filter(name=model_name)
    chosen = versions.filter(version=model_version).first() if model_version else versions.filter(is_production=True).first()
    if chosen is None:
        what = f"version {model_version}" if model_version else "a production version"
        raise RegistryError({"model": f"Model `{model_name}` has no {what} you can use."})
    return chosen.job, chosen


def submit_scoring_job(*, owner, dataset: Dataset, source_job: Job | None = None, model_name: str = "",
                       model_version: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, name: str = "") -> Job:
    """Check the new rows against the model's schema, then queue a scoring job on them.

    Raises :class:`RegistryError` naming the missing, extra or mistyped columns; no job exists then.
    """
    job, version = resolve_source(user=owner, source_job=source_job, model_name=model_name, model_version=model_version)
    schema = run_schema(job)
    if dataset.status != Dataset.Status.READY:
        raise RegistryError({"dataset": f"`{dataset.name}` did not pass validation."})
    problems = check_columns(schema, dataset.columns)
    if problems:
        raise RegistryError({"dataset": f"`{dataset.name}` does not fit {version.label if version else job.display_name}: "
                                        + " ".join(problems)})
    if not 1_000 <= int(chunk_rows) <= 1_000_000:
        raise RegistryError({"chunk_rows": "must be between 1,000 and 1,000,000"})
    params = {"source_job": job.pk, "model_version": version.pk if version else 0, "chunk_rows": int(chunk_rows)}
    label = version.label if version else job.display_name
    scoring = Job.objects.create(owner=owner, dataset=dataset, kind="scoring", algorithm="score", params=params,
                                 name=name.strip() or f"Score {dataset.name} with {label}"[:200])
    transaction.on_commit(lambda: enqueue_job(scoring.pk))
    return scoring


def submit_or_discard(*, owner, dataset: Dataset, **kwargs) -> Job:
    """:func:`submit_scoring_job` on a dataset uploaded just for it; a refused request deletes the upload again."""
    from datasets.services import delete_dataset

    try:
        return submit_scoring_job(owner=owner, dataset=dataset, **kwargs)
    except RegistryError:
        delete_dataset(dataset)
        raise




EXPORT_SAMPLE_ROWS = 256


def export_folder(version: ModelVersion):
    return settings.MEDIA_ROOT / "registry" / version.name / f"v{version.version}"


def export_version(version: ModelVersion) -> dict:
    """TorchScript (+ ONNX where it exports), encoder.json and the model card of a CTR version, written once.

    Returns the card. Raises :class:`RegistryError` for kinds that do not export.
    """
    from datasets.services import columnar_table

    from . import export as E
    from .serving import CTRScorer

    folder = export_folder(version)
    card_path = folder / E.CARD_FILE
    if card_path.exists():
        return json.loads(card_path.read_text())
    job = version.job
    if job.kind != "ctr":
        raise RegistryError({"version": f"{job.kind} models are not exported (uplift nets return several heads per "
                                        "arm; HyperPAVE needs the product graph): score them with a scoring job."})
    scorer = CTRScorer(filestore.local_copy(job.artifact_path), job.algorithm, run_schema(job))
    table = columnar_table(job.dataset)
    sample = next(table.iter_frames(scorer.read_columns(table.columns), batch_rows=EXPORT_SAMPLE_ROWS))
    encoded = scorer.encoder.transform(sample)
    folder.mkdir(parents=True, exist_ok=True)
    exports: dict[str, str] = {}
    try:
        E.export_torchscript(scorer.net, encoded, folder / E.TORCHSCRIPT_FILE)
        exports["torchscript"] = E.TORCHSCRIPT_FILE
    except (E.ExportError, RuntimeError) as exc:
        exports["torchscript"] = f"not exported: {exc}"
    why = E.export_onnx(scorer.net, encoded, folder / E.ONNX_FILE)
    exports["onnx"] = E.ONNX_FILE if not why else f"not exported: {why}"
    encoder = scorer.encoder.to_dict()
    (folder / E.ENCODER_FILE).write_text(json.dumps(encoder))
    dataset = job.dataset
    card = E.model_card(name=version.name, version=version.version, algorithm=job.algorithm, params=job.params,
                        encoder=encoder, metrics=job.metrics, inputs=E.input_contract(encoded), exports=exports,
                        dataset={"name": dataset.name, "rows": dataset.n_rows, "sha256": dataset.sha256,
                                 "file": dataset.original_filename})
    (folder / E.CARD_MD_FILE).write_text(E.card_markdown(card))
    card_path.write_text(json.dumps(card, indent=2))
    return card
