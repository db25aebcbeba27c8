"""map: the point map component alone (benchmarks/pages/map_page.py) in Chromium at 100k and 1M points:
first draw, re-colour, search, hover, pan/zoom frame rate, browser memory; timed in the page to the
changed pixels (map_probes.js)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import EXTRA, ROOT, Config, Row, add, child_env, log, median, server_peak_mib, size_label
from benchmarks.sections.probes import probe
from harness.browser import chromium, streamlit_server

MAP_PAGE = ROOT / "benchmarks" / "pages" / "map_page.py"

MAP_SIZES_FULL = (100_000, 1_000_000)
MAP_SIZES_QUICK = (20_000,)

JS_MAP_CHANGE = probe("map_probes.js", "change")
JS_MAP_HOVER = probe("map_probes.js", "hover")
JS_MAP_FPS = probe("map_probes.js", "fps")


def map_server(workdir: Path, n: int):
    """streamlit run benchmarks/pages/map_page.py with MAP_POINTS=n, on a free port (harness.browser.Server)."""
    return streamlit_server(MAP_PAGE, workdir, child_env(MAP_POINTS=str(n)), seconds=90)


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
        if frame.evaluate(probe("map_probes.js", "drawn")):
            return frame
        time.sleep(0.05)
    raise TimeoutError(f"the map did not draw within {timeout_s:.0f} s")


def bench_map_size(browser, workdir: Path, n: int, repeats: int) -> dict[str, Any]:
    result: dict[str, Any] = {"n": n, "first_draw": [], "recolour": [], "search": [], "hover": [], "hover_fresh": []}
    with map_server(workdir, n) as server:
        for attempt in range(repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            frame = map_frame(page, 600)
            ready = float(page.get_by_text("ready: ", exact=False).inner_text().split(":")[1])
            drawn = frame.evaluate(probe("map_probes.js", "firstDrawAt"))
            result["first_draw"].append((drawn - ready) / 1000)
            assert frame.evaluate(probe("map_probes.js", "points")) == n
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
            result["js_heap_mib"] = frame.evaluate(probe("map_probes.js", "heapMib"))
            result["renderer"] = frame.evaluate(probe("map_probes.js", "renderer"))
            page.close()
        result["server_peak_mib"] = server_peak_mib(server.process) or float("nan")
    return result


def bench_map(cfg: Config, workdir: Path) -> None:
    sizes = MAP_SIZES_QUICK if cfg.quick else MAP_SIZES_FULL
    with chromium() as browser:
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
