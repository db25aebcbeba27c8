"""Compare two to four models on the same points: neighbourhoods, CKA, distances, aligned layouts.

Every figure is computed in each model's own space, so models of different widths (and
different tokenizers, once their texts are encoded) compare directly:

- ``knn_overlap``: per point, the Jaccard index of its k nearest neighbours in each model.
- ``linear_cka``: centred linear CKA (Kornblith et al., 2019), 1 for spaces that differ only by a
  rotation and an overall scale, near 0 for unrelated ones.
- ``distance_spearman``: rank correlation of pairwise distances over a seeded sample of points.
- ``aligned_projections``: one 2D/3D layout per model, placed so the same point lands in a
  comparable place (shared starting layout and orthogonal Procrustes).

numpy, scipy and scikit-learn only; UMAP and t-SNE are imported by ``embeddings.reduce`` when used.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embeddings.checks import ProgressFn, check_metric, check_vectors, is_whole, whole_number
from embeddings.errors import InputError
from embeddings.neighbors import EXACT_UP_TO, neighbor_graph
from embeddings.reduce import Projection, project, sample_rows


# Pairwise distances for the rank correlation: a sample of 2,000 points gives ~2M pairs,
# plenty for a stable figure and about a second of work.
SPEARMAN_SAMPLE = 2_000
# Rows of float64 centred data held at once while accumulating CKA's cross products.
CKA_CHUNK_BYTES = 1 << 26
MIN_POINTS = 3  # fewer leaves no neighbourhood that could differ and no distances to rank
# Above this many rows a comparison runs on a seeded sample: every model encodes every row,
# and on a laptop CPU that is the slow part.
MAX_COMPARED = 5_000


# ---------------------------------------------------------------- per-pair figures


def compared_rows(n: int, seed: int = 0, limit: int = MAX_COMPARED) -> np.ndarray:
    """The rows a comparison of n texts uses: all of them, or a seeded sample of `limit` in source order."""
    if n <= limit:
        return np.arange(n)
    return sample_rows(n, limit, seed)


def _check_k(k: Any) -> int:
    return whole_number(k, "k", minimum=1)


def _check_metric(metric: Any) -> str:
    return check_metric(metric)


def _same_rows(a: np.ndarray, b: np.ndarray, a_name: str = "a", b_name: str = "b") -> None:
    if a.shape[0] != b.shape[0]:
        raise InputError(
            f"{a_name} has {a.shape[0]:,} points and {b_name} has {b.shape[0]:,}; "
            "comparisons need the same points in the same order"
        )


def jaccard_rows(a_idx: np.ndarray, b_idx: np.ndarray) -> np.ndarray:
    """Per row, |A & B| / |A | B| of two (n, k) arrays of distinct indices per row."""
    if a_idx.shape != b_idx.shape:
        raise InputError(f"neighbour sets differ in shape: {a_idx.shape} and {b_idx.shape}")
    n, k = a_idx.shape
    if k == 0:
        return np.ones(n)
    # Each row of each set holds distinct indices, so after sorting the 2k entries of a row
    # every shared index appears exactly twice, side by side.
    both = np.sort(np.concatenate([a_idx, b_idx], axis=1), axis=1)
    shared = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    return shared / (2 * k - shared)


def knn_overlap(
    a_vectors: np.ndarray, b_vectors: np.ndarray, k: int = 10, metric: str = "cosine", *,
    exact_up_to: int | None = None,
) -> np.ndarray:
    """(n,) Jaccard index of each point's k nearest neighbours in space a and in space b.

    Each set is found in its own space (widths may differ); 1 = the same neighbours, 0 = none
    shared. k above n - 1 is lowered to n - 1. Above `exact_up_to` points the neighbours come
    from the approximate index (see embeddings.neighbors.neighbor_graph).
    """
    k = _check_k(k)
    metric = _check_metric(metric)
    a = check_vectors(a_vectors, "a_vectors")
    b = check_vectors(b_vectors, "b_vectors")
    _same_rows(a, b, "a_vectors", "b_vectors")
    if len(a) < 2:
        raise InputError(f"neighbour overlap needs at least 2 points, got {len(a)}")
    a_idx = neighbor_graph(a, k, metric, exact_up_to=exact_up_to).rows
    b_idx = a_idx if b is a else neighbor_graph(b, k, metric, exact_up_to=exact_up_to).rows
    return jaccard_rows(a_idx, b_idx)


class _CkaSpace:
    """One representation for CKA: its column means and ||Xc^T Xc||_F, computed once and reused."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.mean = array.mean(axis=0, dtype=np.float64)
        n, d = array.shape
        if bool((array == array[0]).all()):
            # Every point the same: no variance to compare (centring could leave rounding dust).
            self.norm = 0.0
        elif n < d:
            # Fewer points than features: the n x n Gram matrix is the smaller one (same norm).
            centred = self.centred()
            self.norm = float(np.linalg.norm(centred @ centred.T))
        else:
            square = np.zeros((d, d))
            for chunk in self.chunks(_chunk_rows(d)):
                square += chunk.T @ chunk
            self.norm = float(np.linalg.norm(square))

    def centred(self) -> np.ndarray:
        return np.asarray(self.array, dtype=np.float64) - self.mean

    def chunks(self, rows: int):
        for start in range(0, len(self.array), rows):
            yield np.asarray(self.array[start : start + rows], dtype=np.float64) - self.mean


