"""What every section measures with: the run's settings, one table row, medians, timing, fresh processes.

Rows go to ROWS and anything else worth keeping to EXTRA; benchmarks/run.py prints and saves both.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # umap-learn, seeded baseline

PY = sys.executable
SCRIPTS = Path(__file__).resolve().parent / "scripts"  # what sections run in fresh processes


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
    live_points: int = 10_000  # live: a layout forming on the app's map


FULL = Config(quick=False, repeats=3, texts=2000, sizes=(1_000, 10_000, 100_000), big=100_000, app_points=100_000)
QUICK = Config(quick=True, repeats=2, texts=200, sizes=(500, 2_000), big=5_000, app_points=5_000,
               million=30_000, ann_sizes=(25_000,), umap_all=25_000, live_points=2_000)


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


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def run_script(name: str, *args: object, env: dict[str, str], timeout: float = 900) -> tuple[float, dict]:
    """Run benchmarks/scripts/<name> in a fresh process; its last stdout line is JSON. (wall seconds, that JSON)."""
    start = time.perf_counter()
    done = subprocess.run([PY, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def server_peak_mib(proc: subprocess.Popen) -> float | None:
    """A running process's peak RSS (VmHWM), or None when it cannot be read."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
