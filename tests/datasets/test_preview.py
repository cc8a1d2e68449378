"""The dataset page's first rows show integer columns as integers, even with a missing value."""
from __future__ import annotations

import pytest
from django.urls import reverse

from datasets.templatetags.datasettags import preview_rows


def test_profile_preview_keeps_integers_of_a_column_with_missing_values(tmp_path):
    from datasets.profiling import profile_file

    path = tmp_path / "t.csv"
    path.write_text("click,count,price,site\n" + "".join(
        f"{i % 2},{'' if i == 1 else i * 3},{i + 0.5},s{i}\n" for i in range(30)))
    rows = profile_file(path).preview["rows"]
    assert [r[1] for r in rows[:3]] == [0, None, 6] and all(isinstance(r[1], int) for r in rows if r[1] is not None)
    assert rows[0][2] == 0.5  # a real float column stays float


def test_stored_previews_from_before_show_whole_floats_as_integers():
    preview = {"columns": ["a", "b"], "rows": [[1.0, 0.5], [None, 1.0], [3.0, 2.0]]}
    assert preview_rows(preview) == [[1, 0.5], [None, 1.0], [3, 2.0]]


@pytest.mark.django_db
def test_dataset_page_preview_reads_1_not_1_0(client, user, tmp_path):
    from datasets.services import create_dataset

    path = tmp_path / "d.csv"
    path.write_text("click,I1,site\n" + "".join(f"{i % 2},{'' if i == 2 else i},s{i % 3}\n" for i in range(40)))
    dataset = create_dataset(owner=user, source_file=path, filename="d.csv", name="ints")
    client.force_login(user)
    page = client.get(reverse("datasets:detail", args=[dataset.pk])).content.decode()
    preview = page.split('id="preview"')[1].split("</table>")[0]
    assert "<td>1</td>" in preview and "1.0" not in preview
