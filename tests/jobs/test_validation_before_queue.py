"""Impossible settings are refused by submit_job before a job exists (page and API answer 400 naming the
field), and the split a CTR run really used is recorded and shown (issue 11)."""
from __future__ import annotations

import pytest

from datasets.services import create_dataset
from jobs import services
from jobs.models import Job
from jobs.registry import get_algorithm
from jobs.runner import execute_job
from mlcore.api import ParamError
from modeling.checks import check_ctr_request, effective_split_method

pytestmark = pytest.mark.django_db


@pytest.fixture
def split_dataset(user, tmp_path):
    path = tmp_path / "s.csv"
    rows = [f"{(i * 7) % 3 == 0:d},s{i % 5},{['train', 'train', 'train', 'valid', 'test'][i % 5]}" for i in range(200)]
    path.write_text("click,site,fold\n" + "\n".join(rows) + "\n")
    dataset = create_dataset(owner=user, source_file=path, filename="s.csv", name="with split",
                             role_overrides={"fold": "split"})
    assert dataset.roles["fold"] == "split", dataset.roles
    return dataset


@pytest.mark.parametrize("params,field", [
    ({"hidden_units": "abc"}, "hidden_units"),
    ({"hidden_units": "400,-1"}, "hidden_units"),
    ({"split_method": "time"}, "split_method"),
    ({"split_method": "column"}, "split_method"),
    ({"valid_frac": 0.5, "test_frac": 0.45}, "test_frac"),
])
def test_submit_refuses_what_would_fail_on_the_worker(user, ctr_dataset, params, field):
    with pytest.raises(services.JobError) as caught:
        services.submit_job(owner=user, dataset=ctr_dataset, algorithm="deepfm", params=params)
    assert field in caught.value.errors
    assert not Job.objects.exists()


def test_api_answers_400_with_the_field_name(api, ctr_dataset):
    response = api.post("/api/jobs/", {"dataset": ctr_dataset.pk, "algorithm": "deepfm",
                                       "params": {"hidden_units": "abc", "split_method": "time"}}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"hidden_units", "split_method"}
    assert not Job.objects.exists()


def test_new_job_page_shows_the_error_beside_the_field(client, user, ctr_dataset):
    client.force_login(user)
    algo = get_algorithm("deepfm")
    form = {f"param__{p.name}": str(p.default) for p in algo.params}
    form.update({"dataset": ctr_dataset.pk, "algorithm": "deepfm", "name": "", "device_preference": "auto",
                 "submit": "1", "param__hidden_units": "abc"})
    response = client.post("/jobs/new/", form)
    assert response.status_code == 200 and not Job.objects.exists()
    assert "expected comma-separated layer widths" in response.content.decode()


@pytest.mark.parametrize("key,params,field", [
    ("din", {"attention_units": "x,y"}, "attention_units"),
    ("awmoe", {"expert_units": ","}, "expert_units"),
    ("awmoe", {"gate_units": "0"}, "gate_units"),
    ("awmoe", {"query_field": "search"}, "query_field"),
    ("awmoe", {"query_field": "treatment"}, "query_field"),
    ("suan", {"split_method": "time"}, "split_method"),
    ("tin", {"temporal_encoding": "time"}, "temporal_encoding"),
    ("ecup", {"tower_hidden": "abc"}, "tower_hidden"),
    ("ecup", {"embedding_dim": 16, "attention_heads": 3}, "attention_heads"),
    ("tarnet", {"head_hidden": "1,2,3,4,5,6,7,8,9"}, "head_hidden"),
])
def test_every_algorithm_checks_its_lists_and_columns_before_running(key, params, field):
    roles = {"click": "label", "hist": "sequence", "site": "categorical", "treatment": "treatment",
             "conversion": "conversion"}
    with pytest.raises(ParamError) as caught:
        get_algorithm(key).validate_request(params, roles)
    assert field in caught.value.errors


def test_valid_settings_pass_the_precheck():
    roles = {"click": "label", "ts": "timestamp", "hist": "sequence"}
    for key in ("deepfm", "din", "awmoe", "suan", "tin"):
        get_algorithm(key).validate_request({"split_method": "time"}, roles)
    check_ctr_request({"hidden_units": "64, 32", "split_method": "random", "valid_frac": 0.1, "test_frac": 0.1}, {})


def test_a_split_column_replaces_the_random_split_and_the_job_says_so(client, user, split_dataset):
    assert effective_split_method({"split_method": "random"}, split_dataset.roles) == "column"
    assert effective_split_method({"split_method": "time"}, {"t": "timestamp"}) == "time"
    job = services.submit_job(owner=user, dataset=split_dataset, algorithm="lr", params={"epochs": 1})
    assert execute_job(job.pk, "pytest", 1) == "succeeded"
    job.refresh_from_db()
    assert job.params["split_method"] == "random" and job.summary["split_method"] == "column"
    assert "split (column)" in job.log_tail
    client.force_login(user)
    page = client.get(job.get_absolute_url()).content.decode()
    row = page[page.index('data-param="split_method"'):]
    row = row[:row.index("</tr>")]
    assert "column (asked: random; the dataset&#x27;s split column wins)" in row


def test_api_accepts_an_awmoe_query_column_and_refuses_one_the_dataset_lacks(api, user, tmp_path):
    path = tmp_path / "search.csv"
    path.write_text("click,query,hist\n" + "".join(f"{i % 2},q{i % 4},i{i % 5}|i{i % 7}\n" for i in range(60)))
    dataset = create_dataset(owner=user, source_file=path, filename="search.csv", name="search",
                             role_overrides={"query": "categorical", "hist": "sequence"})
    body = {"dataset": dataset.pk, "algorithm": "awmoe", "params": {"query_field": "search_terms"}}
    response = api.post("/api/jobs/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"query_field"}
    assert "no column `search_terms`" in response.json()["errors"]["query_field"]
    assert not Job.objects.exists()
    response = api.post("/api/jobs/", dict(body, params={"query_field": "query"}), format="json")
    assert response.status_code == 201, response.json()
    assert Job.objects.get().params["query_field"] == "query"
