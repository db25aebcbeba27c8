"""reduce: PCA / UMAP / t-SNE through reduce.project against scikit-learn and umap-learn; UMAP's first
call in a fresh process with a cold and a warm numba cache."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, tiled
from benchmarks.measure import ROWS, Config, Row, add, child_env, log, run_script, size_label, timed


def bench_reduce(cfg: Config, workdir: Path) -> None:
    from sklearn.decomposition import PCA

    from embeddings.reduce import INTERACTIVE_LIMITS, project

    base = base_vectors(workdir, cfg)
    log(f"reduce: PCA/UMAP/t-SNE on {', '.join(map(size_label, cfg.sizes))} points x {base.shape[1]}")
    data = {n: tiled(base, n, seed=n) for n in cfg.sizes}

    # PCA: ours (covariance eigendecomposition when rows outnumber dimensions) vs scikit-learn's exact PCA on float64.
    for n in cfg.sizes:
        x = data[n]
        x64 = x.astype(np.float64)
        project(x, "pca")  # imports
        ours = [timed(lambda: project(x, "pca"))[0] for _ in range(max(cfg.repeats, 5))]
        bare = [timed(lambda: PCA(2, svd_solver="full").fit_transform(x64))[0] for _ in range(cfg.repeats)]
        row = add(Row("reduce", "PCA 2D (reduce.project)", f"{size_label(n)} x {x.shape[1]}", None, "s",
                      "sklearn PCA(2, svd_solver='full'), float64", None, runs=ours, baseline_runs=bare,
                      note="includes the trustworthiness score on a 2k sample"))
        if n == 100_000 and not cfg.quick:
            row.target, row.passed = "< 1 s", row.value < 1.0

    # UMAP: ours (exact numpy kNN fed to umap-learn, seeded) vs umap-learn's defaults (pynndescent),
    # both after a warm-up call so no compile time is counted here (see the first-call rows).
    import umap

    project(data[min(cfg.sizes)][:500], "umap")  # compile or load our numba kernels
    umap.UMAP(random_state=0).fit_transform(data[min(cfg.sizes)][:500])  # and pynndescent's
    # t-SNE: ours (openTSNE FFT, 750 iterations in all) vs scikit-learn's Barnes-Hut t-SNE.
    from sklearn.manifold import TSNE

    methods = [
        ("umap", "UMAP", "umap-learn defaults (pynndescent, random_state=0)",
         lambda x: umap.UMAP(random_state=0).fit_transform(x), 15.0),
        ("tsne", "t-SNE", "scikit-learn TSNE (Barnes-Hut, max_iter=750, n_jobs=-1)",
         lambda x: TSNE(2, max_iter=750, random_state=0, n_jobs=-1, init="pca").fit_transform(x), 25.0),
    ]
    for method, title, bare_name, bare_fit, target_s in methods:
        for n in cfg.sizes:
            x = data[n]
            repeats = cfg.repeats if n <= 10_000 else 1
            ours, projection = [], None
            for _ in range(repeats):
                t, projection = timed(lambda: project(x, method))
                ours.append(t)
            bare: list[float] = []
            if n <= 10_000:  # the baselines take minutes at 100k
                bare = [timed(lambda: bare_fit(x))[0] for _ in range(1 if n > 2_000 else repeats)]
            row = add(Row("reduce", f"{title} 2D (reduce.project)", f"{size_label(n)} x {x.shape[1]}", None, "s",
                          bare_name if bare else None, None, runs=ours, baseline_runs=bare,
                          note=projection.note or f"all {n:,} points; trustworthiness {projection.trustworthiness:.3f}"))
            if n > 10_000:
                row.note += f" (limit {INTERACTIVE_LIMITS[method]:,}); baseline not run: minutes at this size"
            if n == 10_000 and not cfg.quick:
                row.target, row.passed = f"< {target_s:g} s", row.value < target_s

    bench_umap_first_call(cfg, workdir)
    del data
    gc.collect()


def bench_umap_first_call(cfg: Config, workdir: Path) -> None:
    """A new process's first UMAP (import + 1k points): empty NUMBA_CACHE_DIR vs the one it filled."""
    log("reduce: UMAP first call in a fresh process, cold vs warm numba cache")
    base = base_vectors(workdir, cfg)
    path = workdir / "umap_1k.npy"
    np.save(path, tiled(base, 1000, seed=1))
    numba_dir = workdir / "numba-cache"
    shutil.rmtree(numba_dir, ignore_errors=True)
    numba_dir.mkdir()
    env = child_env(NUMBA_CACHE_DIR=str(numba_dir))
    cold = [run_script("umap_first_call.py", path, env=env)[1]["seconds"]]
    files = sum(1 for _ in numba_dir.rglob("*.nbi"))
    warm = [run_script("umap_first_call.py", path, env=env)[1]["seconds"] for _ in range(cfg.repeats)]
    add(Row("reduce", "UMAP first call in a new process, warm numba cache", "1k x 384", None, "s",
            "the same, empty NUMBA_CACHE_DIR (compiles)", None, runs=warm, baseline_runs=cold,
            target="compile not paid again (≥ 2x faster warm)",
            note=f"import + project(); the cold run left {files} cached numba index files",
            passed=None))
    ROWS[-1].passed = ROWS[-1].ratio is not None and ROWS[-1].ratio >= 2 if not cfg.quick else None