def _chunk_rows(width: int) -> int:
    return max(1, CKA_CHUNK_BYTES // (8 * width))


def _cka(a: _CkaSpace, b: _CkaSpace) -> float:
    """||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), exactly 1 for the same space."""
    denominator = a.norm * b.norm
    if not denominator > 0:
        return math.nan
    if a is b:
        return 1.0
    n = len(a.array)
    da, db = a.array.shape[1], b.array.shape[1]
    if n < max(da, db):
        ac, bc = a.centred(), b.centred()
        cross = float(np.vdot(ac @ ac.T, bc @ bc.T))  # <Kx, Ky>_F = ||Yc^T Xc||_F^2
    else:
        product = np.zeros((db, da))
        rows = _chunk_rows(da + db)
        for ac, bc in zip(a.chunks(rows), b.chunks(rows)):
            product += bc.T @ ac
        cross = float(np.vdot(product, product))
    return float(min(1.0, max(0.0, cross / denominator)))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Centred linear CKA of two representations of the same n points (widths may differ).

    ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) on column-centred float64 data: 1 when the
    spaces differ by a rotation and an overall scale, near 0 for unrelated ones. In this feature
    form it costs O(n d^2) time and O(d^2) memory (rows are centred a chunk at a time), so 100k x
    1024 is fine; with fewer points than dimensions the equal n x n form is used. NaN when either
    representation is constant (no variance to compare).
    """
    a = check_vectors(x, "x")
    b = a if y is x else check_vectors(y, "y")
    _same_rows(a, b, "x", "y")
    space_a = _CkaSpace(a)
    space_b = space_a if (b is a or np.array_equal(a, b)) else _CkaSpace(b)
    return _cka(space_a, space_b)


def _condensed_distances(data: np.ndarray, metric: str) -> np.ndarray:
    """Distances of every pair i < j of rows, in scipy's condensed order (float64)."""
    from scipy.spatial.distance import pdist

    data = np.asarray(data, dtype=np.float64)
    if metric == "cosine":
        # As embeddings.neighbors does: unit rows, a zero row stays zero (distance 1 to all).
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        data = data / np.where(norms > 0, norms, 1.0)
        upper = np.triu_indices(len(data), k=1)
        return np.clip(1.0 - (data @ data.T)[upper], 0.0, 2.0)
    return pdist(data, "euclidean")


