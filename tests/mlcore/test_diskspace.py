"""Checkpoints on a full disk: the error says so, no temp file stays, the last good checkpoint survives."""
from __future__ import annotations

import errno

import pytest
import torch

from mlcore import diskspace, trainer


def test_failed_checkpoint_write_removes_its_temp_file_and_reads_no_space(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    trainer._save_atomic(path, {"epoch": 1})
    real_save = torch.save

    def save_until_full(state, target):
        with open(target, "wb") as fh:
            fh.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 474")
    monkeypatch.setattr(torch, "save", save_until_full)
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 0 if folder == tmp_path else 10**12)
    with pytest.raises(OSError) as info:
        trainer._save_atomic(path, {"epoch": 2})
    assert info.value.errno == errno.ENOSPC and "No space left on device" in str(info.value)
    assert not path.with_suffix(".tmp").exists()
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path, weights_only=False)["epoch"] == 1


def test_checkpoint_refused_below_the_minimum_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr(diskspace, "MIN_FREE_BYTES", diskspace.free_bytes(tmp_path) + 10**15)
    with pytest.raises(OSError) as info:
        trainer._save_atomic(tmp_path / "checkpoint.pt", {"epoch": 1})
    assert info.value.errno == errno.ENOSPC and "JOB_MIN_FREE_MB" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_other_write_failures_are_not_called_a_full_disk(tmp_path, monkeypatch):
    def broken(state, target):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1 vs 2")
    monkeypatch.setattr(torch, "save", broken)
    monkeypatch.setattr(diskspace, "MIN_FREE_BYTES", 0)
    with pytest.raises(OSError) as info:
        trainer._save_atomic(tmp_path / "checkpoint.pt", {})
    assert info.value.errno == errno.EIO
