"""An upload handler that stops a request as soon as its file passes the configured size limit.

It sits before Django's TemporaryFileUploadHandler, so bytes stream to a temporary file on disk
and an oversized upload is refused without writing the rest of it.
"""
from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def size_limit_message(limit: int) -> str:
    return f"The file is larger than the upload limit of {limit / 1024 / 1024:,.0f} MB (DATASET_MAX_UPLOAD_MB)."


class SizeLimitedUploadHandler(FileUploadHandler):
    """Marks ``request.upload_error`` and stops the upload when it exceeds the limit."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.DATASET_MAX_UPLOAD_BYTES
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + 64 * 1024:
            self._refuse()
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        if self.received > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None

    def _refuse(self) -> None:
        if self.request is not None:
            self.request.upload_error = size_limit_message(self.limit)
        raise StopUpload(connection_reset=False)
