"""The upload page sends a big file in chunks, resumes after a dropped chunk, and a worker-sized file
shows its profiling progress on the dataset page before the profile."""
from __future__ import annotations

import pytest

from tests.conftest import log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_page_uploads_in_chunks_and_resumes_after_a_dropped_chunk(live_server, browser_page, user, tmp_path, settings):
    from datasets.models import Dataset, UploadSession

    settings.DATASET_UPLOAD_CHUNK_BYTES = 16 * 1024  # the page sends chunks of this size
    content = b"click,site,price\n" + b"".join(f"{i % 2},s{i % 5},{i * 0.5}\n".encode() for i in range(8000))
    path = tmp_path / "big.csv"
    path.write_bytes(content)
    puts, dropped = [], []

    def drop_third_chunk_once(route, request):
        if request.method == "PUT":
            puts.append(request.headers.get("content-range"))
            if len(puts) == 3 and not dropped:
                dropped.append(puts[-1])
                route.abort()  # the connection dies mid-upload
                return
        route.continue_()

    page = browser_page
    page.route("**/api/uploads/**", drop_third_chunk_once)
    log_in(page, live_server.url)
    page.goto(live_server.url + "/datasets/upload/")
    page.set_input_files("#id_file", str(path))
    page.fill("#id_name", "chunked from the page")
    page.click("#upload-submit")
    page.wait_for_selector("text=Schema and column statistics", timeout=60_000)
    dataset = Dataset.objects.get(name="chunked from the page")
    assert dataset.path.read_bytes() == content and dataset.n_rows == 8000 and dataset.status == "ready"
    assert len(content) // (16 * 1024) + 1 < len(puts)  # several chunks, plus the one sent again
    assert dropped and puts.count(dropped[0]) == 2  # the dropped chunk was resent from the same offset
    assert not UploadSession.objects.exists()
