"""The run's report: the machine it ran on, the Markdown table and notes, and the results JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.measure import EXTRA, PY, ROOT, ROWS, SCRIPTS, Row, child_env
from harness.browser import CHROMIUM


def machine() -> dict[str, Any]:
    """The CPU, memory, versions, Chromium and the code (git describe) the figures were measured on."""
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
    probe = subprocess.run([PY, str(SCRIPTS / "versions.py")], capture_output=True, text=True, env=child_env())
    try:
        info.update(json.loads(probe.stdout.strip().splitlines()[-1]))
    except (IndexError, json.JSONDecodeError):
        info["versions_error"] = probe.stderr[-500:]
    try:
        info["chromium"] = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        info["chromium"] = None
    return info


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



def write_results(out: Path, started, cfg, info: dict[str, Any], section_seconds: dict[str, float],
                  loads: dict[str, Any], failures: dict[str, str]) -> None:
    """Every row (each run's time, not only the medians), EXTRA, the machine and the table, as JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "started_utc": started.isoformat(timespec="seconds"), "quick": cfg.quick, "config": asdict(cfg),
        "machine": info, "section_seconds": section_seconds, "loadavg_at_section_start": loads,
        "rows": [asdict(r) for r in ROWS], "extra": EXTRA, "failures": failures, "table_markdown": table(),
    }, indent=2, default=float) + "\n")