def distance_spearman(
    x: np.ndarray, y: np.ndarray, metric: str = "cosine", sample: int = SPEARMAN_SAMPLE, seed: int = 0
) -> float:
    """Spearman rank correlation of the pairwise distances of the same points in two spaces.

    Over a seeded sample of at most `sample` points (the same points in both spaces). NaN when
    the distances in either space are all equal, unless they are equal in both spaces.
    """
    from scipy.stats import rankdata

    metric = _check_metric(metric)
    a = check_vectors(x, "x")
    b = a if y is x else check_vectors(y, "y")
    _same_rows(a, b, "x", "y")
    whole_number(sample, "sample", minimum=3)
    n = len(a)
    if n < 3:
        raise InputError(f"distance rank correlation needs at least 3 points, got {n}")
    if n > sample:
        keep = sample_rows(n, int(sample), seed)
        a, b = a[keep], (a[keep] if b is a else b[keep])
    da = _condensed_distances(a, metric)
    db = da if b is a else _condensed_distances(b, metric)
    if np.array_equal(da, db):
        return 1.0
    ra, rb = rankdata(da), rankdata(db)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if not denominator > 0:
        return math.nan
    return float(min(1.0, max(-1.0, float(ra @ rb) / denominator)))


# ---------------------------------------------------------------- aligned layouts


def procrustes_align(reference_coords: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """`coords` moved, rotated (or reflected) and scaled to lie as close as possible to the reference.

    Orthogonal Procrustes with an overall scale and translation: the shape of the layout (every
    ratio of distances) is kept, only its placement changes. Rows must correspond.
    """
    from scipy.linalg import orthogonal_procrustes

    reference = check_vectors(reference_coords, "reference_coords")
    moving = check_vectors(coords, "coords")
    if reference.shape != moving.shape:
        raise InputError(f"coords of shape {moving.shape} cannot be aligned to reference of shape {reference.shape}")
    dtype = moving.dtype if np.issubdtype(moving.dtype, np.floating) else np.float64
    ref = reference.astype(np.float64)
    mov = moving.astype(np.float64)
    ref_mean, mov_mean = ref.mean(axis=0), mov.mean(axis=0)
    ref_c, mov_c = ref - ref_mean, mov - mov_mean
    size = float(np.sum(mov_c * mov_c))
    if not size > 0 or not np.any(ref_c):
        # a single point or a collapsed layout: only the translation is defined
        return (mov_c + ref_mean).astype(dtype)
    rotation, singular_sum = orthogonal_procrustes(mov_c, ref_c)
    scale = singular_sum / size
    return (mov_c @ rotation * scale + ref_mean).astype(dtype)


def aligned_projections(
    vectors_by_model: dict[str, np.ndarray],
    method: str = "pca",
    dims: int = 2,
    seed: int = 0,
    *,
    max_points: int | None = None,
    progress: ProgressFn | None = None,
    **params: Any,
) -> dict[str, Projection]:
    """One projection per model, laid out so the same point lands in comparable places.

    PCA: each model is projected on its own and Procrustes-aligned to the first model's layout.
    UMAP / t-SNE: the first model is projected as usual; every later model starts from the first
    model's layout (`init`) and is then Procrustes-aligned to it as well. Sampling (above
    `max_points`) is seeded, so every model keeps the same rows. `progress` gets (models done,
    models). The coordinates of the first model are left as they are.
    """
    models = _check_models(vectors_by_model, minimum=1)
    arrays = {name: check_vectors(vectors, f"model {name!r} vectors") for name, vectors in models.items()}
    names = list(arrays)
    for name in names[1:]:
        _same_rows(arrays[names[0]], arrays[name], f"model {names[0]!r}", f"model {name!r}")
    method = str(method).lower()
    out: dict[str, Projection] = {}
    first: Projection | None = None
    if progress is not None:
        progress(0, len(names))
    for done, name in enumerate(names, start=1):
        init = None
        if first is not None and method in ("umap", "tsne"):
            init = first.coords
        projection = project(arrays[name], method, dims, seed=seed, max_points=max_points, init=init, **params)
        if first is None:
            first = projection
        else:
            aligned = procrustes_align(first.coords, projection.coords).astype(np.float32)
            projection = dataclasses.replace(
                projection, coords=aligned, params={**projection.params, "aligned_to": names[0]}
            )
        out[name] = projection
        if progress is not None:
            progress(done, len(names))
    return out


# ---------------------------------------------------------------- several models


@dataclass(frozen=True)
class PairComparison:
    """Two models on the same points."""

    a: str
    b: str
    mean_knn_overlap: float
    cka: float
    distance_spearman: float
    overlap: np.ndarray  # (n,) Jaccard of each point's k-NN sets in a and in b
    most_changed: list[dict] = field(default_factory=list)  # {row, overlap, neighbors: {a: [...], b: [...]}}

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "mean_knn_overlap": _json_float(self.mean_knn_overlap),
            "cka": _json_float(self.cka),
            "distance_spearman": _json_float(self.distance_spearman),
            "overlap": [float(v) for v in self.overlap],
            "most_changed": [
                {"row": int(item["row"]), "overlap": float(item["overlap"]),
                 "neighbors": {m: [int(r) for r in rows] for m, rows in item["neighbors"].items()}}
                for item in self.most_changed
            ],
        }


