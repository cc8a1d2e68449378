"""Dataset upload, roles and permissions through the REST API, the pages and the admin."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from datasets.models import Dataset
from datasets.services import datasets_root

pytestmark = pytest.mark.django_db

GOOD = b"click,site,price\n" + b"".join(f"{i % 2},s{i % 5},{i * 0.5}\n".encode() for i in range(200))


def upload(api, content: bytes = GOOD, name: str = "good.csv", **extra):
    return api.post("/api/datasets/", {"file": SimpleUploadedFile(name, content), **extra}, format="multipart")


def stored_files() -> list[Path]:
    root = datasets_root()
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_records_schema_hash_and_roles(api, user):
    before = len(stored_files())
    response = upload(api, name="clicks.csv")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["n_rows"] == 200 and body["file_format"] == "csv" and len(body["sha256"]) == 64
    assert {c["name"]: c["role"] for c in body["columns"]} == {"click": "label", "site": "categorical", "price": "numeric"}
    assert body["label_rate"] == pytest.approx(0.5)
    dataset = Dataset.objects.get(pk=body["id"])
    assert dataset.owner == user and dataset.path.read_bytes() == GOOD
    assert len(stored_files()) == before + 2  # the original (for download) and its typed Parquet copy
    assert dataset.columnar_path.endswith("columnar.parquet") and dataset.status == "ready"


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"site,price\nx,1\ny,2\n", "No label column"),
    (b"click,site\n0,a\n1,b\n2,c\n", "a CTR label must be binary"),
    (b"click,click\n0,1\n", "Duplicate column names"),
])
def test_failed_upload_leaves_no_row_and_no_file(api, content, message):
    before_files = stored_files()
    response = upload(api, content, name="bad.csv")
    assert response.status_code == 400
    assert any(message in e for e in response.json()["errors"]), response.json()
    assert Dataset.objects.count() == 0
    assert stored_files() == before_files


def test_label_column_can_be_named_at_upload(api):
    response = upload(api, b"converted,site\n0,a\n1,b\n0,c\n1,a\n", label_column="converted")
    assert response.status_code == 201
    assert {c["name"]: c["role"] for c in response.json()["columns"]}["converted"] == "label"


def test_upload_over_the_size_limit_is_refused(api):
    with override_settings(DATASET_MAX_UPLOAD_BYTES=1000):
        response = upload(api, GOOD)
    assert response.status_code in (400, 413)
    assert "larger than the upload limit" in " ".join(response.json()["errors"])
    assert Dataset.objects.count() == 0


def test_roles_can_be_corrected_but_not_broken(api):
    dataset_id = upload(api).json()["id"]
    ok = api.patch(f"/api/datasets/{dataset_id}/roles/", {"roles": {"site": "ignore"}}, format="json")
    assert ok.status_code == 200 and Dataset.objects.get(pk=dataset_id).roles["site"] == "ignore"
    bad = api.patch(f"/api/datasets/{dataset_id}/roles/", {"roles": {"click": "numeric", "price": "ignore"}}, format="json")
    assert bad.status_code == 400 and "No label column" in " ".join(bad.json()["errors"])
    assert Dataset.objects.get(pk=dataset_id).roles["click"] == "label"


def test_preview_returns_first_rows(api):
    dataset_id = upload(api).json()["id"]
    preview = api.get(f"/api/datasets/{dataset_id}/preview/").json()
    assert preview["columns"] == ["click", "site", "price"] and preview["rows"][1] == [1, "s1", 0.5]


def test_users_see_and_touch_only_their_own_datasets(api, other_user, staff_user):
    from rest_framework.test import APIClient

    dataset_id = upload(api).json()["id"]
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get("/api/datasets/").json()["results"] == []
    assert other.get(f"/api/datasets/{dataset_id}/").status_code == 404
    assert other.get(f"/api/datasets/{dataset_id}/download/").status_code == 404
    assert other.delete(f"/api/datasets/{dataset_id}/").status_code == 404
    assert other.patch(f"/api/datasets/{dataset_id}/roles/", {"roles": {"site": "ignore"}}, format="json").status_code == 404
    staff = APIClient()
    staff.force_authenticate(staff_user)
    assert staff.get(f"/api/datasets/{dataset_id}/").status_code == 200


def test_anonymous_requests_are_refused(client):
    assert client.get("/api/datasets/").status_code in (401, 403)
    assert client.get(reverse("datasets:list")).status_code == 302


def test_token_auth_works(user):
    from rest_framework.test import APIClient

    token = APIClient().post("/api/auth/token/", {"username": "alice", "password": "alice-pass-123"}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/datasets/").status_code == 200


def test_delete_removes_the_files(api):
    dataset = Dataset.objects.get(pk=upload(api).json()["id"])
    folder = dataset.folder
    assert folder.exists()
    assert api.delete(f"/api/datasets/{dataset.pk}/").status_code == 204
    assert not folder.exists() and Dataset.objects.count() == 0


def test_media_is_not_served_publicly(client, api):
    dataset = Dataset.objects.get(pk=upload(api).json()["id"])
    assert client.get("/media/" + dataset.file_path).status_code == 404


def test_upload_page_returns_json_errors_and_redirect(client, user):
    client.force_login(user)
    bad = client.post(reverse("datasets:upload"), {"file": SimpleUploadedFile("b.csv", b""), "kind": "ctr"},
                      HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and "empty" in bad.json()["errors"][0]
    good = client.post(reverse("datasets:upload"), {"file": SimpleUploadedFile("g.csv", GOOD), "kind": "ctr", "name": "Mine"},
                       HTTP_ACCEPT="application/json")
    assert good.status_code == 201
    page = client.get(good.json()["url"])
    assert page.status_code == 200 and b"Schema and column statistics" in page.content and b"s1" in page.content


def test_admin_lists_filters_and_revalidates(client, staff_user, api):
    staff_user.is_superuser = True
    staff_user.save()
    dataset = Dataset.objects.get(pk=upload(api).json()["id"])
    client.force_login(staff_user)
    listing = client.get(reverse("admin:datasets_dataset_changelist") + "?kind=ctr&q=good")
    assert listing.status_code == 200 and b"good" in listing.content
    assert client.get(reverse("admin:datasets_dataset_change", args=[dataset.pk])).status_code == 200
    dataset.path.write_bytes(b"click,site\n0,a\n5,b\n")  # the stored file changed behind our back
    client.post(reverse("admin:datasets_dataset_changelist"), {"action": "revalidate", "_selected_action": [dataset.pk]})
    dataset.refresh_from_db()
    assert dataset.status == "invalid" and "binary" in " ".join(dataset.errors)
    folder = dataset.folder
    client.post(reverse("admin:datasets_dataset_delete", args=[dataset.pk]), {"post": "yes"})
    assert not Dataset.objects.filter(pk=dataset.pk).exists() and not folder.exists()


def test_sequence_upload_infers_roles_and_validates_corrections(api, client, user):
    rows = ["clk,userid,adgroup_id,price,click_sequence,review"]
    for i in range(120):
        hist = "^".join(str(10 + (i + j) % 9) for j in range(i % 4)) if i % 5 else ""
        rows.append(f"{i % 2},{i % 13},{10 + i % 9},{i * 0.5},{hist},fine")
    response = upload(api, ("\n".join(rows) + "\n").encode(), name="taobao_like.csv")
    assert response.status_code == 201, response.json()
    dataset_id = response.json()["id"]
    got = {c["name"]: c["role"] for c in response.json()["columns"]}
    assert got["click_sequence"] == "sequence" and got["userid"] == "user_id" and got["adgroup_id"] == "item_id"
    bad = api.patch(f"/api/datasets/{dataset_id}/roles/", {"roles": {"price": "sequence"}}, format="json")
    assert bad.status_code == 400 and "cannot be a sequence" in " ".join(bad.json()["errors"])
    client.force_login(user)
    page = client.get(Dataset.objects.get(pk=dataset_id).get_absolute_url()).content.decode()
    assert 'data-sep="click_sequence">ids split on <code>^</code>' in page
    ok = api.patch(f"/api/datasets/{dataset_id}/roles/", {"roles": {"click_sequence": "ignore"}}, format="json")
    assert ok.status_code == 200 and Dataset.objects.get(pk=dataset_id).roles["click_sequence"] == "ignore"
