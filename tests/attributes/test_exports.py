"""Attribute exports: formula-like text is escaped in CSV (OWASP) and kept as is in Parquet; unknown
formats are 404, not CSV with another extension (issue 11)."""
from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from django.urls import reverse

from attributes.models import ExtractedValue

pytestmark = pytest.mark.django_db
HOSTILE_TITLE = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def hostile_values(stored_values):
    ExtractedValue.objects.filter(job=stored_values, product_id="p1").update(title=HOSTILE_TITLE)
    ExtractedValue.objects.filter(job=stored_values, product_id="p2").update(value="+1 555", category="@SUM(A1)")
    ExtractedValue.objects.filter(job=stored_values, product_id="p3").update(value="-2+3", title="\tcmd")
    return stored_values


def _csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_escapes_cells_a_spreadsheet_would_run(client_in, hostile_values):
    response = client_in.get(reverse("attributes:export", args=[hostile_values.pk, "csv"]))
    rows = _csv_rows(response)
    by_product = {}
    for row in rows:
        by_product.setdefault(row["product_id"], []).append(row)
    assert all(r["title"] == "'" + HOSTILE_TITLE for r in by_product["p1"])
    assert {r["value"] for r in by_product["p2"]} >= {"'+1 555"} and by_product["p2"][0]["category"] == "'@SUM(A1)"
    assert by_product["p3"][0]["title"] == "'\tcmd"
    # numbers stay numbers: confidences are written as plain decimals
    assert all(not r["confidence"].startswith("'") for r in rows)
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r.values())


def test_parquet_export_keeps_the_original_text(client_in, hostile_values):
    response = client_in.get(reverse("attributes:export", args=[hostile_values.pk, "parquet"]))
    frame = pd.read_parquet(io.BytesIO(b"".join(response.streaming_content)))
    assert HOSTILE_TITLE in set(frame["title"]) and "+1 555" in set(frame["value"])


@pytest.mark.parametrize("fmt", ["xlsx", "json", "csv.gz", "CSV", "parquet2", "html"])
def test_unknown_export_format_is_404(client_in, stored_values, fmt):
    response = client_in.get(f"/attributes/jobs/{stored_values.pk}/export.{fmt}")
    assert response.status_code == 404


@pytest.mark.parametrize("fmt,content_type", [("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")])
def test_known_export_formats_answer_their_content_type(client_in, stored_values, fmt, content_type):
    response = client_in.get(f"/attributes/jobs/{stored_values.pk}/export.{fmt}")
    assert response.status_code == 200 and response["Content-Type"].startswith(content_type)
