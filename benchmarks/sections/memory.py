"""memory: peak RSS of 100k x 384 through load, PCA, kNN of all points and the map payload, in a
fresh process (also the knn section's row at that size)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.corpus import write_big
from benchmarks.measure import EXTRA, Config, Row, add, child_env, log, run_script, size_label


def bench_memory(cfg: Config, workdir: Path) -> None:
    n = cfg.big
    vectors, meta = write_big(cfg, workdir, n)
    log(f"memory: {size_label(n)} x 384 in a fresh process: load, PCA, kNN, map payload")
    wall, out = run_script("memory_stages.py", vectors, meta, env=child_env(), timeout=3600)
    raw_mib = n * 384 * 4 / 2**20
    stages = out["stages"]
    EXTRA["memory_stages"] = stages
    for name in ("PCA 2D", "kNN k=10 (all points)", "map payload (binary)"):
        seconds = stages[name][0]
        if name.startswith("kNN"):
            add(Row("knn", "kNN all points (neighbors.knn), k=10, cosine", f"{size_label(n)} x 384", seconds, "s",
                    None, None, runs=[seconds],
                    note="one run, inside the memory process; exact (quadratic): see the 10k row for a baseline"))
        elif name.startswith("map"):
            add(Row("memory", "map payload (mapdata.pack_map_data)", f"{size_label(n)} points", seconds, "s",
                    runs=[seconds], note=f"payload {out['payload_mb']:.1f} MiB; 12 colour categories"))
    detail = ", ".join(f"{k}: {v[1]:.0f} MiB" for k, v in stages.items())
    row = add(Row("memory", "peak memory (VmHWM): load + PCA + kNN + map payload", f"{size_label(n)} x 384",
                  out["peak_mib"], "MiB", "raw float32 vectors", raw_mib, ratio_kind="x data",
                  target="< 2 GB", note=f"peak after each stage: {detail}; ru_maxrss {out['ru_maxrss_mib']:.0f} MiB"))
    row.passed = out["peak_mib"] * 2**20 < 2e9 if not cfg.quick else None
