"""The dataset list (page and API): newest first in cursor pages, a name search, no column JSON read."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from datasets.models import Dataset

pytestmark = pytest.mark.django_db


def make_datasets(owner, n: int, kind: str = "ctr") -> list[Dataset]:
    columns = [{"name": f"c{i}", "role": "categorical", "dtype": "str"} for i in range(7)]
    return Dataset.objects.bulk_create([
        Dataset(owner=owner, name=f"{kind} data {i}", kind=kind, file_path=f"x/{i}.csv", original_filename=f"{i}.csv",
                file_format="csv", size_bytes=10, sha256="0" * 64, n_rows=100, columns=columns,
                preview={"columns": ["c0"], "rows": [["a"]] * 20}) for i in range(n)])


def test_dataset_list_pages_by_cursor_and_counts_columns_in_the_database(client, user):
    client.force_login(user)
    make_datasets(user, 55)
    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("datasets:list")).content.decode()
    assert first.count("data ") == 50 and '<td class="num">7</td>' in first
    listed = [q["sql"] for q in queries if "datasets_dataset" in q["sql"]]
    assert listed and not [s for s in listed if '"preview"' in s or re.search(r'"columns"\s*(,|FROM)', s)]
    older = re.search(r'id="older-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(reverse("datasets:list") + older).content.decode()
    assert second.count("data ") == 5


def test_dataset_search_and_kind_stay_in_the_links(client, user):
    client.force_login(user)
    make_datasets(user, 3, kind="ctr")
    make_datasets(user, 60, kind="uplift")
    page = client.get(reverse("datasets:list"), {"q": "uplift data", "kind": "uplift"}).content.decode()
    older = re.search(r'id="older-page" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "q=uplift+data" in older and "kind=uplift" in older and len(re.findall(r">uplift data \d+<", page)) == 50
    assert re.findall(r">ctr data \d+<", client.get(reverse("datasets:list"), {"q": "ctr data 1"}).content.decode()) == [
        ">ctr data 1<"]


def test_api_dataset_list_is_light_and_cursor_paged(api, user):
    make_datasets(user, 3)
    body = api.get("/api/datasets/", {"page_size": 2}).json()
    assert len(body["results"]) == 2 and body["next"] and "columns" not in body["results"][0]
    assert body["results"][0]["n_columns"] == 7
    assert len(api.get(body["next"]).json()["results"]) == 1
    one = api.get(f"/api/datasets/{body['results'][0]['id']}/").json()
    assert len(one["columns"]) == 7
