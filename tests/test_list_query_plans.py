"""Every list query walks an index in its order on PostgreSQL (EXPLAIN), at realistic row counts.

The test requests each list page and list endpoint through the test client (so the SQL is exactly
what the views and selectors send), captures every SELECT on the big tables (jobs, datasets,
extracted values) and asks PostgreSQL for its plan with the same statistics a production
database would have: 10,000 jobs over 4 datasets plus 300 small datasets, and 100,000 extracted
values on one attribute job, inserted by ``INSERT … SELECT … generate_series`` from a template row
made by the ORM (so new columns with defaults never break it), then ``ANALYZE``.

A plan fails when it has

- a ``Seq Scan`` on a big table: the list would read every row of the table, however few it shows;
  A capped count (the admin's ``COUNT(*)`` over ``LIMIT 10,000`` with no filter on the scan) may read
  up to that many rows in any order, so a Seq Scan under such a Limit is allowed;
- a ``Sort`` (including a top-N heapsort under a ``Limit``) whose input the planner expects to be
  more than ``BOUNDED_SORT_ROWS`` rows. Sorting a handful of rows the query already bounded (the five
  runs picked for comparison, the statuses of a ``GROUP BY``) is fine; sorting the thousands of rows
  a filter matched, to keep the first 50, is what an index in the list's order avoids — its cost
  grows with the table, which is the problem this test guards against.

``Bitmap`` scans are allowed only when no Sort above them breaks the rule. Counts over one job's
values (the browser's status counts, cached per review decision) read an index, never the table.
Search (``q``, a substring of a name, algorithm, title or value) has two good plans, and the test
asks for a common and a rare term: a common term is a filter on the walk of the list's index (a
page of matches comes quickly), a rare one reads its few rows from a trigram index
(``pg_trgm``, migrations ``*_trigram_index*``) and sorts only them.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attributes.models import ExtractedValue
from ctrsite.pagination import CappedCountPaginator
from datasets.models import Dataset
from jobs.leaderboard import headline_fields
from jobs.models import Job

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db]

BIG_TABLES = {Job._meta.db_table, Dataset._meta.db_table, ExtractedValue._meta.db_table}
BOUNDED_SORT_ROWS = 200
COUNT_CAP = CappedCountPaginator.CAP
N_JOBS, N_VALUES, N_SMALL_DATASETS = 10_000, 100_000, 3_000


def clone(model, template_pk: int, n: int, overrides: dict[str, str]) -> None:
    """Insert ``n`` copies of one row, with SQL expressions of ``g`` (1..n) for some columns."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    table = model._meta.db_table
    select = ", ".join(overrides.get(c, f'"{c}"') for c in columns).replace("%", "%%")
    quoted = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{table}" ({quoted}) SELECT {select} FROM "{table}", generate_series(1, %s) AS g '
                       f'WHERE "{table}".id = %s', [n, template_pk])
        cursor.execute(f'DELETE FROM "{table}" WHERE id = %s', [template_pk])


