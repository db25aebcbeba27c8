"""ray: `embeddings encode --engine ray` against the local engine (whole CLI processes), and Ray's start-up."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import real_texts
from benchmarks.measure import PY, ROOT, SCRIPTS, Config, Row, add, child_env, log, median, run_script

RAY_TEXTS = 5000


def bench_ray(cfg: Config, workdir: Path) -> None:
    """--engine ray against the local path: the same texts, whole CLI processes, cold cache each."""
    import pandas as pd

    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise RuntimeError("ray is not installed: pip install '.[ray]'")
    n = 300 if cfg.quick else RAY_TEXTS
    texts = real_texts(n, workdir)
    data = workdir / f"ray-texts-{n}.csv"
    pd.DataFrame({"text": texts}).to_csv(data, index=False)
    log(f"ray: {n} texts; local CLI vs --engine ray (private Ray, then a running one), cold cache every run")

    def cli(tag: str, i: int, *extra: str) -> float:
        cache = workdir / f"ray-cache-{tag}-{i}.sqlite"
        for path in workdir.glob(cache.name + "*"):
            path.unlink()
        args = [PY, "-m", "embeddings", "encode", str(data), "--out", str(workdir / f"ray-{tag}.npy"), "-q", *extra]
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=child_env(EMBEDDINGS_CACHE=str(cache)),
                              cwd=ROOT, timeout=1800)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[3:])} failed: {done.stderr[-1500:]}")
        return wall

    holder = subprocess.Popen([PY, str(SCRIPTS / "ray_holder.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=child_env(), cwd=ROOT)
    try:
        address = holder.stdout.readline().strip()
        if not address:
            raise RuntimeError("the Ray holder process did not start a Ray")
        local_runs, private_runs, joined_runs = [], [], []
        for i in range(cfg.repeats):  # interleaved, so load drift hits all three alike
            local_runs.append(cli("local", i))
            private_runs.append(cli("private", i, "--engine", "ray"))
            joined_runs.append(cli("joined", i, "--engine", "ray", "--ray-address", address))
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    startup = [run_script("ray_startup.py", env=child_env())[1] for _ in range(cfg.repeats)]
    local_v, private_v, joined_v = (np.load(workdir / f"ray-{t}.npy") for t in ("local", "private", "joined"))
    diff = max(float(np.abs(v - local_v).max()) for v in (private_v, joined_v))
    row = add(Row(
        "ray", "CLI `encode --engine ray`, private Ray, cold cache (whole process)", f"{n} texts", None, "s",
        "CLI `encode` (local engine), cold cache", None, runs=private_runs, baseline_runs=local_runs,
        ratio_kind="overhead", target="≤ 1.3x the local time",
        note=f"Ray's start-up and shutdown included; one actor with every core; max |ray - local| = {diff:.1e}",
    ))
    row.passed = None if cfg.quick else ((row.ratio or 99) <= 1.3 and diff <= 1e-5)
    add(Row(
        "ray", "CLI `encode --engine ray --ray-address`, running Ray, cold cache", f"{n} texts", None, "s",
        "CLI `encode` (local engine), cold cache", None, runs=joined_runs, baseline_runs=local_runs,
        ratio_kind="overhead", note="joins a Ray already started on this machine: no start-up in the figure",
    ))
    medians = {k: median([s[k] for s in startup]) for k in ("import", "init", "shutdown")}
    add(Row(
        "ray", "Ray start-up: `ray.init` + `ray.shutdown` (fresh process)", "local, all cores", None, "s",
        runs=[s["init"] + s["shutdown"] for s in startup],
        note=f"median import ray {medians['import']:.1f} s, init {medians['init']:.1f} s, "
             f"shutdown {medians['shutdown']:.1f} s",
    ))
