"""The app in a real browser: Debian's Chromium, headless, driven by Playwright.

Starts the app (`streamlit run app/server.py`, behind its access token) on a free port with an
empty vector cache, waits for the first map (the sample sentences, encoded by the bundled model),
counts its points, runs a search, and downloads the projector export. What AppTest cannot see: the
map as the browser draws it (re-colour and search change its pixels in the browser; the page then
hears only what changed, and the URL holds it), and the download a user gets.

In CI (the CI variable set, as .ci/run does) this test must run: a missing Chromium or
Playwright is a failure there. On a developer machine without them it skips and says why.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from browser_support import ROOT, RUN_S, chromium_page, poll, streamlit_server, wait_idle, with_query

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SENTENCES = ROOT / "sample_data" / "sentences.csv"
FIRST_CHART_S = 600  # first start: load the bundled model and encode 300 sentences (~1 min on 2 idle cores)
QUERY = "ball"


@pytest.fixture()
def app_url(tmp_path: Path):
    """A Streamlit server for app/main.py on a free port, with its own empty vector cache."""
    with streamlit_server(ROOT / "app" / "main.py", tmp_path) as served:  # the run's numba cache (conftest)
        yield served


@pytest.fixture()
def page():
    with chromium_page(1400, 900, accept_downloads=True) as page:
        yield page


MAP = "iframe[title='app.components.map.point_map']"
# What the Explore map shows: its status line's point and match counts, and a fingerprint of its pixels.
JS_MAP = """() => {
  const S = window.__map; if (!S || !S.data || S.stats.firstDrawAt === null) return null;
  const p = S.panels[0], gl = p.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let hash = 0; for (let i = 0; i < px.length; i += 4) hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
  const status = document.getElementById('status');
  return {points: Number(status.dataset.points), matches: Number(status.dataset.matches), hash, color: S.colorBy};
}"""


def explore_map(page, timeout_s: float, until=lambda info: info["points"] > 0):
    """The Explore tab's map frame and what it shows once `until` holds (polled)."""
    frame = page.wait_for_selector(MAP, timeout=timeout_s * 1000).content_frame()
    return frame, poll(page, lambda: frame.evaluate(JS_MAP), until, timeout_s, "the map")


def test_first_load_search_and_projector_download(page, app_url, tmp_path: Path) -> None:
    url, log = app_url
    sentences = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False)
    expected_matches = int(sentences["text"].str.contains(QUERY, case=False, regex=False).sum())
    assert 0 < expected_matches < len(sentences)

    sent: list = []  # what the browser sends the server: a rerun is a message on the websocket
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(url)
    frame, first = explore_map(page, FIRST_CHART_S)
    assert first["points"] == len(sentences) == 300, first
    assert first["color"] == "topic"
    wait_idle(page, RUN_S)  # idle three polls in a row: the page's start-up messages are all sent
    before = len(sent)
    assert before > 0  # the page's own start-up messages: the watch sees what is sent

    # re-colour and search: the map's pixels change, and the browser sends the server nothing
    frame.get_by_label("Colour by").select_option("(none)")
    recoloured = poll(page, lambda: frame.evaluate(JS_MAP), lambda m: m["color"] is None and m["hash"] != first["hash"],
                      30, "re-colour")
    frame.get_by_label("Search", exact=True).fill(QUERY)
    searched = poll(page, lambda: frame.evaluate(JS_MAP),
                    lambda m: m["matches"] == expected_matches and m["hash"] != recoloured["hash"], 30, "search")
    assert searched["points"] == 300 and searched["matches"] == expected_matches, (searched, expected_matches)
    # The map changed on its own; then it told the look's owner what changed, in small messages
    # (never the points), and the page URL holds the new look.
    query = poll(page, lambda: parse_qs(urlparse(page.url).query, keep_blank_values=True),
                 lambda q: q.get("search") == [QUERY], RUN_S, "the URL")
    assert query["color"] == [""], query  # colour turned off, said in the link (none named: the default)
    assert all(len(frame_) < 4000 for frame_ in sent[before:]), [len(frame_) for frame_ in sent[before:]]

    # the export: a zip the projector loads, row for row
    button = page.get_by_role("button", name="Download for projector.tensorflow.org").filter(visible=True).first
    button.wait_for(timeout=RUN_S * 1000)
    with page.expect_download(timeout=RUN_S * 1000) as download_info:
        button.click()
    path = tmp_path / "projector.zip"
    download_info.value.save_as(path)
    with zipfile.ZipFile(path) as archive:
        names = {Path(n).name: n for n in archive.namelist()}
        assert {"vectors.tsv", "metadata.tsv", "projector_config.json"} <= set(names), names
        vectors = archive.read(names["vectors.tsv"]).decode("utf-8")
        metadata = archive.read(names["metadata.tsv"]).decode("utf-8")
    rows = vectors.splitlines()
    assert len(rows) == 300
    assert {len(row.split("\t")) for row in rows} == {384}
    lines = metadata.splitlines()
    assert len(lines) == 301, len(lines)  # a header (text, topic), then one line per point
    assert lines[0].split("\t") == ["text", "topic"]
    assert lines[1].split("\t") == [sentences["text"][0], sentences["topic"][0]]

    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in log.read_text()


def test_a_link_reopens_the_view_in_a_new_browser(page, app_url, tmp_path: Path) -> None:
    """The page address holds the view: opened in another browser, the same data, projection and look."""
    import numpy as np

    from embeddings.projector import write_projector

    url, log = app_url
    n = 30
    vectors = np.random.default_rng(2).standard_normal((n, 6)).astype(np.float32)
    words = [f"w{i}" for i in range(n)]
    write_projector(tmp_path / "export", vectors, pd.DataFrame({"word": words, "group": [f"g{i % 3}" for i in range(n)]}))
    matches = sum("w1" in w for w in words)
    query = {"data": str(tmp_path / "export"), "method": "pca", "dims": "2", "pc": "1,0", "color": "group",
             "search": "w1"}
    page.goto(with_query(url, query))
    _, shown = explore_map(page, RUN_S, until=lambda m: m["points"] == n and m["color"] == "group")
    assert shown["matches"] == matches, shown
    # The script run writes the view into the address (write_url); once it is over, the address
    # is the link a user copies (the map itself reports no look before a person changes it).
    wait_idle(page, RUN_S)
    link = poll(page, lambda: page.url, lambda u: all(f"{key}=" in u for key in query), RUN_S, "the view in the address")

    other = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        second = other.new_page()
        second.goto(link)
        frame, again = explore_map(second, RUN_S, until=lambda m: m["points"] == n and m["matches"] == matches)
        assert again["color"] == "group"  # coloured by group, as in the first browser
        assert again["hash"] == shown["hash"]  # the same picture, pixel for pixel
        assert frame.get_by_label("Search", exact=True).input_value() == "w1"
        wait_idle(second, RUN_S)
        poll(second, lambda: second.url, lambda u: u == link, RUN_S, "the same address")
    finally:
        other.close()
    assert "Traceback" not in log.read_text()
