"""The upload sweep removes what killed uploads left behind, and nothing still being written."""
from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings

from datasets.sweep import sweep_uploads


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_stale_staging_folders_and_temp_files_go_and_fresh_ones_stay(tmp_path):
    staging, temp = tmp_path / "_staging", tmp_path / "upload-tmp"
    old_stage, busy_stage = staging / "aaa", staging / "bbb"
    for folder in (old_stage, busy_stage, temp):
        folder.mkdir(parents=True)
    (old_stage / "clicks.csv").write_bytes(b"x" * 1000)
    (busy_stage / "clicks.csv").write_bytes(b"y" * 10)  # still being written: fresh mtime inside
    old_tmp, new_tmp = temp / "tmpabc.upload.csv", temp / "tmpdef.upload.csv"
    old_tmp.write_bytes(b"z" * 500)
    new_tmp.write_bytes(b"z")
    for path in (old_stage / "clicks.csv", old_stage, busy_stage, old_tmp):
        age(path, 7200)
    result = sweep_uploads([staging, temp, tmp_path / "missing"], older_than=3600)
    assert sorted(result.removed) == sorted([old_stage, old_tmp]) and result.bytes_freed >= 1500
    assert busy_stage.exists() and new_tmp.exists()


def test_default_folders_are_the_staging_folder_and_djangos_upload_temp_dir():
    assert str(Path(settings.MEDIA_ROOT) / "datasets" / "_staging") in settings.UPLOAD_SWEEP_DIRS
    assert settings.FILE_UPLOAD_TEMP_DIR in settings.UPLOAD_SWEEP_DIRS
    assert Path(settings.FILE_UPLOAD_TEMP_DIR).is_relative_to(settings.VAR_DIR)