@dataclass(frozen=True)
class Comparison:
    """Every pair of two to four models on the same n points."""

    models: list[str]
    k: int
    metric: str
    n: int
    pairs: list[PairComparison]
    overlap_per_point: np.ndarray  # (n,) mean over pairs of the per-point overlap
    neighbors: dict[str, np.ndarray]  # model -> (n, k) neighbour rows, nearest first
    notes: list[str] = field(default_factory=list)

    def pair(self, a: str, b: str) -> PairComparison:
        """The comparison of models a and b (in either order)."""
        for item in self.pairs:
            if {item.a, item.b} == {a, b}:
                return item
        raise InputError(f"no comparison of {a!r} with {b!r}; models are {', '.join(self.models)}")

    def neighbors_of(self, row: int) -> dict[str, list[int]]:
        """The k nearest rows to `row` in every model."""
        if not is_whole(row) or not 0 <= row < self.n:
            raise InputError(f"row {row!r} is out of range: there are {self.n} points (rows 0..{self.n - 1})")
        return {model: [int(r) for r in idx[row]] for model, idx in self.neighbors.items()}

    def most_changed(self, count: int = 20) -> list[dict]:
        """Rows whose neighbourhoods differ most, over all pairs (lowest mean overlap first)."""
        return _most_changed(self.overlap_per_point, count, self.neighbors)

    def to_dict(self) -> dict:
        """Plain lists, numbers and strings: ready for json.dumps (NaN figures become null)."""
        return {
            "models": list(self.models),
            "k": int(self.k),
            "metric": self.metric,
            "n": int(self.n),
            "notes": list(self.notes),
            "pairs": [pair.to_dict() for pair in self.pairs],
            "overlap_per_point": [float(v) for v in self.overlap_per_point],
        }


def _json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _most_changed(overlap: np.ndarray, count: int, neighbors: dict[str, np.ndarray]) -> list[dict]:
    order = np.argsort(overlap, kind="stable")[: max(0, int(count))]  # lowest first, ties by row
    return [
        {
            "row": int(row),
            "overlap": float(overlap[row]),
            "neighbors": {model: [int(r) for r in idx[row]] for model, idx in neighbors.items()},
        }
        for row in order
    ]


def _check_models(vectors_by_model: Any, minimum: int) -> dict[str, Any]:
    if not isinstance(vectors_by_model, dict):
        raise InputError(f"give the vectors as a dict of model name -> array, not {type(vectors_by_model).__name__}")
    if len(vectors_by_model) < minimum:
        raise InputError(f"need at least {minimum} model{'s' if minimum > 1 else ''}, got {len(vectors_by_model)}")
    return {str(name): vectors for name, vectors in vectors_by_model.items()}


