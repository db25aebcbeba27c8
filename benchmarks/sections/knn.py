"""knn: exact neighbours of every point (neighbors.knn) against scikit-learn's brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, tiled
from benchmarks.measure import Config, Row, add, log, size_label, timed


def bench_knn(cfg: Config, workdir: Path) -> None:
    from sklearn.neighbors import NearestNeighbors

    from embeddings.neighbors import knn

    base = base_vectors(workdir, cfg)
    n = 10_000 if not cfg.quick else 2_000
    x = tiled(base, n, seed=3)
    log(f"knn: {size_label(n)} x {x.shape[1]}, k=10, cosine; ours vs sklearn brute force")
    ours = [timed(lambda: knn(x, 10, "cosine"))[0] for _ in range(cfg.repeats)]
    nn = lambda: NearestNeighbors(n_neighbors=11, algorithm="brute", metric="cosine").fit(x).kneighbors(x)  # noqa: E731
    bare = [timed(nn)[0] for _ in range(cfg.repeats)]
    idx, _ = knn(x, 10, "cosine")
    theirs = nn()[1]
    agree = float(np.mean([len(set(a) & set(b[b != i][:10])) / 10 for i, (a, b) in enumerate(zip(idx, theirs))]))
    add(Row("knn", "kNN all points (neighbors.knn), k=10, cosine", f"{size_label(n)} x {x.shape[1]}", None, "s",
            "sklearn NearestNeighbors(brute, cosine)", None, runs=ours, baseline_runs=bare,
            note=f"exact, float64 re-ranked; neighbour sets agree with sklearn: {agree:.4f}"))
