"""The OpenAPI schema is true and complete (issue 11): generated with no warning, typed ids, the real shape
of /api/algorithms/, every status code documented, downloads with their content types; and a
schemathesis run against a live server with a token finds no 5xx and no response outside the schema."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))  # raises on any warning
    return yaml.safe_load(path.read_text())


def _op(schema, path, method):
    return schema["paths"][path][method]


def test_every_id_path_parameter_is_an_integer(schema):
    """Database ids and versions are integers; the other path values are typed too (a model's name is a
    slug, an upload session a UUID)."""
    other = {("name", "string", None), ("id", "string", "uuid")}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p["in"] != "path":
                    continue
                typed = (p["name"], p["schema"]["type"], p["schema"].get("format"))
                if p["name"] == "id" and path.startswith("/api/uploads/"):
                    assert typed == ("id", "string", "uuid"), (path, method, p)
                elif p["name"] in ("id", "pk", "version") or p["name"].endswith("_id"):
                    assert p["schema"]["type"] == "integer", (path, method, p)
                else:
                    assert typed in other, (path, method, p)


def test_algorithms_is_documented_as_the_array_it_returns(schema, api):
    response = _op(schema, "/api/algorithms/", "get")["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["type"] == "array" and "$ref" in response["items"]
    assert isinstance(api.get("/api/algorithms/").json(), list)


def test_attribute_endpoints_have_serializers(schema):
    values = _op(schema, "/api/attributes/jobs/{id}/values/", "get")
    assert {p["name"] for p in values["parameters"]} >= {"id", "min_confidence", "after", "size", "status"}
    review = _op(schema, "/api/attributes/values/{value_id}/review/", "post")
    assert {"200", "400", "404", "409"} <= set(review["responses"])


def test_error_codes_the_views_return_are_documented(schema):
    assert {"201", "400", "401", "403"} <= set(_op(schema, "/api/jobs/", "post")["responses"])
    assert {"201", "400", "409", "404"} <= set(_op(schema, "/api/jobs/{id}/rerun/", "post")["responses"])
    assert {"201", "400", "413"} <= set(_op(schema, "/api/datasets/", "post")["responses"])
    assert {"200", "404", "401"} <= set(_op(schema, "/api/jobs/{id}/", "get")["responses"])
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert "401" in op["responses"], (path, method)


def test_downloads_document_binary_content_types(schema):
    content = _op(schema, "/api/datasets/{id}/download/", "get")["responses"]["200"]["content"]
    assert {"text/csv", "application/gzip", "application/vnd.apache.parquet"} <= set(content)
    assert all(c["schema"]["format"] == "binary" for c in content.values())


def test_metrics_response_has_an_explicit_schema(schema):
    ref = _op(schema, "/api/jobs/{id}/metrics/", "get")["responses"]["200"]["content"]["application/json"]["schema"]
    name = ref["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][name]["properties"]) == {"status", "metrics", "summary"}


@pytest.fixture
def throwaway_objects(user, tmp_path):
    """A token and objects the fuzzer may cancel, re-run or delete: datasets, jobs in each state, values."""
    from rest_framework.authtoken.models import Token

    from attributes.models import ExtractedValue
    from datasets.services import create_dataset
    from jobs.models import Job

    path = tmp_path / "d.csv"
    path.write_text("click,site,price\n" + "".join(f"{i % 2},s{i % 3},{i * 0.5}\n" for i in range(60)))
    datasets = [create_dataset(owner=user, source_file=path, filename="d.csv", name=f"throwaway {i}") for i in range(3)]
    for status in ("queued", "running", "succeeded", "failed", "cancelled", "failed", "succeeded"):
        Job.objects.create(owner=user, dataset=datasets[0], kind="ctr", algorithm="lr", status=status,
                           params={"epochs": 1}, metrics={"auc": 0.6} if status == "succeeded" else {})
    attr = Job.objects.create(owner=user, dataset=datasets[1], kind="attributes", algorithm="text_similarity",
                              status="succeeded", params={"n_splits": 1})
    for i in range(5):
        ExtractedValue.objects.create(job=attr, dataset=datasets[1], product_id=f"p{i}", title=f"red shoe {i}",
                                      attribute="Color", value="Red", confidence=0.5)
    return Token.objects.create(user=user).key


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, reset_sequences=True)  # ids from 1: the fuzzer's small ids hit real objects
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, throwaway_objects, tmp_path):
    command = [
        str(Path(sys.executable).parent / "st"), "run", f"{live_server.url}/api/schema/",
        "--header", f"Authorization: Token {throwaway_objects}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--max-examples", "5", "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "11",
        "--request-timeout", "20", "--max-time", "60", "--continue-on-failure", "--no-shrink",
        # multipart uploads: the upload endpoint has its own tests (tests/datasets); random bytes only
        # exercise the profiler the ingest work owns
        "--exclude-operation-id", "datasets_create",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=tmp_path,
                         env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    output = run.stdout + run.stderr
    report = Path(settings.VAR_DIR) / "schemathesis-report.txt"  # the whole run, for reading after a failure
    report.write_text(output)
    assert run.returncode == 0, f"(whole report: {report})\n" + output[-8000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]
