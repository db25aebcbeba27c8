"""The app in a real browser: Debian's Chromium, headless, driven by Playwright.

Starts `streamlit run app/main.py` on a free port with an empty vector cache, waits for the
first chart (the sample sentences, encoded by the bundled model), counts its points, runs a
search, and downloads the projector export. What AppTest cannot see: the Plotly chart as the
browser draws it, and the download a user gets.

In CI (the CI variable set, as .ci/run does) this test must run: a missing Chromium or
Playwright is a failure there. On a developer machine without them it skips and says why.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, poll, require, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SENTENCES = ROOT / "sample_data" / "sentences.csv"
FIRST_CHART_S = 180  # first start: load the bundled model and encode 300 sentences on 2 cores
QUERY = "ball"


@pytest.fixture()
def app_url(tmp_path: Path):
    """A Streamlit server for app/main.py on a free port, with its own empty vector cache."""
    numba = os.environ.get("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    with streamlit_server(ROOT / "app" / "main.py", tmp_path, NUMBA_CACHE_DIR=numba) as served:
        yield served


@pytest.fixture()
def page():
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            context.add_init_script(INIT_SCRIPT)
            yield context.new_page()
        finally:
            browser.close()


# Points drawn: the traces embeddings.plot marks meta="points" (rings and overlays are not points).
# Read from _fullData: plotly.py sends arrays base64-encoded, and only plotly.js's full data holds
# them decoded (gd.data keeps {dtype, bdata}).
# The chart on the open tab (hidden tabs, e.g. Tokens, hold charts of their own).
INIT_SCRIPT = ("window.visiblePlot = () => Array.from(document.querySelectorAll('.js-plotly-plot'))"
               ".find(el => el.checkVisibility());")
JS_POINTS = """() => {
  const gd = visiblePlot();
  if (!gd || !gd._fullData || !gd._fullLayout) return null;
  const traces = gd._fullData.filter(t => t.meta === undefined || t.meta === 'points');
  const count = t => (t._length !== undefined && t._length !== null) ? t._length : (t.x ? t.x.length : 0);
  return {total: traces.reduce((n, t) => n + count(t), 0),
          dimmed: traces.filter(t => t.name === 'other points').reduce((n, t) => n + count(t), 0),
          traces: gd._fullData.length};
}"""


def chart(page, timeout_s: float, until=lambda info: info["total"] > 0) -> dict:
    """The chart's point counts once `until` holds (polled; fails with the last state)."""
    return poll(page, lambda: page.evaluate(JS_POINTS), until, timeout_s, "chart")


JS_IDLE = """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
  && !document.querySelector('[data-stale="true"]')"""


def wait_idle(page, timeout_s: float) -> None:
    """Until the script run is over and no stale element from the last run is left on the page."""
    deadline = time.time() + timeout_s
    while not page.evaluate(JS_IDLE):
        if time.time() > deadline:
            pytest.fail(f"the app was still running after {timeout_s:.0f} s")
        time.sleep(0.25)


def test_first_load_search_and_projector_download(page, app_url, tmp_path: Path) -> None:
    url, log = app_url
    sentences = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False)
    expected_matches = int(sentences["text"].str.contains(QUERY, case=False, regex=False).sum())
    assert 0 < expected_matches < len(sentences)

    page.goto(url)
    first = chart(page, FIRST_CHART_S)
    assert first["total"] == len(sentences) == 300, first
    assert first["dimmed"] == 0, first
    wait_idle(page, 180)

    # search: matches stay bright, the rest move to one dimmed trace; still 300 points in all
    search = page.get_by_role("textbox", name="Search", exact=True).filter(visible=True).first
    search.fill(QUERY)
    search.press("Enter")
    searched = chart(page, 60, until=lambda info: info["dimmed"] > 0)
    assert searched["total"] == 300, searched
    assert searched["dimmed"] == 300 - expected_matches, (searched, expected_matches)
    wait_idle(page, 120)

    # the export: a zip the projector loads, row for row
    button = page.get_by_role("button", name="Download for projector.tensorflow.org").filter(visible=True).first
    button.wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as download_info:
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
    from urllib.parse import urlencode

    query = {"data": str(tmp_path / "export"), "method": "pca", "dims": "2", "pc": "1,0", "color": "group",
             "search": "w1"}
    page.goto(f"{url}/?{urlencode(query)}")
    shown = chart(page, 120, until=lambda info: info["dimmed"] > 0)
    assert shown["total"] == n and shown["dimmed"] == n - matches, shown
    wait_idle(page, 60)
    link = page.url  # what a user copies from the address bar
    assert all(f"{key}=" in link for key in query), link

    other = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        other.add_init_script(INIT_SCRIPT)
        second = other.new_page()
        second.goto(link)
        again = chart(second, 120, until=lambda info: info["dimmed"] > 0)
        assert again == shown
        wait_idle(second, 60)
        names = second.evaluate("() => visiblePlot()._fullData.map(t => t.name)")
        assert {"g0", "g1", "g2"} <= set(names), names  # coloured by group, as in the first browser
        assert second.get_by_role("textbox", name="Search", exact=True).filter(visible=True).first.input_value() == "w1"
        assert second.url == link
    finally:
        other.close()
    assert "Traceback" not in log.read_text()
