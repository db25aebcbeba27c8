"""sha256 of model files, remembered across runs so a cached run fingerprints a model at once.

Hashing the 90 MB of a small model takes a fraction of a second; remembering the digest per
(path, size, mtime) in a small SQLite file beside the vector cache makes the fingerprint of an
unchanged folder a few lookups. This sits below ``models`` and ``cache``: fingerprinting a model
never opens the vector cache.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

CACHE_ENV_VAR = "EMBEDDINGS_CACHE"  # names the vector cache file; the digests file sits beside it
APP_NAME = "embedding-explorer"
BUSY_TIMEOUT_S = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (path, size, mtime_ns)
) WITHOUT ROWID;
"""
_local = threading.local()


def cache_folder() -> Path:
    """The folder of the user's caches: beside $EMBEDDINGS_CACHE, else the user's cache folder."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser().parent
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME))


def digests_path() -> Path:
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        path = Path(override).expanduser()
        return path.with_name(path.name + ".digests.sqlite")
    return cache_folder() / "file_digests.sqlite"


def open_wal(path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A SQLite connection in WAL mode that waits for other writers (processes share these files).

    Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is locked"
    at once, without waiting out the busy timeout, when two processes make that switch together;
    so the switch is retried until the timeout.
    """
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return conn
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.05)


def _connect() -> sqlite3.Connection:
    path = digests_path()
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(path)
    if conn is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = open_wal(path)
        conn.executescript(_SCHEMA)
        conns[path] = conn
    return conn


def file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file, looked up by (path, size, mtime) before hashing."""
    key = (str(Path(path).resolve()), int(size), int(mtime_ns))
    try:
        conn: sqlite3.Connection | None = _connect()
        row = conn.execute(
            "SELECT sha256 FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ?", key
        ).fetchone()
    except (sqlite3.Error, OSError):
        conn, row = None, None
    if row is not None:
        return str(row[0])
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    if conn is not None:
        try:
            conn.execute("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?)", (*key, value))
        except sqlite3.Error:
            pass
    return value