def compare_embeddings(
    vectors_by_model: dict[str, np.ndarray],
    k: int = 10,
    metric: str = "cosine",
    most_changed: int = 20,
    *,
    sample: int = SPEARMAN_SAMPLE,
    seed: int = 0,
    exact_up_to: int | None = None,
) -> Comparison:
    """Compare every pair of models that encoded the same points (in the same order).

    Per pair: per-point k-NN overlap (Jaccard, each model's own space) and its mean, linear CKA,
    and the Spearman correlation of pairwise distances (seeded sample of `sample` points); the
    `most_changed` points with the lowest overlap, with their neighbours in both models.
    k above n - 1 is lowered (and a note says so). Above `exact_up_to` points the neighbour sets
    come from the approximate index (embeddings.neighbors.neighbor_graph; a note says so).
    """
    models = _check_models(vectors_by_model, minimum=2)
    k = _check_k(k)
    metric = _check_metric(metric)
    whole_number(most_changed, "most_changed", minimum=0)
    arrays = {name: check_vectors(vectors, f"model {name!r} vectors") for name, vectors in models.items()}
    names = list(arrays)
    n = arrays[names[0]].shape[0]
    for name in names[1:]:
        _same_rows(arrays[names[0]], arrays[name], f"model {names[0]!r}", f"model {name!r}")
    if n < MIN_POINTS:
        raise InputError(f"comparing models needs at least {MIN_POINTS} points, got {n}")
    notes: list[str] = []
    if k > n - 1:
        notes.append(f"k lowered from {k} to {n - 1} for {n} points")
        k = n - 1

    # Work per model is done once, whatever the number of pairs. Models with identical vectors
    # share it, so a model against itself has exactly the same neighbour sets (overlap 1) and
    # takes the same-space path of CKA and the distance correlation (exactly 1).
    canonical: dict[str, str] = {}
    for name in names:
        canonical[name] = next(
            (other for other in canonical if canonical[other] == other and np.array_equal(arrays[other], arrays[name])),
            name,
        )
    neighbors: dict[str, np.ndarray] = {}
    spaces: dict[str, _CkaSpace] = {}
    for name in names:
        if canonical[name] == name:
            graph = neighbor_graph(arrays[name], k, metric, exact_up_to=exact_up_to, seed=seed)
            if not graph.exact and not any(note.startswith("neighbours above") for note in notes):
                limit = EXACT_UP_TO if exact_up_to is None else exact_up_to
                notes.append(f"neighbours above {limit:,} points come from an approximate index "
                             f"(recall@{k} {graph.recall:.3f} against exact search on a sample)")
            neighbors[name] = graph.rows
            spaces[name] = _CkaSpace(arrays[name])
        else:
            neighbors[name] = neighbors[canonical[name]]
            spaces[name] = spaces[canonical[name]]

    pairs: list[PairComparison] = []
    for a, b in itertools.combinations(names, 2):
        overlap = jaccard_rows(neighbors[a], neighbors[b])
        x = arrays[canonical[a]]
        y = arrays[canonical[b]]
        pairs.append(
            PairComparison(
                a=a,
                b=b,
                mean_knn_overlap=float(overlap.mean()),
                cka=_cka(spaces[a], spaces[b]),
                distance_spearman=distance_spearman(x, y, metric, sample=sample, seed=seed),
                overlap=overlap,
                most_changed=_most_changed(overlap, most_changed, {a: neighbors[a], b: neighbors[b]}),
            )
        )
    overlap_per_point = np.mean([pair.overlap for pair in pairs], axis=0)
    return Comparison(
        models=names,
        k=k,
        metric=metric,
        n=n,
        pairs=pairs,
        overlap_per_point=overlap_per_point,
        neighbors=neighbors,
        notes=notes,
    )
