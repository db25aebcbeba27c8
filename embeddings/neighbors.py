"""k nearest neighbours in the original space (cosine or euclidean).

`neighbor_graph` is the one entry point for every point's neighbours (compare's overlap, UMAP's
graph): exact (`knn`) up to `EXACT_UP_TO` points, an approximate index above (`approximate_knn`,
faiss IVF with its recall checked against exact search on a seeded sample). One point's or one
query's neighbours (`nearest`) are always exact: one pass over the vectors.

Exact search, numpy only:

Distances are computed a block of rows at a time so 100k x 384 never holds an n x n matrix.
The block is scored in float32 (fast matrix product), a few spare candidates are kept (with a
margin that covers float32 rounding), and their distances are recomputed in float64 and sorted by
(distance, index): exact distances, and ties broken by the lower index so the same input always
gives the same neighbours. Identical points get bit-identical distances (each is measured through
the first row of its group of duplicates): a matrix product rounds identical columns differently
depending on where they sit, which would otherwise break ties between duplicates at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.checks import ProgressFn, check_metric, check_vectors, whole_number
from embeddings.errors import InputError
# Bytes of float32 distances held at once per block (rows x n).
BLOCK_BYTES = 1 << 26
# Exact all-points neighbours are quadratic (100k x 384: 110 s on 2 cores); above this many
# points `neighbor_graph` uses the approximate index (100k: about 10 s, recall@10 >= 0.95).
EXACT_UP_TO = 20_000
# The approximate index keeps probing more cells until its recall@k on a seeded sample of points,
# against exact search of the same points, reaches this.
TARGET_RECALL = 0.97
RECALL_SAMPLE = 256
SEARCH_ROWS = 8192  # points searched per progress step


@dataclass(frozen=True)
class Neighbors:
    """The k nearest points to one query: their rows and distances, nearest first."""

    rows: np.ndarray
    distances: np.ndarray
    metric: str


def _check(vectors: np.ndarray, metric: str, k: int) -> np.ndarray:
    check_metric(metric)
    whole_number(k, "k", minimum=1)
    return check_vectors(vectors)


def _prepared(array: np.ndarray, metric: str) -> np.ndarray:
    """float64 rows, unit length for cosine (zero rows stay zero: distance 1 to everything)."""
    data = np.asarray(array, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        data = data / np.where(norms > 0, norms, 1.0)
    return data


def _prepared32(array: np.ndarray, metric: str) -> np.ndarray:
    """float32 rows, unit length for cosine, normalised a block at a time (no float64 copy of it all)."""
    data = np.array(array, dtype=np.float32, copy=True, order="C")
    if metric == "cosine":
        step = 65536
        for start in range(0, len(data), step):
            block = data[start : start + step]
            norms = np.linalg.norm(block.astype(np.float64), axis=1, keepdims=True)
            block /= np.where(norms > 0, norms, 1.0).astype(np.float32)
    return data


def _pair_distances(data: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """float64 distances between rows data[a[i]] and data[b[i]], a bounded slice at a time."""
    out = np.empty(len(a), dtype=np.float64)
    step = max(1, (1 << 24) // (8 * data.shape[1]))  # ~16 MB of gathered rows per slice
    for s in range(0, len(a), step):
        x = data[a[s : s + step]].astype(np.float64, copy=False)
        y = data[b[s : s + step]].astype(np.float64, copy=False)
        if metric == "cosine":
            out[s : s + step] = np.clip(1.0 - np.einsum("ij,ij->i", x, y), 0.0, 2.0)
        else:
            diff = x - y
            out[s : s + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _duplicate_groups(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the first row with identical values, and how many identical rows come before it.

    Rows are grouped by a hash of their bytes (no sorted copy of the data, which at 100k x 1024
    would be another 800 MB) and each member is checked against its group's first row.
    """
    n = len(data)
    rows = np.arange(n)
    keys = np.fromiter((hash(row.tobytes()) for row in data), dtype=np.int64, count=n)
    _, first_of_key, key_group = np.unique(keys, return_index=True, return_inverse=True)
    first = first_of_key[key_group.ravel()]
    others = np.nonzero(first != rows)[0]
    if len(others):
        collided = (data[others] != data[first[others]]).any(axis=1)
        first[others[collided]] = others[collided]  # a hash collision, not a copy: its own group
    order = np.lexsort((rows, first))  # rows grouped, each group in row order
    starts = np.searchsorted(first[order], first[order], side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rows - starts
    return first, rank


def _float32_margin(d: int) -> float:
    """A bound on the float32 rounding of a length-d dot product, relative to |x| |y| (2x spare)."""
    return (d + 4) * 2.0**-23


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
    """(n, k) neighbour rows and float64 distances of every point, itself excluded.

    k larger than n - 1 is lowered to n - 1.
    """
    array = _check(vectors, metric, k)
    n = len(array)
    k = min(int(k), n - 1)
    if k < 1:
        raise InputError(f"neighbours need at least 2 points, got {n}")
    data = _prepared(array, metric)
    fast = data.astype(np.float32)
    sq = np.einsum("ij,ij->i", data, data)
    # Candidates are chosen on float32 scores, so the cut-off gets a margin of twice the worst
    # rounding of a score: no true neighbour can then fall outside it.
    margin = 2 * _float32_margin(data.shape[1]) * (sq + sq.max())
    sq32 = sq.astype(np.float32)
    first, rank = _duplicate_groups(data)
    # Of a group of identical points only the first k + 1 can be among anyone's k nearest (they
    # tie, and lower rows win ties): the rest are never candidates, which bounds the work on copies.
    surplus = np.nonzero(rank > k)[0]
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
            dist += sq32[rows, None]
            dist += sq32[None, :]
        dist[np.arange(len(rows)), rows] = np.inf  # never its own neighbour
        if len(surplus):
            dist[:, surplus] = np.inf
        within = np.isfinite(dist)  # every row keeps at least k finite entries
        if spare < n - 1:
            # (the threshold is inf when fewer than `spare` entries are finite: then all are kept)
            within &= dist <= (_threshold(dist, spare) + margin[rows])[:, None]
        rr, cc = np.nonzero(within)
        if len(rr) > 8 * spare * len(rows) + 1024:
            # long runs of near-tied distances between different points: rank whole rows on the
            # float32 scores (index breaks ties); the float64 re-ranking below still orders them
            order = np.argsort(dist, axis=1, kind="stable")[:, : 4 * spare]
            rr = np.repeat(np.arange(len(rows)), order.shape[1])
            cc = order.ravel()
            keep = np.isfinite(dist[rr, cc])
            rr, cc = rr[keep], cc[keep]
        # measured to the first of each group of duplicates, so identical points tie exactly
        exact = _pair_distances(data, rows[rr], first[cc], metric)
        order = np.lexsort((cc, exact, rr))  # by row, then distance, then index
        rr, cc, exact = rr[order], cc[order], exact[order]
        first_of_row = np.searchsorted(rr, np.arange(len(rows)))
        pick = first_of_row[:, None] + np.arange(k)[None, :]
        out_idx[rows] = cc[pick]
        out_dist[rows] = exact[pick]
    return out_idx, out_dist


@dataclass(frozen=True)
class NeighborGraph:
    """Every point's k nearest neighbours (itself excluded), nearest first.

    `exact` says how they were found; for the approximate index, `recall` is its recall@k against
    exact search measured on a seeded sample of `RECALL_SAMPLE` points.
    """

    rows: np.ndarray  # (n, k) int64: each point's neighbours, as rows
    distances: np.ndarray  # (n, k) float64, exact distances of the points found
    metric: str
    exact: bool
    recall: float | None = None


def neighbor_graph(
    vectors: np.ndarray,
    k: int = 10,
    metric: str = "cosine",
    *,
    exact_up_to: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> NeighborGraph:
    """Every point's k nearest neighbours: exact up to `exact_up_to` (default EXACT_UP_TO) points,
    approximate above.

    The one place that decides, so compare, UMAP and the quality figures agree on which
    neighbours they use. Seeded and deterministic either way.
    """
    array = _check(vectors, metric, k)
    if len(array) <= (EXACT_UP_TO if exact_up_to is None else exact_up_to):
        rows, distances = knn(array, k, metric)
        if progress is not None:
            progress(1, 1)
        return NeighborGraph(rows, distances, metric, exact=True, recall=1.0)
    return approximate_knn(array, k, metric, seed=seed, progress=progress)


def knn_sets(vectors: np.ndarray, k: int = 10, metric: str = "cosine", *, exact_up_to: int | None = None) -> np.ndarray:
    """(n, k) neighbour rows of every point (itself excluded), nearest first (see neighbor_graph)."""
    return neighbor_graph(vectors, k, metric, exact_up_to=exact_up_to).rows


def _top_k_exact(data: np.ndarray, rows: np.ndarray, k: int, inner_product: bool) -> list[set[int]]:
    """Exact k nearest of a few rows (self excluded), as index sets: the yardstick for recall."""
    scores = data[rows] @ data.T  # (len(rows), n): small, rows is a sample
    if not inner_product:  # -|x - y|^2 up to a per-row constant
        scores = 2 * scores - np.einsum("ij,ij->i", data, data)[None, :]
    scores[np.arange(len(rows)), rows] = -np.inf
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return [set(map(int, r)) for r in top]


def approximate_knn(
    vectors: np.ndarray,
    k: int = 10,
    metric: str = "cosine",
    *,
    seed: int = 0,
    target_recall: float = TARGET_RECALL,
    progress: ProgressFn | None = None,
) -> NeighborGraph:
    """Every point's k nearest neighbours from a faiss inverted-file index (IVF, flat lists).

    The points are split into about 2 sqrt(n) cells by k-means (seeded, on a sample); each point
    is compared with the points of its `nprobe` nearest cells. nprobe starts at 8 and doubles until
    the recall@k on a seeded sample of points, against exact search, reaches `target_recall` (it
    ends at every cell: exact). Candidates are re-measured in float64 and ordered by
    (distance, index), as `knn` orders them. Deterministic: k-means is seeded and each query is
    answered on its own, whatever the number of threads.
    """
    import faiss

    array = _check(vectors, metric, k)
    n, d = array.shape
    k = min(int(k), n - 1)
    if k < 1:
        raise InputError(f"neighbours need at least 2 points, got {n}")
    data = np.ascontiguousarray(_prepared32(array, metric))
    inner = metric == "cosine"
    cells = max(1, min(n // 39, int(2 * np.sqrt(n))))  # faiss wants >= 39 training points per cell
    rng = np.random.default_rng(seed)
    train = data[np.sort(rng.choice(n, size=min(n, 40 * cells), replace=False))]
    quantizer = faiss.IndexFlatIP(d) if inner else faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, cells, faiss.METRIC_INNER_PRODUCT if inner else faiss.METRIC_L2)
    index.cp.seed = int(seed) % (2**31)
    index.cp.niter = 10
    total = 2 + n  # training, filling the lists, then one step per point searched
    if progress is not None:
        progress(0, total)
    index.train(train)
    del train
    if progress is not None:
        progress(1, total)
    index.add(data)
    if progress is not None:
        progress(2, total)

    probe_rows = np.sort(rng.choice(n, size=min(n, RECALL_SAMPLE), replace=False))
    want = _top_k_exact(data, probe_rows, k, inner)
    spare = k + 1 + max(4, k // 2)  # itself, and a few more to re-rank in float64
    nprobe = min(8, cells)
    while True:
        index.nprobe = nprobe
        _, found = index.search(data[probe_rows], spare)
        recall = _recall(found, probe_rows, want, k)
        if recall >= target_recall or nprobe >= cells:
            break
        nprobe = min(cells, nprobe * 2)

    out_idx = np.empty((n, k), dtype=np.int64)
    out_dist = np.empty((n, k), dtype=np.float64)
    step = SEARCH_ROWS
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        _, found = index.search(data[rows], spare)
        out_idx[rows], out_dist[rows] = _rerank(data, rows, found, k, metric)
        if progress is not None:
            progress(2 + rows[-1] + 1, total)
    return NeighborGraph(out_idx, out_dist, metric, exact=False, recall=recall)


def _recall(found: np.ndarray, rows: np.ndarray, want: list[set[int]], k: int) -> float:
    hits = 0
    for row, candidates, truth in zip(rows, found, want):
        mine = [int(c) for c in candidates if c >= 0 and c != row][:k]
        hits += len(truth.intersection(mine))
    return hits / (k * len(rows))


def _rerank(data: np.ndarray, rows: np.ndarray, found: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Drop each row itself, re-measure its candidates exactly, keep the k nearest by (distance, index).

    A row whose list came back short (-1: too few points in the cells probed) is filled by exact
    search, so every row has k real neighbours.
    """
    r = len(rows)
    found = found.copy()
    found[found == rows[:, None]] = -1
    rr, slot = np.nonzero(found >= 0)
    cc = found[rr, slot]
    dist = np.full(found.shape, np.inf)
    dist[rr, slot] = _pair_distances(data, rows[rr], cc, metric)
    found[~np.isfinite(dist)] = np.iinfo(np.int64).max  # missing candidates sort last
    order = _row_lexsort(found, dist)
    idx = np.take_along_axis(found, order, axis=1)[:, :k]
    out = np.take_along_axis(dist, order, axis=1)[:, :k]
    short = np.nonzero(~np.isfinite(out).all(axis=1))[0]
    for i in short:
        exact = nearest(data, int(rows[i]), k, metric)
        idx[i], out[i] = exact.rows, exact.distances
    return idx, out


def _row_lexsort(keys: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Per row, the order by (distance, key)."""
    r, m = dist.shape
    flat = np.lexsort((keys.ravel(), dist.ravel(), np.repeat(np.arange(r), m)))
    return (flat - np.repeat(np.arange(r), m) * m).reshape(r, m)


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
    if k < 1:  # a single point has no neighbours other than itself
        return Neighbors(rows=idx[:0], distances=dist[:0], metric=metric)
    # Near the cut-off, re-measure each candidate through the first of its identical rows so
    # duplicates tie exactly (a matrix-vector product can round identical rows differently).
    kth = np.partition(dist, k - 1)[k - 1]
    close = np.nonzero(dist <= kth + 1e-9 * (1.0 + kth))[0]
    if len(close) > k:
        first, _ = _duplicate_groups(data[idx[close]])
        dist = dist.copy()
        dist[close] = dist[close[first]]
    order = np.lexsort((idx, dist))[:k]
    return Neighbors(rows=idx[order], distances=dist[order], metric=metric)
