"""Every page and API view answers hostile query strings, path values and form fields with a 4xx or
a page that says what is wrong, never a 500 (issue 11: ``/jobs/compare/?dataset=abc`` was a 500).

The URL conf is walked, so a view added later is probed too.
"""
from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from mlcore.querystring import parse_float, parse_ids, parse_int

pytestmark = pytest.mark.django_db

# every query/form parameter a view reads today, plus the DRF ones
PARAMS = ("dataset", "ids", "status", "kind", "algorithm", "after", "size", "min_confidence", "arm", "task",
          "share", "page", "cursor", "q", "search", "category", "attribute", "value", "format", "decision", "name",
          "ordering", "device_preference", "submit", "mode", "cost", "revenue", "page_size")
HOSTILE = ("abc", "²", "-1", "1e999", "nan", "99999999999999999999999", "1.5", "", "[]", "0", "\x00")
PATH_INTS = ("0", "99999999999999999999999", "9223372036854775807")
PATH_STRS = ("abc", "csv.gz", "..", "%2e%2e", "xlsx")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _routes() -> list[str]:
    """Every route as a template with ``{int}`` / ``{str}`` holes; the admin (Django's own) left out."""
    out = set()
    for route in _walk(get_resolver().url_patterns):
        if route.startswith("admin/") or "format>" in route:
            continue
        route = route.replace("^", "").replace("$", "").replace("\\.", ".")
        route = re.sub(r"<int:\w+>", "{int}", route)
        route = re.sub(r"<(?:str|slug|path):\w+>", "{str}", route)
        route = re.sub(r"\(\?P<\w+>[^)]*\)", "{int}", route)
        out.add("/" + route)
    return sorted(out)


@pytest.fixture
def world(user, tmp_path):
    """A CTR dataset, a finished job of each kind and one extracted value, all owned by ``user``."""
    from attributes.models import ExtractedValue
    from datasets.services import create_dataset
    from jobs.models import Job

    path = tmp_path / "d.csv"
    path.write_text("click,site\n" + "".join(f"{i % 2},s{i % 3}\n" for i in range(40)))
    dataset = create_dataset(owner=user, source_file=path, filename="d.csv", name="tiny")
    jobs = [Job.objects.create(owner=user, dataset=dataset, kind=kind, algorithm=algo, status=Job.Status.SUCCEEDED,
                               metrics={"auc": 0.7}, params={"epochs": 1})
            for kind, algo in (("ctr", "lr"), ("uplift", "ecup"), ("attributes", "hyperpave"))]
    value = ExtractedValue.objects.create(job=jobs[2], dataset=dataset, product_id="p1", title="=cmd", attribute="Color",
                                          value="Red", confidence=0.5)
    return {"dataset": str(dataset.pk), "value": str(value.pk), "ctr": str(jobs[0].pk), "uplift": str(jobs[1].pk),
            "attributes": str(jobs[2].pk)}


def _real_id(route: str, world) -> str:
    """The id of the fixture object a route's view reads, so hostile parameters reach the parsing code."""
    for needle, key in (("datasets/", "dataset"), ("values/{int}", "value"), ("uplift/", "uplift"),
                        ("attributes/jobs/", "attributes")):
        if needle in route:
            return world[key]
    return world["ctr"]


def _urls(world) -> list[str]:
    """Every route with real objects in its path (formats: the known ones)."""
    return [route.replace("{int}", _real_id(route, world)).replace("{str}", fmt)
            for route in _routes() for fmt in (("csv", "parquet") if "{str}" in route else ("",))]


def _hostile_paths() -> list[str]:
    """Every route with hostile path values (huge ids, odd formats)."""
    out = []
    for route in _routes():
        if "{int}" in route or "{str}" in route:
            for i in PATH_INTS:
                for fmt in PATH_STRS if "{str}" in route else ("",):
                    out.append(route.replace("{int}", i).replace("{str}", fmt))
    return out


def test_url_walk_finds_the_views_that_parse_parameters():
    routes = _routes()
    for expected in ("/jobs/compare/", "/attributes/jobs/{int}/export.{str}", "/api/jobs/{int}/",
                     "/uplift/jobs/{int}/planner/users.csv", "/api/attributes/jobs/{int}/values/"):
        assert expected in routes


def test_no_view_answers_a_hostile_query_string_with_a_server_error(client, user, world):
    client.force_login(user)
    failures = []
    for url in _urls(world):
        for value in HOSTILE:
            response = client.get(url, {name: value for name in PARAMS})
            if response.status_code >= 500:
                failures.append(f"GET {url} ={value!r}: {response.status_code}")
        for name in ("dataset", "ids", "after", "size", "min_confidence", "share", "arm", "page"):
            response = client.get(url, {name: "²"})
            if response.status_code >= 500:
                failures.append(f"GET {url} {name}=²: {response.status_code}")
    assert not failures, failures


def test_no_view_answers_a_hostile_path_value_with_a_server_error(client, user, world):
    client.force_login(user)
    failures = [f"GET {url}: {r.status_code}" for url in _hostile_paths()
                if (r := client.get(url)).status_code >= 500]
    assert not failures, failures
    # a real object with a format that is not one: 404, not CSV under another name
    assert client.get(f"/attributes/jobs/{world['attributes']}/export.xlsx").status_code == 404


def test_no_view_answers_hostile_form_fields_with_a_server_error(client, user, world):
    client.force_login(user)
    failures = []
    for url in _urls(world):
        if any(word in url for word in ("delete", "cancel", "rerun", "logout")):
            continue
        for value in ("abc", "²", "99999999999999999999999", "\x00"):
            response = client.post(url, {name: value for name in PARAMS})
            if response.status_code >= 500:
                failures.append(f"POST {url} ={value!r}: {response.status_code}")
    assert not failures, failures


def test_compare_with_a_dataset_that_is_not_an_id_says_so(client, user, world):
    client.force_login(user)
    response = client.get("/jobs/compare/", {"dataset": "abc"})
    assert response.status_code == 200
    assert "is not a dataset id" in response.content.decode()


def test_parsers_refuse_what_int_and_float_would_crash_on():
    assert parse_int("²") is None and parse_int("12") == 12 and parse_int("99999999999999999999999") is None
    assert parse_int("-3") is None and parse_int("٣") is None
    assert parse_ids(["3", "x", "3", "²", "4"]) == [3, 4]
    assert parse_float("1e999") is None and parse_float("nan") is None and parse_float("0.25") == 0.25
