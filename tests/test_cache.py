"""The on-disk vector cache: round trips, key isolation, many keys, two writers at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from embeddings.cache import VectorCache, default_path
from embeddings.digests import file_digest


def test_round_trip_with_shapes_and_extra(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "c.sqlite")
    vector = np.arange(4, dtype=np.float32)
    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    written = cache.put_many("fp", "text", [("a", vector, None), ("b\tc 🙂", matrix, {"tokens": ["x", "y", "z"]})])
    assert written == 2
    found = cache.get_many("fp", "text", ["b\tc 🙂", "missing", "a", "a"])
    assert sorted(found) == [0, 2, 3]
    np.testing.assert_array_equal(found[0][0], matrix)
    assert found[0][1] == {"tokens": ["x", "y", "z"]}
    np.testing.assert_array_equal(found[2][0], vector)
    np.testing.assert_array_equal(found[3][0], vector)


def test_keys_are_isolated_by_fingerprint_and_kind(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "c.sqlite")
    cache.put_many("fp1", "text", [("a", np.ones(2), None)])
    assert cache.get_many("fp2", "text", ["a"]) == {}
    assert cache.get_many("fp1", "token:layer=1", ["a"]) == {}
    assert cache.count("fp1") == 1 and cache.count() == 1


def test_more_keys_than_one_query_holds(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "c.sqlite")
    texts = [f"t{i}" for i in range(1234)]
    cache.put_many("fp", "text", ((t, np.full(3, i, np.float32), None) for i, t in enumerate(texts)))
    found = cache.get_many("fp", "text", texts)
    assert len(found) == len(texts)
    assert all(found[i][0][0] == i for i in range(len(texts)))


def _writer(path: str, worker: int) -> None:
    cache = VectorCache(path)
    for i in range(40):
        cache.put_many("fp", "text", [(f"w{worker}-{i}-{j}", np.full(8, worker, np.float32), None) for j in range(5)])


def test_two_processes_write_at_once(tmp_path: Path, clean_main: None) -> None:
    path = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w)) for w in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    cache = VectorCache(path)
    assert cache.count("fp") == 2 * 40 * 5
    found = cache.get_many("fp", "text", ["w1-39-4", "w0-0-0"])
    assert found[0][0][0] == 1 and found[1][0][0] == 0


def test_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS_CACHE", str(tmp_path / "elsewhere.sqlite"))
    assert default_path() == tmp_path / "elsewhere.sqlite"
    monkeypatch.delenv("EMBEDDINGS_CACHE")
    assert default_path().name == "vectors.sqlite" and "embedding-explorer" in str(default_path())


def test_file_digest_is_the_sha256_and_is_remembered(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "weights.bin"
    path.write_bytes(b"abc" * 1000)
    stat = path.stat()
    expected = hashlib.sha256(b"abc" * 1000).hexdigest()
    assert file_digest(path, stat.st_size, stat.st_mtime_ns) == expected
    # the stored digest is used for the same (path, size, mtime): proof it was remembered
    assert file_digest(path, stat.st_size, stat.st_mtime_ns) == expected
    path.write_bytes(b"xyz" * 1000)
    stat = path.stat()
    assert file_digest(path, stat.st_size, stat.st_mtime_ns) == hashlib.sha256(b"xyz" * 1000).hexdigest()


def _open_at_once(path: str, barrier) -> None:
    from embeddings.digests import open_wal

    barrier.wait()
    open_wal(path).execute("CREATE TABLE IF NOT EXISTS t (a)")


def test_processes_opening_a_new_file_together_all_get_it(tmp_path: Path, clean_main: None) -> None:
    """Switching a new file to WAL answers "database is locked" at once (no busy wait) when several
    processes do it together; each must still open it. Before the retry, about 1 in 20 failed."""
    context = multiprocessing.get_context("spawn")
    failures = 0
    for trial in range(4):
        barrier = context.Barrier(6)
        workers = [context.Process(target=_open_at_once, args=(str(tmp_path / f"new{trial}.sqlite"), barrier))
                   for _ in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        failures += sum(w.exitcode != 0 for w in workers)
    assert failures == 0
