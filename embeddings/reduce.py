"""Project vectors to 2D or 3D: PCA, UMAP or t-SNE, with a quality figure.

``project`` is the one entry point. Inputs are checked here, at the boundary, so every
problem is one ``InputError`` line. Above a method's interactive limit the points are sampled
(seeded) and the ``Projection`` says so, as the TensorFlow projector does, instead of freezing.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embeddings.checks import ProgressFn, check_vectors, is_whole, number
from embeddings.choices import METHOD_NAMES, METHODS, UMAP_METRICS
from embeddings.errors import InputError


# UMAP runs on every point up to 100k (about 60 s there on 2 cores, its kNN graph from the
# approximate index above 20k); t-SNE keeps a 10k sample (openTSNE at 100k: minutes).
INTERACTIVE_LIMITS: dict[str, int | None] = {"pca": None, "umap": 100_000, "tsne": 10_000}
# Fewest points each method can lay out meaningfully (UMAP's spectral init and t-SNE's
# perplexity both need a handful of neighbours).
MIN_POINTS = {"pca": 2, "umap": 5, "tsne": 5, "custom": 2}
# trustworthiness is O(n^2) in time and memory: score a seeded sample of at most this many.
TRUST_SAMPLE = 2_000
# PCA: sklearn's randomized solver is the fast one for many rows and few components of wide data;
# up to this many dimensions the covariance eigendecomposition is both exact and faster.
RANDOMIZED_FROM = 2_000
COVARIANCE_MAX_DIMS = 4_096
# t-SNE: Barnes-Hut below this many points, FFT-accelerated from here on (2D only).
TSNE_FFT_FROM = 2_000

PCA_PARAMS = ("components",)
UMAP_PARAMS = ("n_neighbors", "min_dist", "metric")
TSNE_PARAMS = ("perplexity", "learning_rate", "n_iter")
# A watched layout (``project(frames=...)``) reports its coordinates after every t-SNE iteration and
# every UMAP epoch: a copy of the layout between two iterations (80 kB at 10k points), nothing
# more (see _without_error for openTSNE's own cost of a callback).
TSNE_FRAME_EVERY = 1
TSNE_PROGRESS_EVERY = 25
# umap-learn optimises 500 epochs up to 10k points and 200 above. From 5k points 200 epochs give
# the same trustworthiness (0.980 vs 0.980 on 10k x 384 clusters) in 12 s instead of 17 s.
UMAP_LARGE_FROM = 5_000
UMAP_EPOCHS_LARGE = 200
# From 50k points: 120 epochs and a PCA starting layout instead of the spectral one. Measured on
# 100k x 384 (the benchmark's data, CPU seconds): spectral init 16 s, PCA init under 1 s; 200
# epochs 41 s, 120 epochs 27 s; trustworthiness 0.743 (spectral, 200), 0.747 (PCA, 200),
# 0.746 (PCA, 120).
UMAP_HUGE_FROM = 50_000
UMAP_EPOCHS_HUGE = 120


@dataclass(frozen=True)
class Projection:
    """Coordinates of the points in 2D/3D and how they were made."""

    coords: np.ndarray  # (m, dims) float32; m == len(subset_rows) when a subset is laid out
    method: str
    dims: int
    params: dict = field(default_factory=dict)
    subset_rows: np.ndarray | None = None  # the rows laid out when not all (sampled, filtered); None: all, in order
    variance_explained: list[float] | None = None  # PCA: per component shown
    trustworthiness: float | None = None
    note: str | None = None
    seconds: float = 0.0

    @property
    def rows(self) -> np.ndarray:
        """The row (in the projected vectors) of each coordinate row: 0..n-1 unless a subset was laid out."""
        if self.subset_rows is None:
            return np.arange(len(self.coords))
        return np.asarray(self.subset_rows)


@dataclass(frozen=True, eq=False)
class Frame:
    """A t-SNE or UMAP layout on its way: the coordinates after `iteration` of `total` iterations
    (t-SNE, counting the early exaggeration phase) or epochs (UMAP; 0 is the starting layout)."""

    iteration: int
    total: int
    coords: np.ndarray  # (m, dims) float32: a copy, the optimiser goes on with its own
    method: str
    _finish: Callable[[np.ndarray, str | None, bool], Projection] = field(repr=False)

    def projection(self, *, measure: bool = True) -> Projection:
        """This layout as a Projection of its own, its note saying where it stopped: what a run
        stopped here leaves. measure=False leaves out the trustworthiness (a second or so)."""
        name = METHOD_NAMES[self.method]
        step = "epoch" if self.method == "umap" else "iteration"
        stopped = None if self.iteration >= self.total else f"{name} stopped at {step} {self.iteration:,} of {self.total:,}"
        return self._finish(self.coords, stopped, measure)


# Called with each Frame of a watched layout. It runs in the optimiser's thread between two
# iterations: it may block (a pause) and whatever it raises ends the run.
FrameFn = Callable[[Frame], None]


def sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    """A seeded random sample of `limit` rows out of n, in source order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def project(
    vectors: np.ndarray,
    method: str = "pca",
    dims: int = 2,
    *,
    seed: int = 0,
    max_points: int | None = None,
    init: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    frames: FrameFn | None = None,
    **params: Any,
) -> Projection:
    """Project (n, d) vectors to `dims` (2 or 3) with PCA, UMAP or t-SNE.

    pca params: components=(0, 1[, 2]); umap: n_neighbors=15, min_dist=0.1, metric="euclidean";
    tsne: perplexity=30, learning_rate="auto", n_iter=500. `max_points` (default
    INTERACTIVE_LIMITS[method]) samples larger inputs; `init` is a starting layout for UMAP/t-SNE
    with one row per input (or per sampled) point. `frames` watches a UMAP or t-SNE layout form:
    it is called with a ``Frame`` of the starting layout and then after every UMAP epoch or t-SNE
    iteration (TSNE_FRAME_EVERY); watching does not change the result, not by a bit.
    """
    started = time.perf_counter()
    method, dims, array = _check_request(vectors, method, dims, params)
    notes: list[str] = []
    n = array.shape[0]
    array, sampled = _sample(array, method, max_points, seed, notes)
    if init is not None:
        init = _check_init(init, method, dims, n, array.shape[0], sampled)

    if progress is not None:
        progress(0, 1)
    variance: list[float] | None = None

    def finish(coords: np.ndarray, used: dict, note: str | None = None, measure: bool = True) -> Projection:
        coords = np.ascontiguousarray(coords, dtype=np.float32)
        trust = trustworthiness_score(array, coords, seed=seed, metric=used.get("metric", "euclidean")) if measure else None
        return Projection(
            coords=coords,
            method=method,
            dims=dims,
            params=used,
            subset_rows=sampled,
            variance_explained=variance,
            trustworthiness=trust,
            note="; ".join([*notes, *([note] if note else [])]) or None,
            seconds=time.perf_counter() - started,
        )

    def watch(iteration: int, total: int, layout: np.ndarray, used: dict) -> None:
        if frames is not None:
            coords = np.array(layout, dtype=np.float32)
            frames(Frame(iteration, total, coords, method, lambda c, note, measure: finish(c, used, note, measure)))

    if method == "pca":
        coords, variance, used = _pca(array, dims, seed, **params)
    elif method == "umap":
        coords, used = _umap(array, dims, seed, init, notes, progress, watch if frames else None, **params)
    else:
        coords, used = _tsne(array, dims, seed, init, notes, progress, watch if frames else None, **params)
    if progress is not None:
        progress(1, 1)
    return finish(coords, used)


