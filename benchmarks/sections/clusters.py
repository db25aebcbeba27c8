"""clusters: HDBSCAN + c-TF-IDF names on a real 2D layout resampled to 10k/100k points, against
HDBSCAN on every point; agreement with the sample sentences' topics; the defaults (the original
space) on PCA layouts of real labelled texts against their labels; the original space at scale."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import base_vectors, packages_by_section, real_texts, tiled
from benchmarks.measure import EXTRA, ROOT, Config, Row, add, log, size_label, timed
from benchmarks.sections.train import docstrings_by_module


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
        find_clusters(tiled_texts[:500], coords[:500], space="layout")  # imports
        ours, found = [], None
        for _ in range(cfg.repeats):
            t, found = timed(lambda: find_clusters(tiled_texts, coords, space="layout"))
            ours.append(t)
        named = min(n, CLUSTER_SAMPLE)  # names come from at most the 20k sampled texts
        naming = timed(lambda: name_clusters(found.labels[:named], tiled_texts[:named]))[0]
        note = (f"{found.count} clusters, {found.sizes.get(-1, 0) / n:.0%} noise, naming ({named:,} texts) "
                f"{naming:.2f} s of it; ")
        baseline: list[float] = []
        if n > CLUSTER_SAMPLE:
            # Baseline: the same pipeline with no sampling, i.e. scikit-learn's HDBSCAN on every point.
            t_full, full = timed(lambda: find_clusters(tiled_texts, coords, space="layout", max_points=n))
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
    bench_cluster_labels(cfg, workdir)
    bench_cluster_original_scale(cfg, workdir)


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


def docstrings_of_modules(workdir: Path, seed: int, modules: int = 10, at_least: int = 40,
                          cap: int = 120) -> tuple[list[str], list[str]]:
    """`modules` top-level modules drawn at random (seeded) among those with `at_least` docstrings,
    at most `cap` docstrings each (the first in file order), labelled by module."""
    import pandas as pd

    real_texts(1, workdir)
    frame = pd.read_csv(workdir / "docstrings.csv", dtype=str, keep_default_na=False)
    frame["label"] = frame["module"].str.split(".").str[0]
    counts = frame["label"].value_counts()
    pool = sorted(counts[counts >= at_least].index)
    chosen = np.random.default_rng(seed).choice(pool, modules, replace=False)
    frame = frame[frame["label"].isin(chosen)].groupby("label").head(cap)
    return frame["text"].tolist(), frame["label"].tolist()


def typical_words(texts: list[str], labels: list[str]) -> dict[str, set[str]]:
    """Per label: words in at least 3 of its texts with most of their texts under that label."""
    import re

    counts: dict[str, dict[str, int]] = {}
    for label, text in zip(labels, texts):
        for word in set(re.findall(r"[a-z]+", text.lower())):
            counts.setdefault(word, {}).setdefault(label, 0)
            counts[word][label] += 1
    typical: dict[str, set[str]] = {label: set() for label in set(labels)}
    for word, per_label in counts.items():
        label, count = max(per_label.items(), key=lambda item: item[1])
        if count >= 3 and count > 0.5 * sum(per_label.values()):
            typical[label].add(word)
    return typical


def cluster_figures(texts: list[str], labels: list[str], found: Any) -> dict[str, Any]:
    """ARI against the labels (noise one more label), noise share, and the share of clusters whose
    name holds a word typical of the cluster's most common label."""
    import re

    from sklearn.metrics import adjusted_rand_score

    typical = typical_words(texts, labels)
    label_array = np.asarray(labels)
    named = 0
    for cluster in range(found.count):
        values, counts = np.unique(label_array[found.labels == cluster], return_counts=True)
        words = set(re.findall(r"[a-z]+", found.names[cluster].lower()))
        named += bool(words & typical[values[counts.argmax()]])
    return {"ari": float(adjusted_rand_score(labels, found.labels)), "noise": float(np.mean(found.labels < 0)),
            "clusters": found.count, "typical_names": named / max(found.count, 1), "seconds": found.seconds,
            "names": [found.names[c] for c in range(found.count)]}


