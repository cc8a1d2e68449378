"""The dataset page: schema table with a role menu per column, preview, leaderboard, bounded queries."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from datasets.models import Dataset
from datasets.schema_table import preview_table, role_select
from datasets.services import create_dataset
from jobs.leaderboard import headline_fields
from jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(user, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("click,site,price\n" + "".join(f"{i % 2},s{i % 3},{i * 0.5}\n" for i in range(60)))
    return create_dataset(owner=user, source_file=path, filename="d.csv", name="tiny")


def selected_roles(page: str) -> dict[str, str]:
    """Each role menu's name and its selected option, read from the page's HTML."""
    menus = re.findall(r'<select name="role__([^"]+)" id="id_role__\1"[^>]*>(.*?)</select>', page, re.S)
    return {name: re.search(r'<option value="([^"]+)" selected>', body).group(1) for name, body in menus}


def test_role_menu_reads_like_the_forms_select_widget(dataset):
    from datasets.forms import RolesForm, role_choices

    form = RolesForm(dataset=dataset)
    for column in dataset.columns:
        name = f"role__{column['name']}"
        assert role_select(name, role_choices(dataset), column["role"]) == str(form[name])


def test_page_shows_every_column_with_its_role_and_the_preview(client, user, dataset):
    client.force_login(user)
    page = client.get(dataset.get_absolute_url()).content.decode()
    assert selected_roles(page) == {c["name"]: c["role"] for c in dataset.columns}
    preview = page.split('id="preview"')[1].split("</table>")[0]
    assert "<th>price</th>" in preview and preview.count("<tr>") == 1 + len(dataset.preview["rows"])


def test_preview_escapes_values_and_marks_missing_ones():
    html = preview_table({"columns": ["a<b"], "rows": [["<script>"], [None], [2.0]]})
    assert "<th>a&lt;b</th>" in html and "<td>&lt;script&gt;</td>" in html and "∅" in html and "<script>" not in html


def test_refused_roles_keep_the_analysts_choice(client, user, dataset):
    client.force_login(user)
    roles = {f"role__{c['name']}": c["role"] for c in dataset.columns}
    roles["role__site"] = "label"  # a second label: refused by the kind's checks
    response = client.post(dataset.get_absolute_url(), roles)
    page = response.content.decode()
    assert response.status_code == 200 and 'class="error"' in page
    assert selected_roles(page)["site"] == "label"
    assert Dataset.objects.get(pk=dataset.pk).columns == dataset.columns


def test_saved_roles_show_on_the_page(client, user, dataset):
    client.force_login(user)
    roles = {f"role__{c['name']}": c["role"] for c in dataset.columns} | {"role__price": "categorical"}
    assert client.post(dataset.get_absolute_url(), roles).status_code == 302
    assert selected_roles(client.get(dataset.get_absolute_url()).content.decode())["price"] == "categorical"


def test_page_queries_do_not_grow_with_runs_or_columns(client, user, dataset):
    client.force_login(user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(dataset.get_absolute_url()).status_code == 200
        return len(captured)

    metrics = {"auc": 0.7, "logloss": 0.5}
    Job.objects.create(owner=user, dataset=dataset, kind="ctr", algorithm="lr", status="succeeded", metrics=metrics,
                       **headline_fields(metrics))
    few = queries()
    Job.objects.bulk_create([Job(owner=user, dataset=dataset, kind="ctr", algorithm="deepfm", status="succeeded",
                                 metrics=dict(metrics, auc=0.6 + i / 1000), **headline_fields(dict(metrics, auc=0.6 + i / 1000)))
                             for i in range(60)])
    Dataset.objects.filter(pk=dataset.pk).update(columns=dataset.columns * 20)
    assert queries() == few <= 6  # session, user, dataset, 2 headline-metric probes, the top runs
