"""umap_all: UMAP on every one of 100k points against the 20k sample used before, fresh processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, tiled
from benchmarks.measure import Config, Row, add, child_env, log, run_script, size_label


def bench_umap_all(cfg: Config, workdir: Path) -> None:
    n = cfg.umap_all
    path = workdir / f"umap_all_{n}.npy"
    np.save(path, tiled(base_vectors(workdir, cfg), n, seed=n))
    log(f"umap_all: UMAP on all {size_label(n)} points vs on a 20k sample (the limit before), fresh processes")
    env = child_env()
    run_script("umap_all.py", workdir / "umap_1k.npy" if (workdir / "umap_1k.npy").exists() else path, 1000,
               env=env)  # numba kernels compiled and cached
    ours = run_script("umap_all.py", path, n, env=env, timeout=3600)[1]
    sample = run_script("umap_all.py", path, min(n, 20_000), env=env, timeout=3600)[1]
    marks = ", ".join(f"{k} at {v:.1f} s" for k, v in ours["marks"].items())
    row = add(Row("umap_all", "UMAP 2D on every point (reduce.project)", f"{size_label(n)} x 384", ours["seconds"], "s",
                  "the same on a seeded 20k sample (the limit before)", sample["seconds"], target="< 60 s, all points",
                  note=f"{ours['points']:,} points; CPU {ours['cpu']:.0f} s; {marks}; trustworthiness "
                       f"{ours['trust']:.3f} (20k sample: {sample['trust']:.3f}); {ours['note']}"))
    row.passed = ours["points"] == n and ours["seconds"] < 60 if not cfg.quick else None
