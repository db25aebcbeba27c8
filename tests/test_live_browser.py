"""A t-SNE forming on the app's map, in a real Chromium (software WebGL): the app as users start it
(app/server.py, with the live routes; with an access token, where the server asks for one).

The map draws new frames while the server computes, without a rerun of the page (nothing goes up
Streamlit's websocket); colour and camera stay; Pause holds the layout, Resume carries on, Stop
keeps the layout reached (the page reruns with it) and Resume carries on from it; the finished
layout is the unwatched one, bit for bit, and so is its picture.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from browser_support import APP_MAIN, chromium_page, poll, streamlit_server, wait_idle, with_query

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 2000  # openTSNE's FFT gradient on both cores, as for 10k
ITERATIONS = 1000  # +250 early exaggeration; alone the test pauses near iteration 300 of 1,250
MAP = "iframe[title='app.components.map.point_map']"
MIN_FRAMES = 15  # frames the map must draw on its own, with nothing sent to the server
SLOW = 600  # seconds: the machine is shared
IN_BROWSER_S = 30  # a step done in the browser alone: well under a second when idle

JS_STATE = """() => { const S = window.__map; if (!S || !S.data) return null;
  const L = S.live; return {layouts: S.stats.layouts, n: S.data.n, color: S.colorBy, zoom: S.panels[0].cam.zoom,
  live: L ? {state: L.state, iteration: L.iteration, total: L.total} : null}; }"""
JS_PIXELS = """() => { const p = window.__map.panels[0], gl = p.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
  const px = new Uint8Array(w * h * 4); gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let hash = 0; for (let i = 0; i < px.length; i += 4) hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
  return hash; }"""


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    from embeddings.projector import write_projector

    rng = np.random.default_rng(7)
    group = rng.integers(0, 8, N)
    vectors = (rng.normal(scale=5, size=(8, 16))[group] + rng.normal(size=(N, 16))).astype(np.float32)
    write_projector(tmp_path / "data", vectors, pd.DataFrame({"word": [f"w{i}" for i in range(N)],
                                                              "group": [f"g{g}" for g in group]}))
    return tmp_path / "data"


@pytest.fixture()
def app(tmp_path: Path):
    """The app as users start it (app/server.py, a token of its own) on a free port: (url with ?token=, log)."""
    with streamlit_server(APP_MAIN, tmp_path) as served:  # the run's numba cache (conftest)
        yield served


def steady_pixels(page, frame) -> int:
    """The map's picture once two reads a moment apart agree (the last draw asked for is done)."""
    last: list = [None]

    def same() -> bool:
        now = frame.evaluate(JS_PIXELS)
        settled, last[0] = now == last[0], now
        return settled

    poll(page, same, bool, IN_BROWSER_S, "a steady picture")
    return last[0]


def read(frame) -> dict | None:
    return frame.evaluate(JS_STATE)


def live_state(frame) -> str | None:
    info = read(frame)
    return info["live"]["state"] if info and info["live"] else None


