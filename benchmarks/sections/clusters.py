"""clusters: HDBSCAN + c-TF-IDF names on a real 2D layout resampled to 10k/100k points, against
HDBSCAN on every point; agreement with the sample sentences' topics."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, real_texts
from benchmarks.measure import EXTRA, ROOT, Config, Row, add, log, size_label, timed


def resampled_layout(layout: np.ndarray, texts: list[str], n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """n points drawn from a real 2D layout's density: a random real point (with its text) plus
    Gaussian noise as wide as the median distance to a point's 5th neighbour. Unlike exact tiles
    (50 copies stacked on every point), the density stays as smooth as the real layout's."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    width = float(np.median(NearestNeighbors(n_neighbors=6).fit(layout).kneighbors(layout)[0][:, -1]))
    picked = rng.integers(0, len(layout), n)
    coords = (layout[picked] + rng.standard_normal((n, 2)) * width).astype(np.float32)
    return coords, [texts[i] for i in picked]


def bench_clusters(cfg: Config, workdir: Path) -> None:
    """Clusters + names of a real docstring layout resampled to 10k/100k, and agreement with known topics."""
    from sklearn.metrics import adjusted_rand_score

    from embeddings.clusters import CLUSTER_SAMPLE, find_clusters, name_clusters
    from embeddings.reduce import project

    base = base_vectors(workdir, cfg)
    texts = real_texts(len(base), workdir)
    layout = project(base, "umap", metric="cosine", seed=0).coords
    sizes = (2_000, 5_000) if cfg.quick else (10_000, 100_000)
    log(f"clusters: UMAP layout of {len(base):,} docstrings resampled to {', '.join(map(size_label, sizes))} points")
    for n in sizes:
        coords, tiled_texts = resampled_layout(layout, texts, n, seed=n)
        find_clusters(tiled_texts[:500], coords[:500])  # imports
        ours, found = [], None
        for _ in range(cfg.repeats):
            t, found = timed(lambda: find_clusters(tiled_texts, coords))
            ours.append(t)
        named = min(n, CLUSTER_SAMPLE)  # names come from at most the 20k sampled texts
        naming = timed(lambda: name_clusters(found.labels[:named], tiled_texts[:named]))[0]
        note = (f"{found.count} clusters, {found.sizes.get(-1, 0) / n:.0%} noise, naming ({named:,} texts) "
                f"{naming:.2f} s of it; ")
        baseline: list[float] = []
        if n > CLUSTER_SAMPLE:
            # Baseline: the same pipeline with no sampling, i.e. scikit-learn's HDBSCAN on every point.
            t_full, full = timed(lambda: find_clusters(tiled_texts, coords, max_points=n))
            baseline = [t_full]
            both = (full.labels >= 0) & (found.labels >= 0)
            note += (f"{found.note}; ARI against the unsampled run {adjusted_rand_score(full.labels, found.labels):.3f} "
                     f"({adjusted_rand_score(full.labels[both], found.labels[both]):.3f} on the {both.mean():.0%} of "
                     f"points both runs put in a cluster; unsampled: {full.count} clusters, "
                     f"{full.sizes.get(-1, 0) / n:.0%} noise)")
        else:
            note += f"every point clustered (no sample up to {CLUSTER_SAMPLE:,}), so no baseline"
        row = add(Row("clusters", "clusters + names on a 2D layout (clusters.find_clusters)", f"{size_label(n)} x 2",
                      None, "s", "HDBSCAN on every point (no sample), same pipeline" if baseline else None, None,
                      runs=ours, baseline_runs=baseline, note=note))
        if n == 100_000 and not cfg.quick:
            row.target, row.passed = "< 15 s", row.value < 15.0
    EXTRA["cluster_names_docstrings"] = {str(c): found.names[c] for c in range(min(found.count, 15))}
    log("  largest clusters' names: " + "; ".join(f"{found.names[c]} ({found.sizes[c]:,})" for c in range(min(found.count, 8))))
    bench_cluster_topics(cfg)


def bench_cluster_topics(cfg: Config) -> None:
    """Sample sentences (10 topics x 30): ARI of the clusters against `topic`, per space."""
    import pandas as pd
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score

    from embeddings.clusters import default_min_cluster_size, find_clusters
    from embeddings.encode import encode_texts
    from embeddings.reduce import project

    frame = pd.read_csv(ROOT / "sample_data" / "sentences.csv")
    vectors = encode_texts(frame["text"].tolist()).vectors
    topic = frame["topic"].to_numpy()
    size = default_min_cluster_size(len(frame))
    log("clusters: sample sentences, agreement with the topic column")
    seeds = range(3 if cfg.quick else 5)
    layouts = [project(vectors, "umap", metric="cosine", seed=s).coords for s in seeds]
    for space in ("layout", "original"):
        scores, seconds = [], []
        for s, layout in zip(seeds, layouts):
            t, found = timed(lambda: find_clusters(frame["text"], layout, vectors=vectors, space=space, seed=s))
            scores.append(adjusted_rand_score(topic, found.labels))
            seconds.append(t)
        row = add(Row("clusters", f"sentences: ARI clusters vs topic, {space} space", "300 x 384", None, "ARI",
                      runs=scores, note=f"UMAP 2D seeds {list(seeds)}: " + ", ".join(f"{a:.3f}" for a in scores)
                      + f"; min {min(scores):.3f}; {statistics.median(seconds):.2f} s each"))
        if space == "layout" and not cfg.quick:
            row.target, row.passed = ">= 0.6", row.value >= 0.6
    # Why the original space is reduced first: plain HDBSCAN on the unit vectors, raw and PCA-reduced.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for dims in (None, 50, 10):
        points = unit if dims is None else PCA(dims, random_state=0).fit_transform(unit)
        t, labels = timed(lambda: HDBSCAN(min_cluster_size=size, min_samples=min(size, 8), copy=True).fit(points).labels_)
        add(Row("clusters", f"sentences: ARI of plain HDBSCAN on {'raw 384' if dims is None else f'PCA-{dims}'} dims",
                "300 x 384", adjusted_rand_score(topic, labels), "ARI",
                note=f"{(labels < 0).mean():.0%} noise, {labels.max() + 1} clusters, {t:.2f} s"))