@pytest.fixture
def big_site(django_user_model):
    analyst = django_user_model.objects.create_user("analyst", password="pw-analyst-123")
    colleague = django_user_model.objects.create_user("colleague", password="pw-colleague-123")
    staff = django_user_model.objects.create_user("admin", password="pw-admin-123", is_staff=True, is_superuser=True)
    common = dict(file_format="csv", size_bytes=1000, sha256="0" * 64, n_rows=100_000,
                  columns=[{"name": f"C{i}", "role": "categorical", "dtype": "str", "stats": "x" * 200} for i in range(40)],
                  preview={"columns": ["C0"], "rows": [["a" * 30]] * 20})
    big = [Dataset.objects.create(owner=analyst, name=f"criteo {i}", kind="ctr", file_path=f"d/{i}.csv",
                                  original_filename=f"{i}.csv", **common) for i in range(4)]
    catalogue = Dataset.objects.create(owner=analyst, name="catalogue", kind="attributes", file_path="d/cat.csv",
                                       original_filename="cat.csv", **common)
    small = Dataset.objects.create(owner=analyst, name="small", kind="ctr", file_path="d/s.csv",
                                   original_filename="s.csv", **common)
    clone(Dataset, small.pk, N_SMALL_DATASETS, {
        "name": "'small ' || g", "owner_id": f"CASE WHEN g % 3 = 0 THEN {colleague.pk} ELSE {analyst.pk} END",
        "created_at": "now() - g * interval '1 hour'"})

    metrics = {"auc": 0.78, "logloss": 0.45, "gauc": 0.7, "auc_low": 0.77, "auc_high": 0.79, "n_test": 10_000}
    template = Job.objects.create(owner=analyst, dataset=big[0], kind="ctr", algorithm="deepfm", status="succeeded",
                                  metrics=metrics, summary={"samples_per_s": 20_000.0, "params_count": 123_456},
                                  curves={"roc": {"fpr": [i / 400 for i in range(400)], "tpr": [0.5] * 400}},
                                  log_tail="epoch 1/5 ...\n" * 300, params={"epochs": 5, "batch_size": 256})
    dataset_ids = "ARRAY[" + ",".join(str(d.pk) for d in big) + "]"
    algorithms = "ARRAY['deepfm','dcnv2','lr','din','qin','tin']"
    clone(Job, template.pk, N_JOBS, {
        "owner_id": f"CASE WHEN g % 10 = 0 THEN {colleague.pk} ELSE {analyst.pk} END",
        "dataset_id": f"({dataset_ids})[1 + g % 4]",
        "algorithm": f"({algorithms})[1 + g % 6]",
        "name": "CASE WHEN g % 997 = 0 THEN 'tuned run ' || g ELSE '' END",
        "status": "CASE WHEN g % 200 = 0 THEN 'running' WHEN g % 199 = 0 THEN 'queued' "
                  "WHEN g % 10 = 3 THEN 'failed' WHEN g % 33 = 0 THEN 'cancelled' ELSE 'succeeded' END",
        "created_at": "now() - (10001 - g) * interval '5 minutes'",
        "headline_value": "0.70 + (g % 1000) / 10000.0", "headline_score": "0.70 + (g % 1000) / 10000.0",
    })
    assert headline_fields(metrics)["headline_metric"] == "auc"

    job = Job.objects.create(owner=analyst, dataset=catalogue, kind="attributes", algorithm="hyperpave",
                             status="succeeded", metrics={"micro_f1": 0.8},
                             curves={"extraction": {"categories": {f"cat{i}": 1000 for i in range(12)},
                                                    "attributes": [f"attr{i}" for i in range(8)]}})
    value = ExtractedValue.objects.create(job=job, dataset=catalogue, product_id="p", title="t", category="c",
                                          attribute="a", value="v", confidence=0.5,
                                          evidence_text="A long product description " * 8)
    clone(ExtractedValue, value.pk, N_VALUES, {
        "product_id": "'p' || (g / 8)", "attribute": "'attr' || (g % 8)", "value": "'value' || (g % 8) || '_' || (g % 40)",
        "category": "'cat' || ((g / 8) % 12)", "title": "'Product ' || (g / 8) || ' in colour red, size M'",
        "confidence": "((g * 7919) % 1000) / 1000.0",
        "status": "CASE WHEN g % 100 < 35 THEN 'from_labels' WHEN g % 100 < 38 THEN 'accepted' "
                  "WHEN g % 100 < 40 THEN 'rejected' ELSE 'predicted' END",
        "split": "CASE WHEN g % 10 = 0 THEN 'test' ELSE 'unlabelled' END",
    })
    with connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(f'ANALYZE "{table}"')
    return {"analyst": analyst, "staff": staff, "dataset": big[1], "job": job}


def _nodes(plan: dict, parents: tuple = ()):
    yield plan, parents
    for child in plan.get("Plans", []):
        yield from _nodes(child, parents + (plan,))


