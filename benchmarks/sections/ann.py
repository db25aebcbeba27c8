"""ann: approximate neighbours (neighbors.approximate_knn) against exact search: time and recall@10."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, tiled
from benchmarks.measure import Config, Row, add, log, size_label, timed


def exact_sample_neighbors(x: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Exact cosine k nearest of some rows (themselves excluded), float64, a block of rows at a time."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    out = []
    for start in range(0, len(rows), 256):
        block = rows[start : start + 256]
        dist = 1.0 - unit[block].astype(np.float64) @ unit.T.astype(np.float64)
        dist[np.arange(len(block)), block] = np.inf
        out.append(np.argsort(dist, axis=1, kind="stable")[:, :k])
    return np.concatenate(out)


def bench_ann(cfg: Config, workdir: Path) -> None:
    from embeddings.neighbors import approximate_knn, knn

    base = base_vectors(workdir, cfg)
    for n in cfg.ann_sizes:
        x = tiled(base, n, seed=n + 1)
        log(f"ann: approximate vs exact neighbours, {size_label(n)} x 384, k=10, cosine")
        ours, graph = [], None
        for _ in range(cfg.repeats if n <= 50_000 else 1):
            cpu = time.process_time()
            t, graph = timed(lambda: approximate_knn(x, 10, "cosine"))
            cpu = time.process_time() - cpu
            ours.append(t)
        if n <= 50_000:  # every point's exact neighbours: quadratic (100k: see the knn section)
            t_exact, (exact, _) = timed(lambda: knn(x, 10, "cosine"))
            rows = np.arange(n)
            bare = [t_exact]
        else:  # exact neighbours of a seeded sample of points, one pass each
            rows = np.sort(np.random.default_rng(0).choice(n, 2_000, replace=False))
            exact = exact_sample_neighbors(x, rows, 10)
            bare = []
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(graph.rows[rows], exact)]))
        row = add(Row("ann", "approximate kNN all points (neighbors.approximate_knn), k=10, cosine",
                      f"{size_label(n)} x 384", None, "s", "exact neighbors.knn" if bare else None, None,
                      runs=ours, baseline_runs=bare, target="recall@10 ≥ 0.95",
                      note=f"recall@10 {recall:.4f} against exact search "
                           f"({'every point' if bare else f'a seeded sample of {len(rows):,} points'}); "
                           f"its own sample estimate {graph.recall:.3f}"))
        row.passed = recall >= 0.95
        row.note += f"; CPU {cpu:.1f} s (the last run)"
