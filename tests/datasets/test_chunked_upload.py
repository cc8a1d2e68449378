"""Chunked, resumable uploads through /api/uploads/: order, resume, refusals, owner-only access."""
from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from datasets.models import Dataset, UploadSession

pytestmark = pytest.mark.django_db

CSV = b"click,site,price\n" + b"".join(f"{i % 2},s{i % 5},{i * 0.5}\n".encode() for i in range(3000))


def start(api, content: bytes = CSV, filename: str = "big.csv"):
    return api.post("/api/uploads/", {"filename": filename, "size": len(content)}, format="json")


def put(api, upload_id, content: bytes, start_at: int, end_at: int | None = None, total: int | None = None):
    end_at = start_at + len(content) - 1 if end_at is None else end_at
    total = len(CSV) if total is None else total
    return api.generic("PUT", f"/api/uploads/{upload_id}/", content, content_type="application/octet-stream",
                       HTTP_CONTENT_RANGE=f"bytes {start_at}-{end_at}/{total}")


def send_all(api, upload_id, content: bytes = CSV, chunk: int = 10_000):
    for offset in range(0, len(content), chunk):
        response = put(api, upload_id, content[offset:offset + chunk], offset, total=len(content))
        assert response.status_code == 200, response.json()
    return response


def test_chunks_in_order_become_a_ready_dataset(api, user):
    upload_id = start(api).json()["id"]
    last = send_all(api, upload_id)
    assert last.json()["offset"] == len(CSV)
    response = api.post(f"/api/uploads/{upload_id}/complete/", {"name": "chunked", "kind": "ctr"}, format="json")
    assert response.status_code == 201, response.json()
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert dataset.status == "ready" and dataset.n_rows == 3000 and dataset.path.read_bytes() == CSV
    assert dataset.owner == user and dataset.columnar_path
    assert not UploadSession.objects.exists()  # the session ends with the dataset; its file was moved


def test_a_failed_chunk_is_resumed_from_the_offset_the_server_reports(api):
    upload_id = start(api).json()["id"]
    assert put(api, upload_id, CSV[:10_000], 0).status_code == 200
    # The client believes the next chunk failed and sends a later one: refused with where to resume.
    skipped = put(api, upload_id, CSV[20_000:30_000], 20_000)
    assert skipped.status_code == 409 and skipped.json()["offset"] == 10_000
    # A chunk whose body is shorter than its range is rolled back, not half-kept.
    short = put(api, upload_id, CSV[10_000:15_000], 10_000, end_at=19_999)
    assert short.status_code == 400
    assert api.get(f"/api/uploads/{upload_id}/").json()["offset"] == 10_000
    send_rest = CSV[10_000:]
    for offset in range(0, len(send_rest), 10_000):
        assert put(api, upload_id, send_rest[offset:offset + 10_000], 10_000 + offset).status_code == 200
    response = api.post(f"/api/uploads/{upload_id}/complete/", {"kind": "ctr"}, format="json")
    assert response.status_code == 201 and Dataset.objects.get().path.read_bytes() == CSV


def test_completing_before_every_byte_arrived_is_refused(api):
    upload_id = start(api).json()["id"]
    put(api, upload_id, CSV[:1000], 0)
    response = api.post(f"/api/uploads/{upload_id}/complete/", {"kind": "ctr"}, format="json")
    assert response.status_code == 409 and response.json()["offset"] == 1000
    assert not Dataset.objects.exists()


def test_range_past_the_announced_size_is_416_and_a_wrong_total_400(api):
    upload_id = start(api).json()["id"]
    assert put(api, upload_id, b"x" * 10, len(CSV) - 5).status_code in (409, 416)
    assert put(api, upload_id, b"x" * 10, 0, end_at=len(CSV) + 9).status_code == 416
    assert put(api, upload_id, CSV[:10], 0, total=len(CSV) + 1).status_code == 400
    no_range = api.generic("PUT", f"/api/uploads/{upload_id}/", b"abc", content_type="application/octet-stream")
    assert no_range.status_code == 400 and "Content-Range" in no_range.json()["errors"][0]


@override_settings(DATASET_MAX_UPLOAD_BYTES=20_000, DATASET_UPLOAD_CHUNK_BYTES=4096)
def test_size_limits_are_settings(api):
    assert len(CSV) > 20_000 and start(api).status_code == 413  # the whole file is over DATASET_MAX_UPLOAD_MB
    upload_id = start(api, CSV[:10_000]).json()["id"]
    too_big = put(api, upload_id, CSV[:8192], 0, total=10_000)
    assert too_big.status_code == 413 and "DATASET_UPLOAD_CHUNK_MB" in too_big.json()["errors"][0]


def test_another_users_upload_is_404(api, other_user):
    upload_id = start(api).json()["id"]
    intruder = APIClient()
    intruder.force_authenticate(other_user)
    assert intruder.get(f"/api/uploads/{upload_id}/").status_code == 404
    assert put(intruder, upload_id, CSV[:100], 0).status_code == 404
    assert intruder.post(f"/api/uploads/{upload_id}/complete/", {}, format="json").status_code == 404
    assert intruder.delete(f"/api/uploads/{upload_id}/").status_code == 404
    assert api.get(f"/api/uploads/{upload_id}/").json()["offset"] == 0


def test_a_refused_file_ends_the_session_with_the_reason(api):
    bad = b"click,site\n1,a\n0\n"
    upload_id = start(api, bad).json()["id"]
    assert put(api, upload_id, bad, 0, total=len(bad)).status_code == 200
    response = api.post(f"/api/uploads/{upload_id}/complete/", {"kind": "ctr"}, format="json")
    assert response.status_code == 400 and "line 3 has 1 fields but the header has 2" in response.json()["errors"][0]
    assert not UploadSession.objects.exists() and not Dataset.objects.exists()


def test_abandoned_upload_is_deleted(api):
    upload_id = start(api).json()["id"]
    put(api, upload_id, CSV[:100], 0)
    session = UploadSession.objects.get()
    assert session.path.exists()
    assert api.delete(f"/api/uploads/{upload_id}/").status_code == 204
    assert not session.path.exists() and not UploadSession.objects.exists()
