"""A persistent vector cache: every vector is computed once per (model fingerprint, representation, text).

One SQLite file (WAL journal, so readers never block the writer and two processes may write
at once; a busy writer is waited for, not failed). Keys:

- ``fingerprint``: the hash of the model's weight, config and tokenizer files plus its variant
  (see ``embeddings.models.fingerprint``), never only its name;
- ``representation``: what the vectors are: ``text`` (one per text), ``token:layer=3`` (each token's
  vector after layer 3) or ``token:static`` (each token's input-table row). It is stored in the
  column ``kind``: the file format of every cache written so far, kept so those files stay readable;
- ``text_hash``: sha256 of the text's UTF-8 bytes; for an image (representation ``image``),
  sha256 of the image file's bytes, so a renamed or moved file is still found and an edited one is not.

Values are float32 arrays stored as raw bytes with their shape, plus optional JSON (the token
rows of token-level vectors). The file lives in the user's cache folder; the environment
variable ``EMBEDDINGS_CACHE`` names another file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.digests import APP_NAME, file_digest, open_wal  # noqa: F401 (file_digest: moved there, kept importable)
from embeddings.digests import CACHE_ENV_VAR as ENV_VAR

BUSY_TIMEOUT_S = 60.0
_QUERY_CHUNK = 500  # SQLite's default limit on host parameters is 999 (older builds)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    shape TEXT NOT NULL,
    data BLOB NOT NULL,
    extra TEXT,
    PRIMARY KEY (fingerprint, kind, text_hash)
) WITHOUT ROWID;
"""


def default_path() -> Path:
    """$EMBEDDINGS_CACHE, else vectors.sqlite in the user's cache folder."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME)) / "vectors.sqlite"


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).digest()


class VectorCache:
    """get_many / put_many of float32 arrays keyed by (fingerprint, representation, text)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = open_wal(self.path, BUSY_TIMEOUT_S)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
        return conn

    def get_many(
        self, fingerprint: str, representation: str, texts: Sequence[str]
    ) -> dict[int, tuple[np.ndarray, Any]]:
        """{index in texts: (array, extra)} for the texts found; duplicates are all filled."""
        return self.get_hashed(fingerprint, representation, [text_hash(t) for t in texts])

    def get_hashed(
        self, fingerprint: str, representation: str, hashes: Sequence[bytes]
    ) -> dict[int, tuple[np.ndarray, Any]]:
        """get_many for inputs named by their sha256 digests (an image's: of its file's bytes)."""
        if not hashes:
            return {}
        positions: dict[bytes, list[int]] = {}
        for i, h in enumerate(hashes):
            positions.setdefault(h, []).append(i)
        unique = list(positions)
        conn = self._connect()
        found: dict[int, tuple[np.ndarray, Any]] = {}
        for start in range(0, len(unique), _QUERY_CHUNK):
            chunk = unique[start : start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT text_hash, shape, data, extra FROM vectors "
                f"WHERE fingerprint = ? AND kind = ? AND text_hash IN ({marks})",
                [fingerprint, representation, *chunk],
            ).fetchall()
            for h, shape, data, extra in rows:
                array = np.frombuffer(data, dtype=np.float32).reshape(json.loads(shape))
                value = (array, json.loads(extra) if extra is not None else None)
                for i in positions[bytes(h)]:
                    found[i] = value
        return found

    def put_many(
        self,
        fingerprint: str,
        representation: str,
        items: Iterable[tuple[str, np.ndarray, Any]],
    ) -> int:
        """Store (text, array, extra) items in one transaction; returns how many were written."""
        return self.put_hashed(fingerprint, representation, ((text_hash(t), a, e) for t, a, e in items))

    def put_hashed(
        self, fingerprint: str, representation: str, items: Iterable[tuple[bytes, np.ndarray, Any]],
    ) -> int:
        """put_many for inputs named by their sha256 digests: (digest, array, extra) items."""
        rows = []
        for digest, array, extra in items:
            array = np.ascontiguousarray(array, dtype=np.float32)
            rows.append(
                (
                    fingerprint,
                    representation,
                    digest,
                    json.dumps(list(array.shape)),
                    array.tobytes(),
                    None if extra is None else json.dumps(extra, ensure_ascii=False),
                )
            )
        if not rows:
            return 0
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(rows)

    def count(self, fingerprint: str | None = None) -> int:
        conn = self._connect()
        if fingerprint is None:
            return int(conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM vectors WHERE fingerprint = ?", [fingerprint]).fetchone()[0])

    def clear(self) -> None:
        conn = self._connect()
        conn.execute("DELETE FROM vectors")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_shared: dict[Path, VectorCache] = {}


def shared_cache() -> VectorCache:
    """The process-wide cache for the current default path (re-read each call: tests move it)."""
    path = default_path()
    cache = _shared.get(path)
    if cache is None:
        cache = _shared[path] = VectorCache(path)
    return cache
