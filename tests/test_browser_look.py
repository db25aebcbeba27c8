"""The look kept whole, in a real browser: what a person sets survives what they do next.

Each test opens the explorer (Debian's Chromium through Playwright) on a projector folder
written here (random vectors in clusters, with columns of text, a 48-value `module` and a
5-value `kind`, as the standard library's docstrings have), sets colour, label, search or a
selection in the map, then changes the method, the dimensions, the data or the page, and reads
back the map's own state, its controls and the page URL.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import numpy as np
import pandas as pd
import pytest

from browser_support import ROOT, chromium_page, poll, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N = 240
MODULES = [f"mod{i:02d}" for i in range(48)]
KINDS = ["class", "function", "method", "module", "property"]
MAP = "iframe[title='app.components.map.point_map']"

# What the Explore map shows and what its toolbar says, read inside its frame.
JS_MAP = """() => {
  const S = window.__map; if (!S || !S.data || S.stats.firstDrawAt === null) return null;
  const el = (id) => document.getElementById(id);
  return {points: Number(el('status').dataset.points), n: S.data.n, dims: S.panels[0] ? S.panels[0].dims : 0,
          color: S.colorBy, label: S.labelBy, search: S.search, selected: S.selectedCount,
          colorBox: el('color-by').value, labelBox: el('label-by').value, searchBox: el('search').value,
          colorOptions: el('color-by').options.length, canvas: !!document.querySelector('canvas'),
          clearDisabled: el('clear').disabled, status: el('status').textContent};
}"""
JS_IDLE = """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
  && !document.querySelector('[data-stale="true"]')"""


def write_data(folder: Path, n: int = N) -> Path:
    """A projector folder: n vectors in 6 clusters, with text, module (48 values) and kind columns."""
    from embeddings.projector import write_projector

    rng = np.random.default_rng(7)
    centres = rng.normal(0, 6, (6, 16))
    group = np.arange(n) % 6
    vectors = (centres[group] + rng.normal(0, 1, (n, 16))).astype(np.float32)
    table = pd.DataFrame({
        "text": [f"doc {i} about {'xyz' if i % 5 == 0 else 'abc'} number {i}" for i in range(n)],
        "module": [MODULES[i % 48] for i in range(n)],
        "kind": [KINDS[i % 5] for i in range(n)],
    })
    write_projector(folder, vectors, table)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_data(tmp_path_factory.mktemp("look-data") / "docs")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("look-server")
    numba = os.environ.get("NUMBA_CACHE_DIR", str(tmp / "numba"))
    with streamlit_server(ROOT / "app" / "main.py", tmp, NUMBA_CACHE_DIR=numba,
                          EMBEDDINGS_VIEWS_DIR=str(tmp / "views")) as served:
        yield served


@pytest.fixture()
def page():
    with chromium_page(1500, 1000) as page:
        yield page


def wait_idle(page, timeout_s: float = 120) -> None:
    """Until the script run is over and nothing stale is left on the page."""
    deadline = time.time() + timeout_s
    calm = 0
    while calm < 3:  # idle three polls in a row: a rerun the map asked for has started and ended
        calm = calm + 1 if page.evaluate(JS_IDLE) else 0
        if time.time() > deadline:
            pytest.fail(f"the app was still running after {timeout_s:.0f} s")
        time.sleep(0.3)


def map_frame(page, timeout_s: float = 120):
    return page.wait_for_selector(MAP, timeout=timeout_s * 1000).content_frame()


def map_state(page, until=lambda m: m["points"] > 0, timeout_s: float = 120, what: str = "the map") -> dict:
    """The Explore map's state once `until` holds (the frame looked up again on each poll: it may be re-created)."""
    def read():
        try:
            return map_frame(page, 5).evaluate(JS_MAP)
        except Exception:  # the frame went away while reading it
            return None
    return poll(page, read, until, timeout_s, what)


def url_query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def open_app(page, url: str, **query: str) -> dict:
    page.goto(f"{url}/?{urlencode(query)}")
    state = map_state(page)
    wait_idle(page)
    return state


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the sidebar's select box `label`."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


def set_look_in_map(page, color: str, label: str, search: str) -> None:
    frame = map_frame(page)
    frame.get_by_label("Colour by").select_option(color)
    frame.get_by_label("Label by").select_option(label)
    frame.get_by_label("Search", exact=True).fill(search)


def test_a_method_change_keeps_colour_label_search_and_the_url(page, server, data_dir) -> None:
    url, log = server
    open_app(page, url, data=str(data_dir), method="pca")
    set_look_in_map(page, "module", "kind", "xyz")
    map_state(page, lambda m: m["color"] == "module" and m["search"] == "xyz", 10, "the look set in the map")
    wait_idle(page)
    time.sleep(1.0)
    query = url_query(page)
    assert (query.get("color"), query.get("label"), query.get("search")) == ("module", "kind", "xyz"), query

    choose(page, "Method", "UMAP")
    shown = map_state(page, lambda m: "UMAP" in (m.get("status") or "") or m["n"] == N and
                      page.locator("text=UMAP 2D").count() > 0, 240, "the UMAP map")
    wait_idle(page, 240)
    shown = map_state(page, timeout_s=30)
    assert (shown["color"], shown["label"], shown["search"]) == ("module", "kind", "xyz"), shown
    assert (shown["colorBox"], shown["labelBox"], shown["searchBox"]) == ("module", "kind", "xyz"), shown
    query = url_query(page)
    assert query.get("method") == "umap", query
    assert (query.get("color"), query.get("label"), query.get("search")) == ("module", "kind", "xyz"), query
    assert "Traceback" not in log.read_text()
