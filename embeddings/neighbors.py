"""Exact k nearest neighbours in the original space (cosine or euclidean), with numpy only.

Distances are computed a block of rows at a time so 100k x 384 never holds an n x n matrix.
The block is scored in float32 (fast matrix product), a few spare candidates are kept, and
their distances are recomputed in float64 and sorted by (distance, index): exact distances,
and ties broken by the lower index so the same input always gives the same neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.errors import InputError

METRICS = ("cosine", "euclidean")
# Bytes of float32 distances held at once per block (rows x n).
BLOCK_BYTES = 1 << 26


@dataclass(frozen=True)
class Neighbors:
    """The k nearest points to one query: row indices and distances, nearest first."""

    indices: np.ndarray
    distances: np.ndarray
    metric: str


def _check(vectors: np.ndarray, metric: str, k: int) -> np.ndarray:
    from embeddings.reduce import check_vectors

    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a whole number of at least 1, not {k!r}")
    return check_vectors(vectors)


def _prepared(array: np.ndarray, metric: str) -> np.ndarray:
    """float64 rows, unit length for cosine (zero rows stay zero: distance 1 to everything)."""
    data = np.asarray(array, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        data = data / np.where(norms > 0, norms, 1.0)
    return data


def _pair_distances(data: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """float64 distances between rows data[a[i]] and data[b[i]], a bounded slice at a time."""
    out = np.empty(len(a), dtype=np.float64)
    step = max(1, (1 << 24) // (8 * data.shape[1]))  # ~16 MB of gathered rows per slice
    for s in range(0, len(a), step):
        x, y = data[a[s : s + step]], data[b[s : s + step]]
        if metric == "cosine":
            out[s : s + step] = np.clip(1.0 - np.einsum("ij,ij->i", x, y), 0.0, 2.0)
        else:
            diff = x - y
            out[s : s + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _threshold(dist: np.ndarray, spare: int) -> np.ndarray:
    """Per row, a value with at least `spare` entries at or below it (and usually few more).

    The spare-th smallest of the minima of column groups: much cheaper than argpartition over
    whole rows, which dominated the time.
    """
    r, n = dist.shape
    group = max(1, min(64, n // (2 * (spare + 1))))
    whole = (n // group) * group
    mins = dist[:, :whole].reshape(r, -1, group).min(axis=2)
    if whole < n:
        mins = np.concatenate([mins, dist[:, whole:].min(axis=1, keepdims=True)], axis=1)
    return np.partition(mins, spare - 1, axis=1)[:, spare - 1]


def knn(vectors: np.ndarray, k: int = 10, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """(n, k) neighbour indices and float64 distances of every point, itself excluded.

    k larger than n - 1 is lowered to n - 1.
    """
    array = _check(vectors, metric, k)
    n = len(array)
    k = min(int(k), n - 1)
    if k < 1:
        raise InputError(f"neighbours need at least 2 points, got {n}")
    data = _prepared(array, metric)
    fast = data.astype(np.float32)
    sq = np.einsum("ij,ij->i", fast, fast) if metric == "euclidean" else None
    spare = min(n - 1, k + max(4, k // 2))  # float32 candidates kept beyond k, re-ranked in float64
    block = max(1, min(n, BLOCK_BYTES // (4 * n)))
    out_idx = np.empty((n, k), dtype=np.int64)
    out_dist = np.empty((n, k), dtype=np.float64)
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        dist = fast[rows] @ fast.T
        if metric == "cosine":
            np.subtract(1.0, dist, out=dist)
        else:
            dist *= -2.0
            dist += sq[rows, None]
            dist += sq[None, :]
        dist[np.arange(len(rows)), rows] = np.inf  # never its own neighbour
        if spare < n - 1:
            within = dist <= _threshold(dist, spare)[:, None]
        else:
            within = np.isfinite(dist)
        rr, cc = np.nonzero(within)
        if len(rr) > 8 * spare * len(rows) + 1024:
            # long runs of tied distances (duplicate points): rank whole rows, index breaks ties
            order = np.argsort(dist, axis=1, kind="stable")[:, :spare]
            rr = np.repeat(np.arange(len(rows)), spare)
            cc = order.ravel()
        exact = _pair_distances(data, rows[rr], cc, metric)
        order = np.lexsort((cc, exact, rr))  # by row, then distance, then index
        rr, cc, exact = rr[order], cc[order], exact[order]
        first = np.searchsorted(rr, np.arange(len(rows)))
        pick = first[:, None] + np.arange(k)[None, :]
        out_idx[rows] = cc[pick]
        out_dist[rows] = exact[pick]
    return out_idx, out_dist


def knn_sets(vectors: np.ndarray, k: int = 10, metric: str = "cosine") -> np.ndarray:
    """(n, k) neighbour indices of every point (itself excluded), nearest first."""
    return knn(vectors, k, metric)[0]


def nearest(vectors: np.ndarray, query: int | np.ndarray, k: int = 10, metric: str = "cosine") -> Neighbors:
    """The k nearest rows to row `query` (itself excluded) or to a query vector of shape (d,)."""
    array = _check(vectors, metric, k)
    n, d = array.shape
    data = _prepared(array, metric)
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        row = int(query)
        if not 0 <= row < n:
            raise InputError(f"row {row} is out of range: there are {n} points (rows 0..{n - 1})")
        q = data[row]
        exclude: int | None = row
    else:
        q = np.asarray(query, dtype=np.float64) if not isinstance(query, bool) else np.asarray([])
        if q.shape != (d,):
            raise InputError(f"query vector must have shape ({d},) like the vectors, got {q.shape}")
        if not np.isfinite(q).all():
            raise InputError("query vector holds NaN or inf")
        if metric == "cosine":
            norm = np.linalg.norm(q)
            q = q / norm if norm > 0 else q
        exclude = None
    if metric == "cosine":
        dist = np.clip(1.0 - data @ q, 0.0, 2.0)
    else:
        dist = np.sqrt(np.einsum("ij,ij->i", data - q, data - q))
    idx = np.arange(n)
    if exclude is not None:
        keep = idx != exclude
        idx, dist = idx[keep], dist[keep]
    k = min(int(k), len(idx))
    order = np.lexsort((idx, dist))[:k]
    return Neighbors(indices=idx[order], distances=dist[order], metric=metric)