def plan_problems(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    problems = []
    for node, parents in _nodes(plan):
        kind = node["Node Type"]
        capped = "Filter" not in node and any(p["Node Type"] == "Limit" and p["Plan Rows"] <= COUNT_CAP for p in parents)
        if kind == "Seq Scan" and node.get("Relation Name") in BIG_TABLES and not capped:
            problems.append(f"Seq Scan on {node['Relation Name']}")
        if kind in ("Sort", "Incremental Sort"):
            rows = sum(child.get("Plan Rows", 0) for child in node.get("Plans", []))
            if rows > BOUNDED_SORT_ROWS:
                problems.append(f"{kind} of ~{rows} rows on {node.get('Sort Key')}")
    return problems


def _cursor_at(position: str) -> str:
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


def test_every_list_query_walks_an_index(client, big_site):
    analyst, staff, dataset, job = big_site["analyst"], big_site["staff"], big_site["dataset"], big_site["job"]
    mine = Job.objects.filter(owner=analyst)
    deep = mine.order_by("-created_at", "-id").values_list("created_at", flat=True)[8_000]
    best = Job.objects.filter(dataset=dataset, status="succeeded", owner=analyst).order_by("-headline_score", "-id")
    five = list(best.values_list("id", flat=True)[:5])
    deep_score = best.values_list("headline_score", flat=True)[1_500]
    middle_value = ExtractedValue.objects.filter(job=job).order_by("id").values_list("id", flat=True)[N_VALUES * 3 // 4]
    pages = [
        reverse("jobs:list"), reverse("jobs:list") + "?status=succeeded", reverse("jobs:list") + "?status=running",
        reverse("jobs:list") + f"?dataset={dataset.pk}", reverse("jobs:list") + "?kind=ctr&q=dcn",
        reverse("jobs:list") + "?q=tuned", reverse("jobs:list") + f"?cursor={_cursor_at(str(deep))}",
        "/api/jobs/", f"/api/jobs/?cursor={_cursor_at(str(deep))}", "/api/jobs/?algorithm=lr",
        reverse("datasets:list"), reverse("datasets:list") + "?q=small 1", "/api/datasets/",
        reverse("datasets:list") + f"?cursor={_cursor_at(str(Dataset.objects.order_by('created_at').first().created_at))}",
        dataset.get_absolute_url(), reverse("jobs:leaderboard", args=[dataset.pk]),
        reverse("jobs:leaderboard", args=[dataset.pk]) + f"?cursor={_cursor_at(str(deep_score))}",
        reverse("jobs:compare") + f"?dataset={dataset.pk}&" + "&".join(f"ids={i}" for i in five),
        reverse("jobs:detail", args=[five[0]]), reverse("home"),
        reverse("attributes:index"), reverse("attributes:browser", args=[job.pk]),
        reverse("attributes:browser", args=[job.pk]) + "?attribute=attr3",
        reverse("attributes:browser", args=[job.pk]) + "?attribute=attr3&value=value3_11",
        reverse("attributes:browser", args=[job.pk]) + "?status=accepted",
        reverse("attributes:browser", args=[job.pk]) + "?category=cat5&min_confidence=0.5",
        reverse("attributes:browser", args=[job.pk]) + f"?after={middle_value}",
        reverse("attributes:browser", args=[job.pk]) + "?q=colour",
        reverse("attributes:browser", args=[job.pk]) + "?q=product+12345+in", reverse("datasets:list") + "?q=small+2999",
        f"/api/attributes/jobs/{job.pk}/values/?attribute=attr1&after={middle_value}",
        reverse("attributes:review", args=[job.pk]),
    ]
    admin_pages = ["/admin/jobs/job/", "/admin/jobs/job/?status__exact=failed", "/admin/datasets/dataset/",
                   "/admin/attributes/extractedvalue/", "/admin/attributes/extractedvalue/?status__exact=accepted"]
    failures, checked = [], 0
    for user, urls in ((analyst, pages), (staff, admin_pages + [reverse("jobs:list"), "/api/jobs/"])):
        client.force_login(user)
        for url in urls:
            client.get(url)  # warm the per-review-decision caches (value counts) as a reader would find them
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            for query in queries:
                sql = query["sql"]
                if not sql.startswith("SELECT") or not any(f'"{t}"' in sql for t in BIG_TABLES):
                    continue
                checked += 1
                problems = plan_problems(sql)
                if problems:
                    with connection.cursor() as cursor:
                        cursor.execute("EXPLAIN " + sql)
                        shown = "\n      ".join(row[0] for row in cursor.fetchall())
                    failures.append(f"{url}: {'; '.join(problems)}\n    {sql[:300]}\n      {shown}")
    assert checked > 40
    assert not failures, "\n".join(failures)
