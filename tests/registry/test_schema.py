"""The OpenAPI schema describes every operation's response: a client generated from it can read every answer."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def operations_without_response_schema(schema: dict) -> list[str]:
    """``METHOD /path`` of every operation whose success answer (2xx) has no schema; 204 needs none."""
    missing = []
    for route, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            answers = {code: r for code, r in operation.get("responses", {}).items() if str(code).startswith("2")}
            described = any(code == "204" or any(media.get("schema") for media in (r.get("content") or {}).values())
                            for code, r in answers.items())
            if not described:
                missing.append(f"{method.upper()} {route}")
    return missing


def test_every_operation_has_a_response_schema(api):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    import json

    schema = json.loads(response.content)
    assert "/api/scoring-jobs/" in schema["paths"] and "/api/uplift/jobs/{id}/plan/" in schema["paths"]
    assert operations_without_response_schema(schema) == []


def test_the_walk_catches_an_operation_without_one():
    schema = {"paths": {"/a/": {"get": {"responses": {"200": {"description": "no body described"}}}},
                        "/b/": {"delete": {"responses": {"204": {"description": "gone"}}}},
                        "/c/": {"post": {"responses": {"201": {"content": {"application/json": {"schema": {"type": "object"}}}}}}}}}
    assert operations_without_response_schema(schema) == ["GET /a/"]


def test_registry_operations_have_request_and_response_schemas(api):
    import json

    paths = json.loads(api.get("/api/schema/?format=json").content)["paths"]
    for route, method in (("/api/scoring-jobs/", "post"), ("/api/models/promote/", "post"),
                          ("/api/models/{name}/production/", "post"), ("/api/uplift/jobs/{id}/plan/", "post")):
        operation = paths[route][method]
        assert operation["requestBody"]["content"]["application/json"]["schema"], route