def test_a_tsne_forms_on_the_map_with_pause_resume_and_stop(app, folder: Path) -> None:
    url, log = app
    query = {"data": str(folder), "method": "tsne", "dims": "2", "iter": str(ITERATIONS), "color": "group"}
    with chromium_page(1400, 900) as page:
        sent: list = []  # what the browser sends the server: a rerun is a message on the websocket
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
        page.goto(with_query(url, query))
        frame = page.wait_for_selector(MAP, timeout=SLOW * 1000).content_frame()
        first = poll(page, lambda: read(frame), lambda s: s["live"] and s["live"]["state"] == "running", SLOW,
                     "the t-SNE forming")
        assert first["n"] == N and first["live"]["total"] == 250 + ITERATIONS and first["color"] == "group"

        # frames come, drawn by the map, and nothing goes to the server for them: no rerun
        canvas = frame.locator("canvas").first
        canvas.hover()
        told = len(sent)
        page.mouse.wheel(0, -300)  # zoom in: the camera is part of the look, it must stay
        zoomed = poll(page, lambda: read(frame), lambda s: s["zoom"] > 1.05, IN_BROWSER_S, "the zoom")["zoom"]
        # The map tells the look's owner of the camera 300 ms after the last change (one message, a
        # rerun; later on a loaded machine): the frames are counted from after that rerun.
        poll(page, lambda: len(sent), lambda k: k > told, SLOW, "the camera told to the look's owner")
        wait_idle(page, SLOW)
        before = len(sent)
        start = read(frame)
        moving = poll(page, lambda: read(frame), lambda s: s["layouts"] >= start["layouts"] + MIN_FRAMES, SLOW,
                      f"{MIN_FRAMES} frames drawn")
        assert moving["live"]["iteration"] > start["live"]["iteration"]
        assert len(sent) == before, "frames of a layout forming went through a rerun of the page"
        assert moving["color"] == "group" and moving["zoom"] == pytest.approx(zoomed)

        # Pause holds the layout where it is
        frame.get_by_role("button", name="Pause").click()
        paused = poll(page, lambda: read(frame), lambda s: s["live"]["state"] == "paused", SLOW, "the pause")
        time.sleep(2.0)
        still = read(frame)
        assert still["live"]["iteration"] == paused["live"]["iteration"] and still["layouts"] == paused["layouts"]
        assert "paused at iteration" in frame.locator("[data-part=live]").inner_text()

        # Resume carries on
        frame.get_by_role("button", name="Resume").click()
        poll(page, lambda: read(frame), lambda s: s["live"]["iteration"] > still["live"]["iteration"], SLOW,
             "the layout moving again")

        # Stop keeps the layout reached: the page reruns with it, and it stays
        frame.get_by_role("button", name="Stop").click()
        stopped = poll(page, lambda: read(frame), lambda s: s["live"]["state"] == "stopped", SLOW, "the stop")
        note = poll(page, lambda: page.get_by_text("t-SNE stopped at iteration").count(), bool, SLOW,
                    "the page's note of where it stopped")
        assert note
        time.sleep(2.0)
        assert read(frame)["live"]["iteration"] == stopped["live"]["iteration"]

        # Resume carries on from it, to the end
        frame.get_by_role("button", name="Resume").click()
        poll(page, lambda: read(frame), lambda s: s["live"] is None, SLOW, "the layout finishing")
        assert read(frame)["zoom"] == pytest.approx(zoomed) and read(frame)["color"] == "group"

        # the finished layout is the unwatched one, bit for bit ...
        drawn = np.asarray(frame.evaluate("() => Array.from(window.__map.panels[0].coords)"), dtype=np.float32)
        from embeddings.reduce import project

        vectors = np.loadtxt(folder / "vectors.tsv", delimiter="\t", dtype=np.float32)
        unwatched = project(vectors, "tsne", 2, seed=0, perplexity=30.0, learning_rate="auto", n_iter=ITERATIONS)
        np.testing.assert_array_equal(drawn.reshape(N, 2), unwatched.coords)

        # ... and so is its picture: the same map opened afresh (the layout now comes from the cache)
        frame.get_by_role("button", name="Reset view").click()
        poll(page, lambda: read(frame), lambda s: s["zoom"] == 1, IN_BROWSER_S, "the camera reset")
        wait_idle(page, SLOW)  # the reset camera told to the look's owner: the page as it stays
        watched_picture = steady_pixels(page, frame)
        other = page.context.browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        other.goto(with_query(url, query))
        second = other.wait_for_selector(MAP, timeout=SLOW * 1000).content_frame()
        poll(other, lambda: read(second), lambda s: s["n"] == N and s["live"] is None and s["color"] == "group", SLOW,
             "the cached layout in a new browser")
        wait_idle(other, SLOW)
        assert steady_pixels(other, second) == watched_picture
    assert "Traceback" not in log.read_text()
