"""scale: 1M x 384 vectors loaded from .npy and from the projector TSV (with metadata), PCA and the
map payload, time and peak RSS in fresh processes, against the readers before."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.corpus import base_vectors, tiled
from benchmarks.measure import EXTRA, Config, Row, add, child_env, log, median, run_script, size_label


def write_tsv_vectors(npy: Path, tsv: Path) -> None:
    """The projector vectors TSV of a .npy (9 significant digits, as our export writes)."""
    if tsv.exists():
        return
    from embeddings.projector import _vectors_bytes as vectors_bytes

    x = np.load(npy, mmap_mode="r")
    part = tsv.with_suffix(".part")
    with open(part, "wb") as out:
        for chunk in vectors_bytes(np.asarray(x)):
            out.write(chunk)
    part.rename(tsv)


def write_big_meta(n: int, path: Path) -> None:
    import pandas as pd

    if path.exists():
        return
    rng = np.random.default_rng(7)
    rows = np.arange(n) % 2000
    pd.DataFrame({"label": [f"point {i} from text {r}" for i, r in enumerate(rows)],
                  "cluster": (rows % 12).astype(str), "group": np.array(list("ABCDE"))[rng.integers(0, 5, n)],
                  "score": np.round(rng.random(n), 4)}).to_csv(path, sep="\t", index=False)


def load_stages(mode: str, vectors: Path, meta: Path | None = None, project: bool = False,
                timeout: float = 900) -> dict:
    """scripts/load_stages.py in a fresh process: time, peak RSS and CPU time per stage."""
    return run_script("load_stages.py", mode, vectors, meta or "", int(project), env=child_env(), timeout=timeout)[1]


def scale_vectors(cfg: Config, workdir: Path) -> Path:
    """The 1M x 384 (--quick: 30k) tiled real vectors as .npy, written once per workdir (the view
    section opens the same file)."""
    npy = workdir / f"scale_{cfg.million}.npy"
    if not npy.exists():
        np.save(npy, tiled(base_vectors(workdir, cfg), cfg.million, seed=11))
    return npy


def bench_scale(cfg: Config, workdir: Path) -> None:
    n = cfg.million
    npy, meta = scale_vectors(cfg, workdir), workdir / f"scale_{n}_meta.tsv"
    write_big_meta(n, meta)
    log(f"scale: load {size_label(n)} x 384 (.npy and TSV) + metadata, PCA, map payload, in fresh processes")
    raw_mib = n * 384 * 4 / 2**20
    runs = [load_stages("new", npy, meta, project=True, timeout=3600) for _ in range(max(1, cfg.repeats - 1))]
    out = runs[0]
    stages = out["stages"]
    EXTRA["scale_npy_stages"] = stages
    base_n = min(n, 100_000)
    base_npy = workdir / f"scale_{base_n}.npy"
    if not base_npy.exists():
        np.save(base_npy, np.load(npy, mmap_mode="r")[:base_n])
    old = load_stages("old-npy", base_npy)
    new_small = load_stages("new", base_npy)
    add(Row("scale", "load .npy (read_projector) + metadata TSV", f"{size_label(n)} x 384",
            None, "s", runs=[r["stages"]["load"][0] for r in runs],
            note=(f"CPU {stages['load'][2]:.1f} s; peak {stages['load'][1]:.0f} MiB (vectors alone: {raw_mib:.0f} MiB); "
                  f"at {size_label(base_n)} without metadata: peak {new_small['peak_mib']:.0f} MiB, "
                  f"the old whole-file reader {old['peak_mib']:.0f} MiB")))
    add(Row("scale", "PCA 2D (reduce.project)", f"{size_label(n)} x 384", None, "s",
            runs=[r["stages"]["PCA 2D"][0] for r in runs],
            note=f"CPU {stages['PCA 2D'][2]:.1f} s (2 cores); includes the trustworthiness score on a 2k sample"))
    row = add(Row("scale", "peak memory (VmHWM): load + metadata + PCA + map payload", f"{size_label(n)} x 384",
                  out["peak_mib"], "MiB", "raw float32 vectors", raw_mib, ratio_kind="x data", target="< 4 GB",
                  note="peak after each stage: " + ", ".join(f"{k}: {v[1]:.0f} MiB" for k, v in stages.items())))
    row.passed = out["peak_mib"] * 2**20 < 4 * 2**30 if not cfg.quick else None

    tsv = workdir / f"scale_{n}.tsv"
    log(f"scale: writing the {size_label(n)} vectors TSV (once per workdir)")
    write_tsv_vectors(npy, tsv)
    base_tsv = workdir / f"scale_{base_n}.tsv"
    write_tsv_vectors(base_npy, base_tsv)
    new_tsv = load_stages("new", tsv, timeout=3600)
    new_base = [load_stages("new", base_tsv) for _ in range(cfg.repeats)]
    old_base = [load_stages("old-tsv", base_tsv) for _ in range(cfg.repeats)]
    size_gib = tsv.stat().st_size / 2**30
    add(Row("scale", "load projector vectors TSV (read_vectors)", f"{size_label(n)} x 384", None, "s",
            runs=[new_tsv["stages"]["load"][0]],
            note=f"{size_gib:.1f} GiB file; CPU {new_tsv['stages']['load'][2]:.1f} s; peak {new_tsv['peak_mib']:.0f} MiB"))
    add(Row("scale", "load projector vectors TSV (read_vectors)", f"{size_label(base_n)} x 384", None, "s",
            "the line-by-line reader over the whole file (the reader before)", None,
            runs=[r["stages"]["load"][0] for r in new_base], baseline_runs=[r["stages"]["load"][0] for r in old_base],
            note=f"CPU {median([r['stages']['load'][2] for r in new_base]):.1f} s vs "
                 f"{median([r['stages']['load'][2] for r in old_base]):.1f} s; "
                 f"peak {median([r['peak_mib'] for r in new_base]):.0f} MiB vs "
                 f"{median([r['peak_mib'] for r in old_base]):.0f} MiB"))