def bench_cluster_labels(cfg: Config, workdir: Path) -> None:
    """Clusters with the DEFAULTS (no space given) on a PCA layout of real labelled texts, against the labels.

    Run with PYTHONPATH at another checkout to measure that code's defaults (the "before")."""
    import inspect

    import pandas as pd

    from embeddings.clusters import find_clusters
    from embeddings.encode import encode_texts
    from embeddings.reduce import project

    default_space = inspect.signature(find_clusters).parameters["space"].default
    log(f"clusters: real labelled texts, find_clusters defaults ({default_space} space) on a PCA layout")
    real_texts(1, workdir)
    first = pd.read_csv(workdir / "docstrings.csv", dtype=str, keep_default_na=False).head(900)
    sets = {"900 docstrings (the first 900), by top-level module": (
        first["text"].tolist(), first["module"].str.split(".").str[0].tolist())}
    subsets = range(2 if cfg.quick else 6)
    for seed in subsets:
        sets[f"docstrings of 10 random modules, seed {seed}"] = docstrings_of_modules(workdir, seed)
    if not cfg.quick:
        sets["2,000 docstrings, 12 largest modules"] = docstrings_by_module(2000, workdir)
    sets["Debian packages by section (make_packages.py)"] = packages_by_section(workdir, 60 if cfg.quick else 150)
    frame = pd.read_csv(ROOT / "sample_data" / "sentences.csv")
    sets["sample sentences by topic"] = (frame["text"].tolist(), frame["topic"].tolist())
    results: dict[str, dict[str, Any]] = {}
    for name, (texts, labels) in sets.items():
        vectors = encode_texts(texts).vectors
        layout = project(vectors, "pca").coords
        found = find_clusters(texts, layout, vectors=vectors, seed=0)
        results[name] = figures = cluster_figures(texts, labels, found)
        log(f"  {name}: {len(texts)} texts, {len(set(labels))} labels: ARI {figures['ari']:.3f}, "
            f"{figures['noise']:.0%} noise, {figures['clusters']} clusters, typical-word names "
            f"{figures['typical_names']:.0%}, {figures['seconds']:.1f} s; " + "; ".join(figures["names"][:6]))
        if not name.startswith("docstrings of 10"):
            add(Row("clusters", f"defaults on PCA: {name}", f"{len(texts)} texts, {len(set(labels))} labels",
                    figures["ari"], "ARI", note=(f"{default_space} space; {figures['noise']:.0%} noise, "
                                                 f"{figures['clusters']} clusters, names with a typical word "
                                                 f"{figures['typical_names']:.0%}; {figures['seconds']:.1f} s")))
    random_sets = [results[f"docstrings of 10 random modules, seed {seed}"] for seed in subsets]
    for key, unit, target, ok in (("ari", "ARI", ">= 0.4", lambda v: v >= 0.4),
                                  ("noise", "share", "<= 0.20", lambda v: v <= 0.20),
                                  ("typical_names", "share", ">= 0.80", lambda v: v >= 0.80)):
        values = [r[key] for r in random_sets]
        row = add(Row("clusters", f"defaults on PCA, docstrings of 10 random modules: {key.replace('_', ' ')}",
                      f"{len(values)} subsets", None, unit, runs=values, target=target,
                      note=f"{default_space} space; per subset: " + ", ".join(f"{v:.3f}" for v in values)))
        row.passed = None if cfg.quick else ok(row.value)
    EXTRA["cluster_labels"] = {"space": default_space, "sets": results}


def bench_cluster_original_scale(cfg: Config, workdir: Path) -> None:
    """The original-space default at scale: UMAP of a 20k sample, the rest matched by nearest sampled point."""
    from embeddings.clusters import find_clusters

    n = 20_000 if cfg.quick else 100_000
    base = base_vectors(workdir, cfg)
    texts = real_texts(len(base), workdir)
    vectors = tiled(base, n)
    tiled_texts = [texts[i % len(texts)] for i in range(n)]
    seconds, found = timed(lambda: find_clusters(tiled_texts, None, vectors=vectors, space="original"))
    row = add(Row("clusters", "clusters + names in the original space (the default)", f"{size_label(n)} x 384",
                  seconds, "s", note=f"{found.count} clusters, {found.noise_share:.0%} noise; {found.note or ''}"))
    if not cfg.quick:
        row.target, row.passed = "< 60 s", seconds < 60