def _check_request(vectors: Any, method: Any, dims: Any, params: dict) -> tuple[str, int, np.ndarray]:
    """(method, dims, vectors) checked: a known method, 2 or 3 dims, enough points, its own params."""
    method = str(method).lower()
    if method not in METHODS:
        raise InputError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    if not is_whole(dims) or dims not in (2, 3):
        raise InputError(f"dims must be 2 or 3, not {dims!r}")
    array = check_vectors(vectors)
    if array.shape[0] < MIN_POINTS[method]:
        raise InputError(f"{METHOD_NAMES[method]} needs at least {MIN_POINTS[method]} points, got {array.shape[0]}")
    allowed = {"pca": PCA_PARAMS, "umap": UMAP_PARAMS, "tsne": TSNE_PARAMS}[method]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"{METHOD_NAMES[method]} does not take {', '.join(unknown)}; it takes {', '.join(allowed)}"
        )
    return method, int(dims), array


def _sample(
    array: np.ndarray, method: str, max_points: Any, seed: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows to project: all of them, or a seeded sample above `max_points` (said in `notes`)."""
    n = array.shape[0]
    limit = INTERACTIVE_LIMITS[method] if max_points is None else number(max_points, "max_points", int, minimum=1)
    if limit is not None and limit < MIN_POINTS[method]:
        raise InputError(f"max_points must be at least {MIN_POINTS[method]} for {METHOD_NAMES[method]}, not {limit!r}")
    if limit is None or n <= int(limit):
        return array, None
    sampled = sample_rows(n, int(limit), seed)
    notes.append(f"{METHOD_NAMES[method]} ran on a random sample of {len(sampled):,} of {n:,} points")
    return array[sampled], sampled


def _check_init(
    init: Any, method: str, dims: int, n: int, rows: int, sampled: np.ndarray | None
) -> np.ndarray:
    """A starting layout with one row per projected point (rows of a sample taken from a full one)."""
    if method == "pca":
        raise InputError("init (a starting layout) applies to UMAP and t-SNE, not PCA")
    init = check_vectors(init, "init")
    if init.shape[0] == n and sampled is not None:
        init = init[sampled]
    if init.shape != (rows, dims):
        raise InputError(f"init: must have shape ({rows}, {dims}), got {init.shape}")
    return init.astype(np.float64)


def trustworthiness_score(
    high: np.ndarray, low: np.ndarray, *, seed: int = 0, metric: str = "euclidean", sample: int = TRUST_SAMPLE
) -> float | None:
    """sklearn's trustworthiness (1 = every low-dim neighbour is a true neighbour) on a seeded sample."""
    from sklearn.manifold import trustworthiness

    n = len(high)
    if n > sample:
        keep = sample_rows(n, sample, seed)
        high, low = high[keep], low[keep]
        n = sample
    k = min(10, (n - 1) // 2)  # sklearn requires k < n / 2
    if k < 1:
        return None
    return float(trustworthiness(high.astype(np.float32), low, n_neighbors=k, metric=metric))


# ---------------------------------------------------------------- PCA


def _pca(array: np.ndarray, dims: int, seed: int, components: Any = None) -> tuple[np.ndarray, list[float], dict]:
    from sklearn.decomposition import PCA

    n, d = array.shape
    if components is None:
        components = tuple(range(dims))
    try:
        components = tuple(int(c) for c in components)
    except (TypeError, ValueError):
        raise InputError(f"PCA components must be {dims} component numbers, not {components!r}") from None
    if len(components) != dims or len(set(components)) != dims:
        raise InputError(f"PCA components must be {dims} different component numbers, not {components!r}")
    available = min(n, d)
    if min(components) < 0 or max(components) >= available:
        raise InputError(
            f"PCA components {components} out of range: {n} points x {d} dimensions give components 0..{available - 1}"
        )
    needed = max(components) + 1
    # Many more rows than dimensions (the usual case: 100k x 384): the eigenvectors of the d x d
    # covariance matrix are the exact components, for one float32 matrix product (~0.2 s for
    # 100k x 384 on 2 cores against ~0.9 s for randomized SVD, which is also only approximate).
    # Very wide data: a seeded randomized SVD; small data: the full SVD.
    if n > d and d <= COVARIANCE_MAX_DIMS:
        solver = "covariance_eigh"
    elif n >= RANDOMIZED_FROM and needed < 0.8 * available:
        solver = "randomized"
    else:
        solver = "full"
    pca = PCA(n_components=needed, svd_solver=solver, random_state=seed)
    full = pca.fit_transform(array.astype(np.float32, copy=False))
    coords = full[:, list(components)]
    variance = [float(pca.explained_variance_ratio_[c]) for c in components]
    return coords, variance, {"components": list(components), "svd_solver": solver}


# ---------------------------------------------------------------- UMAP


def numba_cache_dir() -> str:
    """Where numba keeps compiled UMAP kernels, so a new process does not compile them again."""
    from platformdirs import user_cache_dir

    return os.path.join(user_cache_dir("embedding-explorer"), "numba")


def _prepare_numba_cache() -> None:
    # numba caches next to the installed sources, which fails silently on read-only installs;
    # a user cache dir makes @njit(cache=True) work everywhere. Must happen before umap imports.
    if "NUMBA_CACHE_DIR" not in os.environ:
        path = numba_cache_dir()
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            return
        os.environ["NUMBA_CACHE_DIR"] = path
        import sys

        if "numba" in sys.modules:  # numba read its config already; tell it directly
            sys.modules["numba"].config.CACHE_DIR = path


# umap-learn compiles these two kernels (parallel=True) without cache=True: about 30-50 s on two
# cores in every new process, even with every other kernel cached. Re-jitted with cache=True
# (same options, same Python function) they compile once per machine and then load in a second.
UNCACHED_UMAP_KERNELS = ("smooth_knn_dist", "compute_membership_strengths")


def _cache_umap_kernels() -> None:
    if "NUMBA_CACHE_DIR" not in os.environ:
        return  # no writable cache dir: leave umap as it is
    try:
        import numba
        import umap.umap_ as umap_module

        for name in UNCACHED_UMAP_KERNELS:
            kernel = getattr(umap_module, name)
            if getattr(kernel, "_embeddings_cached", False) or not hasattr(kernel, "py_func"):
                continue
            options = {key: value for key, value in kernel.targetoptions.items() if key in ("parallel", "fastmath")}
            cached = numba.njit(cache=True, locals=dict(kernel.locals), **options)(kernel.py_func)
            cached._embeddings_cached = True
            setattr(umap_module, name, cached)  # looked up as module globals at call time
    except Exception:  # a umap version without these kernels: compile as umap does
        return


def _release_the_gil_in_umap_epochs() -> None:
    """umap-learn's epoch kernel holds Python's GIL for a whole epoch (tens of ms at 10k points), so
    while UMAP computes in one thread no other thread of the process runs Python: in the app, the
    page being drawn and the frames being served wait for it, and it for them. The same Python
    function re-jitted with nogil=True (same fastmath, not parallel, as umap-learn's own; the
    machine code is the same, so are the results) runs beside them, and with cache=True it is
    compiled once per machine instead of once per process."""
    try:
        import numba
        import umap.layouts as layouts

        kernel = layouts._nb_optimize_layout_euclidean_single_epoch
        if getattr(kernel, "_embeddings_nogil", False) or not hasattr(kernel, "py_func"):
            return
        options = {key: value for key, value in kernel.targetoptions.items() if key in ("parallel", "fastmath")}
        released = numba.njit(nogil=True, cache="NUMBA_CACHE_DIR" in os.environ, **options)(kernel.py_func)
        released._embeddings_nogil = True
        layouts._nb_optimize_layout_euclidean_single_epoch = released  # looked up at call time
    except Exception:  # a umap version without this kernel: keep umap's
        return


# The hook umap-learn offers for its epochs is its tqdm bar (`tqdm_kwds`); a bar's output is text,
# throttled by time, and written under tqdm's process-wide lock (a paused layout would hold it).
# So the epoch loop's own `tqdm(range(n_epochs), **tqdm_kwds)` is wrapped once: when tqdm_kwds
# carries this key, the loop iterates our _EpochWatch instead of a bar, which calls us after
# every epoch, between two of umap's numba kernels, with the layout being optimised (captured by
# the wrapped optimize_layout_euclidean, which umap optimises in place). Without the key, both
# wrappers are umap's own functions: nothing else in the process sees a difference.
_EPOCH_WATCH = "embeddings_epoch_watch"


class _EpochWatch:
    """Called as on_epoch(epochs done, total, layout) before the first epoch and after each one."""

    def __init__(self, on_epoch: Callable[[int, int, np.ndarray], None]) -> None:
        self.on_epoch = on_epoch
        self.layout: np.ndarray | None = None

    def epochs(self, epochs: Iterable[int]) -> Iterator[int]:
        epochs = list(epochs)
        self.on_epoch(0, len(epochs), self.layout)
        for done, epoch in enumerate(epochs, start=1):
            yield epoch
            self.on_epoch(done, len(epochs), self.layout)  # runs when umap asks for the next epoch


def _watch_umap_epochs() -> None:
    import umap.layouts as layouts
    import umap.umap_ as umap_module

    if getattr(layouts.tqdm, "_embeddings_watch", False):
        return
    bar, optimize = layouts.tqdm, umap_module.optimize_layout_euclidean

    def tqdm(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
        watch = kwargs.pop(_EPOCH_WATCH, None)
        return bar(iterable, *args, **kwargs) if watch is None else watch.epochs(iterable)

    def optimize_layout_euclidean(head_embedding: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        watch = (kwargs.get("tqdm_kwds") or {}).get(_EPOCH_WATCH)
        if watch is not None:
            watch.layout = head_embedding
        return optimize(head_embedding, *args, **kwargs)

    tqdm._embeddings_watch = True  # type: ignore[attr-defined]
    layouts.tqdm = tqdm  # looked up as module globals at call time
    umap_module.optimize_layout_euclidean = optimize_layout_euclidean


# Progress units for the kNN graph before the epochs (the graph is about a third of the time).
UMAP_KNN_UNITS = 100
UMAP_PROGRESS_SECONDS = 0.25  # at most one epoch report per this many seconds


def _umap(
    array: np.ndarray,
    dims: int,
    seed: int,
    init: np.ndarray | None,
    notes: list[str],
    progress: ProgressFn | None = None,
    watch: Callable[[int, int, np.ndarray, dict], None] | None = None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
) -> tuple[np.ndarray, dict]:
    n = len(array)
    n_neighbors = number(n_neighbors, "UMAP n_neighbors", int, minimum=2)
    min_dist = number(min_dist, "UMAP min_dist", float, minimum=0.0)
    if metric not in UMAP_METRICS:
        raise InputError(f"UMAP metric must be one of {', '.join(UMAP_METRICS)}, not {metric!r}")
    if n_neighbors > n - 1:
        notes.append(f"n_neighbors lowered from {n_neighbors} to {n - 1} for {n} points")
        n_neighbors = n - 1
    _prepare_numba_cache()
    import umap

    _cache_umap_kernels()
    _release_the_gil_in_umap_epochs()
    _watch_umap_epochs()

    start: Any = "spectral" if init is None else init
    # UMAP's spectral init needs more points than dimensions plus one; random is the fallback.
    if init is None and n <= dims + 2:
        start = "random"
    elif init is None and n >= UMAP_HUGE_FROM:
        start = "pca"
    # random_state makes UMAP single-threaded; we keep it because the same inputs must give the
    # same picture (measured: 10k x 384 in ~11 s on 2 cores, seeded or not; see the report).
    from embeddings.neighbors import neighbor_graph

    n_epochs = UMAP_EPOCHS_HUGE if n >= UMAP_HUGE_FROM else UMAP_EPOCHS_LARGE if n >= UMAP_LARGE_FROM else 500
    total = UMAP_KNN_UNITS + n_epochs

    def knn_progress(done: int, of: int) -> None:
        if progress is not None:
            progress(int(UMAP_KNN_UNITS * done / max(of, 1)), total)

    # Our own neighbours instead of pynndescent, whose numba kernels are compiled afresh in every
    # process (~30 s on 2 cores) and are not cacheable: exact (numpy) up to 20k points, faiss's
    # approximate index above (see embeddings.neighbors.neighbor_graph).
    graph = neighbor_graph(array, n_neighbors - 1, metric, seed=seed, progress=knn_progress)
    if not graph.exact:
        notes.append(f"UMAP's neighbour graph came from an approximate index (recall@{n_neighbors - 1} "
                     f"{graph.recall:.3f} against exact search on a sample)")
    own = np.arange(n)[:, None]
    precomputed = (
        np.hstack([own, graph.rows]).astype(np.int32),
        np.hstack([np.zeros((n, 1)), graph.distances]).astype(np.float32),
        None,
    )
    del graph
    used = {"n_neighbors": n_neighbors, "min_dist": min_dist, "metric": metric, "seed": seed}
    epochs: dict[str, Any] = {}
    if progress is not None or watch is not None:
        reported = [0.0]

        def on_epoch(done: int, of: int, layout: np.ndarray) -> None:
            now = time.perf_counter()
            if progress is not None and (done == of or now - reported[0] >= UMAP_PROGRESS_SECONDS):
                reported[0] = now
                progress(UMAP_KNN_UNITS + done, total)
            if watch is not None:
                watch(done, of, layout, used)

        epochs = {"tqdm_kwds": {_EPOCH_WATCH: _EpochWatch(on_epoch)}}
    reducer = umap.UMAP(
        precomputed_knn=precomputed,
        n_components=dims,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        init=start,
        n_jobs=1,
        n_epochs=n_epochs,
        low_memory=True,
        **epochs,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*")
        warnings.filterwarnings("ignore", message=".*not fully connected.*")
        warnings.filterwarnings("ignore", message=".*spectral initialisation failed.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        coords = reducer.fit_transform(array.astype(np.float32, copy=False))
    return coords, used


# ---------------------------------------------------------------- t-SNE


# The FFT gradient's grid grows with the layout's extent, so wide layouts make every iteration
# dearer. A mild exaggeration after the early phase (Kobak & Berens 2019 recommend 1.5-4 for
# large data) keeps the layout compact, and two integer units per grid interval halve the
# grid. 10k docstring vectors: 61 s -> 14.5 s, trustworthiness 0.961 -> 0.968.
TSNE_FFT_OPTIONS = {"exaggeration": 1.5, "ints_in_interval": 2}


def _without_error(objective: Callable[..., Any]) -> Callable[..., Any]:
    """openTSNE's gradient with its KL divergence never evaluated.

    openTSNE evaluates the KL divergence at every iteration that calls back, for the callback to
    read: about 14 ms of a 36 ms FFT iteration at 10k points (CPU time, measured), which would make
    watching every iteration 40% dearer. Our callbacks never read it, and the gradient is computed
    the same way without it (bit for bit), so the objective is handed over this way, through
    openTSNE's own extension point (a callable negative_gradient_method)."""

    def objective_function(*args: Any, **kwargs: Any) -> Any:
        kwargs["should_eval_error"] = False
        return objective(*args, **kwargs)

    return objective_function


def _tsne(
    array: np.ndarray,
    dims: int,
    seed: int,
    init: np.ndarray | None,
    notes: list[str],
    progress: ProgressFn | None,
    watch: Callable[[int, int, np.ndarray, dict], None] | None = None,
    perplexity: float = 30.0,
    learning_rate: float | str = "auto",
    n_iter: int = 500,
) -> tuple[np.ndarray, dict]:
    from openTSNE import TSNE

    n = len(array)
    perplexity = number(perplexity, "t-SNE perplexity", float, minimum=1.0)
    n_iter = number(n_iter, "t-SNE n_iter", int, minimum=1)
    if learning_rate != "auto":
        learning_rate = number(learning_rate, "t-SNE learning_rate", float, minimum=1e-9)
    # openTSNE takes 3 * perplexity nearest neighbours per point; it needs that many to exist.
    most = (n - 1) / 3
    if perplexity > most:
        notes.append(f"perplexity lowered from {perplexity:g} to {most:.3g} for {n} points")
        perplexity = most
    # openTSNE's FFT gradient exists only in 1D/2D; Barnes-Hut handles 3D (slower, O(n log n)).
    # FFT has a fixed cost per iteration (its interpolation grid) that dominates small inputs:
    # measured in CPU seconds for 350 iterations, FFT took 9.3 / 7.7 / 7.1 s at 200 / 1,000 /
    # 3,000 points and Barnes-Hut 0.5 / 3.0 / 12.6 s (openTSNE's own "auto" switches at 10k).
    gradient = "fft" if dims <= 2 and n >= TSNE_FFT_FROM else "bh"
    if dims == 3:
        notes.append("3D t-SNE uses Barnes-Hut (openTSNE's FFT method is 2D only), so it is slower")
    early = 250
    total = early + n_iter
    every = TSNE_FRAME_EVERY if watch is not None else TSNE_PROGRESS_EVERY
    calls = [0]
    used = {"perplexity": perplexity, "learning_rate": learning_rate, "n_iter": n_iter, "seed": seed,
            "gradient": gradient, **(TSNE_FFT_OPTIONS if gradient == "fft" else {})}

    def report(iteration: int, error: float, embedding: Any) -> bool:
        # openTSNE counts iterations per phase (early exaggeration, then the rest; `every` divides
        # 250) and calls back before its iteration's update: the layout has one update fewer (the
        # first frame is the starting layout, the finished one comes after fit).
        calls[0] += 1
        done = min(total, calls[0] * every)
        if progress is not None:
            progress(done, total)
        if watch is not None:
            watch(done - 1, total, embedding, used)
        return False  # True would stop the optimisation

    start: Any = "pca"
    if init is not None:
        # openTSNE expects a starting layout with a tiny spread (std 1e-4), as its PCA init has.
        centred = init - init.mean(axis=0)
        spread = float(centred[:, 0].std()) or 1.0
        start = np.ascontiguousarray(centred / spread * 1e-4)
    calling_back = progress is not None or watch is not None
    objective: Any = gradient
    if calling_back:
        from openTSNE.tsne import kl_divergence_bh, kl_divergence_fft

        objective = _without_error(kl_divergence_fft if gradient == "fft" else kl_divergence_bh)
    tsne = TSNE(
        n_components=dims,
        perplexity=perplexity,
        learning_rate=learning_rate,
        n_iter=n_iter,
        early_exaggeration_iter=early,
        negative_gradient_method=objective,
        initialization=start,
        random_state=seed,
        # openTSNE's threads synchronise every iteration: for small inputs that overhead is most
        # of the work (200 points: 0.2 CPU s with one thread, 3.1 s with two).
        n_jobs=1 if n < TSNE_FFT_FROM else (os.cpu_count() or 1),
        callbacks=report if calling_back else None,
        callbacks_every_iters=every,
        verbose=False,
        **(TSNE_FFT_OPTIONS if gradient == "fft" else {}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embedding = np.asarray(tsne.fit(array.astype(np.float64, copy=False)))
    if watch is not None:  # the finished layout: the last callback saw it one update before
        watch(total, total, embedding, used)
    return embedding, used
