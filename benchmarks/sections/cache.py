"""cache: whole CLI processes on the same texts: a bare sentence-transformers script, `embeddings encode`
cold, then on the filled cache (which must not import a model)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import real_texts
from benchmarks.measure import EXTRA, PY, ROOT, SCRIPTS, Config, Row, add, child_env, log, run_script


def bench_cache(cfg: Config, workdir: Path) -> None:
    import pandas as pd

    texts = real_texts(cfg.texts, workdir)
    data = workdir / "texts.csv"
    pd.DataFrame({"text": texts}).to_csv(data, index=False)
    log(f"cache: whole processes on {len(texts)} texts: bare script, CLI cold, CLI cached")
    script = SCRIPTS / "bare_encode.py"

    def proc(args: list[str], env: dict[str, str]) -> float:
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:4])} failed: {done.stderr[-1500:]}")
        return wall

    cold_runs, cached_runs, bare_runs = [], [], []
    cold_repeats = 1 if not cfg.quick else 1
    for i in range(cold_repeats):
        cache_file = workdir / f"cache-{i}" / "vectors.sqlite"
        shutil.rmtree(cache_file.parent, ignore_errors=True)
        env = child_env(EMBEDDINGS_CACHE=str(cache_file))
        bare_runs.append(proc([PY, str(script), str(data), str(workdir / "bare.npy")], env))
        cold_runs.append(proc([PY, "-m", "embeddings", "encode", str(data), "--out", str(workdir / "cold.npy"), "-q"], env))
        for _ in range(cfg.repeats):
            cached_runs.append(
                proc([PY, "-m", "embeddings", "encode", str(data), "--out", str(workdir / "cached.npy"), "-q"], env)
            )
        _, probe = run_script("cached_encode_probe.py", data, env=env)
    bare_v, cold_v, cached_v = (np.load(workdir / f) for f in ("bare.npy", "cold.npy", "cached.npy"))
    diff_cold = float(np.abs(cold_v.astype(np.float64) - bare_v).max())
    diff_cached = float(np.abs(cached_v.astype(np.float64) - cold_v).max())
    add(Row(
        "cache", "CLI `embeddings encode`, cold cache (whole process)", f"{len(texts)} texts", None, "s",
        "bare sentence-transformers script (whole process)", None, runs=cold_runs, baseline_runs=bare_runs,
        note=f"includes interpreter start, imports, model load; max |CLI - bare| = {diff_cold:.2e}",
    ))
    no_model = not (probe["torch"] or probe["transformers"] or probe["sentence_transformers"])
    row = add(Row(
        "cache", "CLI `embeddings encode`, fully cached (whole process)", f"{len(texts)} texts", None, "s",
        "the same command, cold cache", None, runs=cached_runs, baseline_runs=cold_runs,
        target="≥ 20x faster, no model loaded",
        note=f"cached == cold: max diff {diff_cached:.1e}; cached encode_texts imports torch: {probe['torch']}, "
             f"transformers: {probe['transformers']}, sentence_transformers: {probe['sentence_transformers']}",
    ))
    row.passed = None if cfg.quick else ((row.ratio or 0) >= 20 and no_model and diff_cached == 0.0)
    EXTRA["cached_probe"] = probe
