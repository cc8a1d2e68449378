"""The model registry: versions per name, exactly one production version, pages that list them side by side."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from registry import services
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_versions_count_up_per_name_and_the_first_is_production(user, ctr_run):
    first = services.promote_run(job=ctr_run, name="clicks", user=user, notes=" first ")
    second = services.promote_run(job=ctr_run, name="clicks", user=user)
    other = services.promote_run(job=ctr_run, name="other", user=user)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.is_production and not second.is_production and first.notes == "first"
    assert first.schema["features"] == {"user": "categorical", "site": "categorical", "price": "numeric"}
    assert first.metrics == ctr_run.metrics


def test_switching_production_keeps_exactly_one(user, ctr_run):
    v1 = services.promote_run(job=ctr_run, name="clicks", user=user)
    v2 = services.promote_run(job=ctr_run, name="clicks", user=user, production=True)
    v3 = services.promote_run(job=ctr_run, name="clicks", user=user)
    assert list(ModelVersion.objects.filter(name="clicks", is_production=True)) == [v2]
    services.set_production(v3)
    assert list(ModelVersion.objects.filter(name="clicks", is_production=True).values_list("version", flat=True)) == [3]
    v1.refresh_from_db()
    assert not v1.is_production


def test_the_database_refuses_a_second_production_version(user, ctr_run):
    services.promote_run(job=ctr_run, name="clicks", user=user)
    v2 = services.promote_run(job=ctr_run, name="clicks", user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=v2.pk).update(is_production=True)


def test_bad_names_other_kinds_and_other_analysts_names_are_refused(user, other_user, ctr_run, uplift_run):
    with pytest.raises(services.RegistryError, match="letters, digits"):
        services.promote_run(job=ctr_run, name="no spaces", user=user)
    services.promote_run(job=ctr_run, name="clicks", user=user)
    with pytest.raises(services.RegistryError, match="holds ctr models"):
        services.promote_run(job=uplift_run, name="clicks", user=user)
    ctr_run.owner = other_user
    with pytest.raises(services.RegistryError, match="another analyst"):
        services.promote_run(job=ctr_run, name="clicks", user=other_user)


def test_model_page_lists_versions_side_by_side_and_switches_production(client, user, ctr_run):
    services.promote_run(job=ctr_run, name="clicks", user=user, notes="baseline")
    services.promote_run(job=ctr_run, name="clicks", user=user)
    client.force_login(user)
    page = client.get("/registry/models/clicks/").content.decode()
    assert page.count("data-version=") == 2 and "baseline" in page and f"{ctr_run.metrics['auc']:.4f}" in page
    response = client.post("/registry/models/clicks/v2/production/")
    assert response.status_code == 302
    assert ModelVersion.objects.get(name="clicks", is_production=True).version == 2
    assert "clicks" in client.get("/registry/").content.decode()


def test_job_page_offers_promotion_and_the_form_promotes(client, user, ctr_run):
    client.force_login(user)
    assert "promote-submit" in client.get(ctr_run.get_absolute_url()).content.decode()
    response = client.post(f"/registry/runs/{ctr_run.pk}/promote/", {"name": "from-page", "notes": "n"})
    assert response.status_code == 302 and response["Location"] == "/registry/models/from-page/"
    assert ModelVersion.objects.get(name="from-page").job == ctr_run


def test_pages_of_new_rows_predictions_and_the_scoring_job_render(client, user, ctr_run, tmp_path):
    from datasets.models import Dataset

    from .conftest import clicks_frame, run, save

    rows = save(clicks_frame(200, seed=3), tmp_path / "rows.csv", user, "rows", "tomorrow")
    job = run(services.submit_scoring_job(owner=user, dataset=rows, source_job=ctr_run))
    predictions = Dataset.objects.get(pk=job.summary["predictions_dataset_id"])
    client.force_login(user)
    for url in (rows.get_absolute_url(), predictions.get_absolute_url(), "/registry/score/", f"/registry/score/?run={ctr_run.pk}",
                "/jobs/?kind=scoring", "/registry/"):
        assert client.get(url).status_code == 200, url
    page = client.get(job.get_absolute_url()).content.decode()
    assert "Scored 200 rows" in page and 'data-metric="auc"' in page and "promote-submit" not in page
    assert client.get(f"/registry/scoring/{job.pk}/predictions.xlsx").status_code == 404
