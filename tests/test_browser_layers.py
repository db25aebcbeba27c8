"""The Layers tab in a real Chromium: the animation plotly.js draws, and that the slider moves points.

AppTest sees the figure we send; only a browser shows that Streamlit hands the frames to
plotly.js and that choosing a layer on the slider moves the points there with no rerun.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import ROOT, chromium_page, poll, streamlit_server, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WALK_S = 900  # the sample's 300 sentences through the bundled model, first with an empty cache (a hang guard)

# The figure on the open tab, its frames as plotly.js holds them, and the first point's position.
JS_LAYERS = """() => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot')).find(el => el.checkVisibility());
  if (!gd || !gd._fullData || !gd._fullData.length || !gd._transitionData) return null;
  const frames = gd._transitionData._frames || [];
  const first = gd._fullData[0];
  return {frames: frames.map(f => f.name), x: first.x[0], y: first.y[0],
          slider: (gd._fullLayout.sliders || []).map(s => s.active)};
}"""


@pytest.fixture()
def served(tmp_path: Path):
    with streamlit_server(ROOT / "app" / "main.py", tmp_path) as server:  # the run's numba cache (conftest)
        yield server


@pytest.fixture()
def page():
    with chromium_page(1400, 1000) as page:
        yield page


def test_the_slider_moves_the_points_between_layers_in_the_browser(page, served) -> None:
    url, log = served
    page.goto(url)
    page.get_by_role("tab", name="Layers").click(timeout=WALK_S * 1000)  # the first run encodes the sample
    # The button is pressed once the first run is over (the sample encoded, the page laid out):
    # pressed during that run, the press reruns a page that is still being built on a loaded machine.
    button = page.get_by_role("button", name="Walk the layers")
    button.wait_for(timeout=WALK_S * 1000)
    wait_idle(page, WALK_S)
    button.click()
    last = poll(page, lambda: page.evaluate(JS_LAYERS), lambda v: len(v["frames"]) == 7, WALK_S, "layer figure")
    assert last["frames"] == [str(i) for i in range(7)] and last["slider"] == [6]
    # layer 0 on the slider (a click at the left end of its rail): plotly.js animates to that
    # frame in the browser, with no rerun
    rail = page.locator(".js-plotly-plot .slider-rail-rect").filter(visible=True).first
    rail.wait_for(timeout=30_000)
    box = rail.bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    moved = poll(page, lambda: page.evaluate(JS_LAYERS), lambda v: (v["x"], v["y"]) != (last["x"], last["y"]),
                 30, "a point after choosing layer 0")
    assert moved["frames"] == last["frames"]
    wait_idle(page)  # a rerun, had the slider asked for one, is over: nothing it drew is missed
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in log.read_text()
