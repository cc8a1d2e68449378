"""The worker cache: entries named by checksum and version, least recently used evicted by size."""
from __future__ import annotations

import os
import time

from filestore import cache


def _entry(folder, name: str, size: int, age: float):
    path = folder / name
    path.write_bytes(b"x" * size)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_eviction_removes_least_recently_used_until_the_folder_fits(tmp_path):
    old = _entry(tmp_path, "old", 400, age=300)
    middle = _entry(tmp_path, "middle", 400, age=200)
    new = _entry(tmp_path, "new", 400, age=100)
    removed = cache.evict(tmp_path, max_bytes=800)
    assert removed == [old]
    assert not old.exists() and middle.exists() and new.exists()
    assert cache.evict(tmp_path, max_bytes=800) == []  # already fits


def test_eviction_never_removes_the_entry_just_staged(tmp_path):
    big = _entry(tmp_path, "big", 1000, age=500)
    other = _entry(tmp_path, "other", 10, age=10)
    removed = cache.evict(tmp_path, max_bytes=100, keep=big)
    assert removed == [other] and big.exists()


def test_cache_name_changes_with_checksum_and_copy_version():
    a = cache.cache_name("ab" * 32, "datasets/x/columnar.parquet@2026-01-01", ".parquet")
    assert a.startswith("ab" * 32) and a.endswith(".parquet")
    assert a == cache.cache_name("ab" * 32, "datasets/x/columnar.parquet@2026-01-01", ".parquet")
    assert a != cache.cache_name("ab" * 32, "datasets/x/columnar.parquet@2026-02-01", ".parquet")
    assert a != cache.cache_name("cd" * 32, "datasets/x/columnar.parquet@2026-01-01", ".parquet")


def test_stage_hits_touch_the_entry_and_misses_fetch_and_evict(s3_store, tmp_path):
    from filestore import services

    source = tmp_path / "src"
    source.mkdir()
    for name in ("a", "b", "c"):
        (source / name).write_bytes(name.encode() * 300)
        services.publish(source / name, f"datasets/t/{name}")
    folder = tmp_path / "cache"
    first = cache.stage("datasets/t/a", "entry-a", folder=folder, max_bytes=700)
    os.utime(first, (time.time() - 100, time.time() - 100))
    second = cache.stage("datasets/t/b", "entry-b", folder=folder, max_bytes=700)
    os.utime(second, (time.time() - 50, time.time() - 50))
    assert cache.stage("datasets/t/a", "entry-a", folder=folder, max_bytes=700) == first  # a hit: now most recent
    third = cache.stage("datasets/t/c", "entry-c", folder=folder, max_bytes=700)
    assert sorted(p.name for p in folder.iterdir()) == ["entry-a", "entry-c"]  # b was least recently used
    assert third.read_bytes() == b"c" * 300 and first.read_bytes() == b"a" * 300
