"""live (issue 20): a t-SNE or UMAP layout forming on the app's map, watched against unwatched.

For each method the rounds alternate (unwatched, the app unwatched, watched, ...); every figure is
a median over them, with the load beside it:

- unwatched: a fresh process computes ``reduce.project(x, method)`` with the app's parameters,
  what the app did before issue 20 (a spinner, then one picture): the layout's own time,
  ``Projection.seconds`` (OpenMP waiting passively, as in the app's server since issue 20);
- the app, unwatched: app/main.py served bare (no live routes, the token off), which computes the
  layout behind a spinner as before issue 20, on a fresh server with the same page in the same
  browser: the layout's own time, as its caption shows it. The baseline of the cost;
- watched: the app as users start it (app/server.py, with an access token and the live routes) on
  a fresh server, Chromium headless (software WebGL) opening the same points as a projector
  folder (``?data=...&method=...``); the layout forms on the map. Measured in the page: the map's
  updates per second from the first frame drawn to the layout being done (``stats.layouts``, each
  a new layout drawn; target >= 5), and the frames drawn of those the server computed; the
  layout's own time (``Projection.seconds``, which the page's caption shows) against the app's
  unwatched one: the cost of watching (target <= 1.15 x). The finished layout drawn in the
  browser is checked against the unwatched one, bit for bit.

The points: the encoded docstrings (benchmarks/corpus.py) tiled to N with jitter, as in the reduce
section, written as a projector folder. Files go to WORKDIR/live. 10k points in a full run, 2k
and one round with --quick; ``python benchmarks/live.py`` runs this section alone with its own
sizes and prints its own table.
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.corpus import base_vectors, real_texts, tiled
from benchmarks.measure import EXTRA, Config, Row, add, child_env, log, run_script, size_label
from benchmarks.sections.app import MAP_IFRAME
from benchmarks.sections.probes import probe
from harness.browser import APP_MAIN, chromium, poll, streamlit_server, with_query

JS_LIVE_STATE = probe("map_probes.js", "liveState")
JS_COORDS = probe("map_probes.js", "coords")
CAPTION = re.compile(r"·\s*([0-9.]+) s\b")  # the projection's caption: "... points · 12.3 s"
METHODS = ("tsne", "umap")
SERVERS = itertools.count()  # each server gets an empty cache of its own, so its layout is computed


def load() -> float:
    return round(os.getloadavg()[0], 1)


def live_points(cfg: Config, workdir: Path, n: int) -> tuple[Path, Path]:
    """A projector folder of n real sentence vectors (docstrings, tiled with jitter) and their texts,
    and the same vectors as .npy, as the app reads them back from vectors.tsv (float32 printed and
    parsed), so both ways of computing start from the same numbers."""
    import pandas as pd

    from embeddings.projector import write_projector

    folder, npy = workdir / f"points-{n}", workdir / f"points-{n}.npy"
    if npy.exists():
        return folder, npy
    real_texts(cfg.texts, workdir.parent)  # docstrings.csv, with the module column
    base = base_vectors(workdir.parent, cfg)
    table = pd.read_csv(workdir.parent / "docstrings.csv", dtype=str, keep_default_na=False).head(len(base))
    rows = np.arange(n) % len(base)
    write_projector(folder, tiled(base, n), table.iloc[rows][["text", "module"]].reset_index(drop=True))
    np.save(npy, np.loadtxt(folder / "vectors.tsv", delimiter="\t", dtype=np.float32))
    return folder, npy


def unwatched(npy: Path, method: str, out: Path) -> dict:
    """The layout alone in a fresh process (scripts/live_unwatched.py): its seconds and CPU seconds."""
    # OpenMP waits passively in the app's server (app/live.py): the same here, so that the ratio
    # is the cost of watching, not of how OpenMP waits.
    env = child_env(OMP_WAIT_POLICY="PASSIVE", NUMBA_CACHE_DIR=str(npy.parent / "numba"))
    return run_script("live_unwatched.py", npy, method, out, env=env, timeout=3600)[1]


def watched(folder: Path, method: str, workdir: Path, browser, live: bool = True) -> dict:
    """A fresh app server, the points opened with `method`: the map's updates while the layout forms.
    live=False: app/main.py served bare (no live routes), which computes the layout behind a
    spinner as before: the same page, nothing watched."""
    env = child_env(EMBEDDINGS_CACHE=str(workdir / f"cache-{next(SERVERS)}.sqlite"),
                    NUMBA_CACHE_DIR=str(workdir / "numba"))
    with streamlit_server(APP_MAIN, workdir, env, seconds=120, gate=live) as server:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        cpu_before = _cpu(server.process.pid)
        page.goto(with_query(server.url, {"data": str(folder), "method": method, "dims": "2"}))
        handle = poll(page, lambda: page.query_selector(MAP_IFRAME), lambda h: h.content_frame() is not None,
                      1800, "the map")
        frame = handle.content_frame()
        samples = []  # (time, state)
        deadline = time.time() + 3600
        while time.time() < deadline:
            state = frame.evaluate(JS_LIVE_STATE)
            samples.append((time.perf_counter(), state))
            if state and state["live"] is None and (not live or any(s and s["live"] for _, s in samples)):
                break
            time.sleep(0.25)
        coords = np.asarray(frame.evaluate(JS_COORDS), dtype=np.float32)
        caption = poll(page, lambda: _caption(page), bool, 300, "the page's caption with the layout's time")
        cpu_after = _cpu(server.process.pid)
        context.close()
    measured = {"layout_seconds": caption, "coords": coords, "cpu_server": cpu_after[0] - cpu_before[0],
                "cpu_browser": cpu_after[1] - cpu_before[1], "load": load()}
    if not live:
        return measured
    forming = [(t, s) for t, s in samples if s and s["live"] and s["live"]["state"] == "running"]
    if len(forming) < 2:
        raise RuntimeError(f"the layout was never seen forming: {samples[-3:]}")
    (t0, first), (t1, last) = forming[0], forming[-1]
    return {**measured, "updates_per_s": (last["layouts"] - first["layouts"]) / (t1 - t0), "seconds_forming": t1 - t0,
            "frames_drawn": samples[-1][1]["layouts"], "frames_computed": last["live"]["seq"],
            "iterations": last["live"]["total"]}


def _cpu(server_pid: int) -> tuple[float, float]:
    """CPU seconds so far of the server and of every Chromium process of this benchmark."""
    try:
        import psutil
    except ImportError:
        return (float("nan"), float("nan"))

    def seconds(process) -> float:
        try:
            times = process.cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0

    me = psutil.Process()
    browser = sum(seconds(p) for p in me.children(recursive=True) if "chrom" in (p.name() or "").lower())
    return seconds(psutil.Process(server_pid)), browser


def _caption(page) -> float | None:
    for text in page.locator('[data-testid="stCaptionContainer"]').all_inner_texts():
        if " points · " in text and (found := CAPTION.search(text)):
            return float(found.group(1))
    return None


def run_live(cfg: Config, workdir: Path, n: int, rounds: int, methods: tuple[str, ...] = METHODS,
             progress: Callable[[str], None] = log) -> dict[str, Any]:
    """Every round of every method (see the module's docstring): {method: summary, points, rounds, loads}."""
    workdir = workdir / "live"
    workdir.mkdir(parents=True, exist_ok=True)
    folder, npy = live_points(cfg, workdir, n)
    small = workdir / "warm-up.npy"  # fills the numba cache both ways of computing load from
    np.save(small, np.load(npy)[:500])
    for method in methods:
        unwatched(small, method, workdir / "warm-up-out.npy")
    results: dict[str, Any] = {"points": n, "rounds": rounds, "load_start": os.getloadavg()}
    with chromium() as browser:
        for method in methods:
            runs: dict[str, list] = {"unwatched": [], "app": [], "watched": []}
            for i in range(rounds):
                reference = workdir / f"{method}-{i}.npy"
                progress(f"live: {method} round {i + 1}: unwatched (load {load()})")
                alone = {**unwatched(npy, method, reference), "load": load()}
                runs["unwatched"].append(alone)
                progress(f"  {alone['seconds']:.1f} s; the app, unwatched (load {load()})")
                for way, live in (("app", False), ("watched", True)):
                    seen = watched(folder, method, workdir, browser, live=live)
                    seen["bit_equal_to_unwatched"] = bool(np.array_equal(seen.pop("coords").reshape(-1, 2),
                                                                         np.load(reference)))
                    runs[way].append(seen)
                    progress(f"  {way}: {seen['layout_seconds']:.1f} s" + (
                        f", {seen['updates_per_s']:.1f} updates/s, {seen['frames_drawn']} of {seen['frames_computed']} "
                        f"frames drawn" if live else "") + f", same layout: {seen['bit_equal_to_unwatched']}")
            results[method] = summary(runs)
    results["load_end"] = os.getloadavg()
    return results


def summary(runs: dict[str, list]) -> dict[str, Any]:
    """Medians over the rounds of one method."""
    med = lambda values: float(statistics.median(values))  # noqa: E731
    alone = med([r["seconds"] for r in runs["unwatched"]])
    app = med([r["layout_seconds"] for r in runs["app"]])
    seen = med([r["layout_seconds"] for r in runs["watched"]])
    return {
        "unwatched_seconds": alone,
        "app_unwatched_seconds": app,
        "watched_seconds": seen,
        "watching_cost": seen / app,
        "watched_over_bare_process": seen / alone,
        "updates_per_s": med([r["updates_per_s"] for r in runs["watched"]]),
        "frames_drawn_share": med([r["frames_drawn"] / max(r["frames_computed"], 1) for r in runs["watched"]]),
        "unwatched_cpu": med([r["cpu"] for r in runs["unwatched"]]),
        "app_server_cpu": med([r["cpu_server"] for r in runs["app"]]),
        "app_browser_cpu": med([r["cpu_browser"] for r in runs["app"]]),
        "watched_server_cpu": med([r["cpu_server"] for r in runs["watched"]]),
        "watched_browser_cpu": med([r["cpu_browser"] for r in runs["watched"]]),
        "all_bit_equal": all(r["bit_equal_to_unwatched"] for r in runs["watched"] + runs["app"]),
        "loads": [r["load"] for r in runs["unwatched"] + runs["app"] + runs["watched"]],
        "runs": runs,
    }


def report(results: dict[str, Any]) -> str:
    """The standalone run's own Markdown table (benchmarks/live.py)."""
    lines = ["| method | points | map updates/s while computing (target >= 5) | layout time: bare process | the app, "
             "unwatched | the app, watched | watching cost (target <= 1.15 x) | frames drawn | finished layout = unwatched "
             "| load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for method in METHODS:
        if method not in results:
            continue
        r = results[method]
        loads = r["loads"]
        lines.append(f"| {'t-SNE' if method == 'tsne' else 'UMAP'} | {results['points']:,} | {r['updates_per_s']:.1f} "
                     f"(before: 0, one picture at the end) | {r['unwatched_seconds']:.1f} s | {r['app_unwatched_seconds']:.1f} s "
                     f"| {r['watched_seconds']:.1f} s | {r['watching_cost']:.3f} x ({r['watched_over_bare_process']:.2f} x "
                     f"the bare process) | {r['frames_drawn_share']:.0%} | "
                     f"{'bit for bit' if r['all_bit_equal'] else 'NO'} | {min(loads):.1f}-{max(loads):.1f} |")
    return "\n".join(lines)


def bench_live(cfg: Config, workdir: Path) -> None:
    n = cfg.live_points
    rounds = 1 if cfg.quick else cfg.repeats  # each round starts two servers per method
    log(f"live: t-SNE and UMAP forming on the app's map at {n:,} points, {rounds} round(s)")
    results = run_live(cfg, workdir, n, rounds)
    EXTRA["live"] = results
    judge = (lambda ok: None) if cfg.quick else (lambda ok: bool(ok))
    for method in METHODS:
        r, name = results[method], "t-SNE" if method == "tsne" else "UMAP"
        watched_runs = r["runs"]["watched"]
        row = add(Row("live", f"{name} forming on the app's map: map updates per second", f"{size_label(n)} x 384",
                      None, "updates/s", runs=[w["updates_per_s"] for w in watched_runs], target="≥ 5",
                      note=f"{r['frames_drawn_share']:.0%} of the frames computed drawn; before issue 20: none "
                           "(one picture at the end)"))
        row.passed = judge(row.value >= 5)
        row = add(Row("live", f"{name} layout time, watched in the app (app/server.py)", f"{size_label(n)} x 384", None,
                      "s", "the app unwatched (app/main.py bare, no live routes)", None,
                      runs=[w["layout_seconds"] for w in watched_runs],
                      baseline_runs=[a["layout_seconds"] for a in r["runs"]["app"]], ratio_kind="overhead",
                      target="≤ 1.15x the unwatched time",
                      note=f"a bare process: {r['unwatched_seconds']:.1f} s ({r['watched_over_bare_process']:.2f}x); "
                           f"finished layouts equal to the unwatched one bit for bit: {r['all_bit_equal']}; CPU s "
                           f"server/browser watched {r['watched_server_cpu']:.0f}/{r['watched_browser_cpu']:.0f}, "
                           f"unwatched {r['app_server_cpu']:.0f}/{r['app_browser_cpu']:.0f}"))
        row.passed = judge(row.ratio <= 1.15 and r["all_bit_equal"])
