"""A layout forming in the notebook map (embeddings/map/widget.py), from Python: the widget follows
a LiveProjection (its frames as ``coords``, how far it got as ``live``), the map's Pause / Resume /
Stop messages reach the run, and the finished layout is what the map and Python hold."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from browser_support import require
from embeddings.mapdata import unpack_map_data
from embeddings.points import Points

TIMEOUT = 600


@pytest.fixture(autouse=True)
def notebook_extra() -> None:
    try:
        import anywidget  # noqa: F401
    except ImportError:
        require(False, "anywidget is not installed", hint="pip install -e '.[notebook]'")


def points(n: int = 300) -> Points:
    rng = np.random.default_rng(0)
    group = np.arange(n) % 3
    vectors = (rng.normal(scale=5, size=(3, 8))[group] + rng.normal(size=(n, 8))).astype(np.float32)
    table = pd.DataFrame({"text": [f"point {i}" for i in range(n)], "group": [f"g{g}" for g in group]})
    return Points(vectors=vectors, table=table, source="clusters", text_column="text")


def until(check, what: str, seconds: float = TIMEOUT):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {seconds:.0f} s")


def coords_of(widget) -> np.ndarray:
    header, arrays = unpack_map_data(widget.coords)
    assert header["coords_only"]
    return arrays["coords/0"].reshape(header["n"], -1)


def test_the_notebook_map_follows_a_layout_forming_and_its_buttons():
    pts = points()
    run = pts.project_live("tsne", seed=2, n_iter=3000)
    widget = pts.show(run, color="group")
    assert widget.live["method"] == "tsne" and widget.live["total"] == 250 + 3000
    header, _ = unpack_map_data(widget.payload)
    assert header["n"] == 300 and header["columns"]  # the points go once, from the first frame
    until(lambda: widget.coords and widget.live and widget.live["iteration"] > 5, "a frame reaching the widget")
    assert coords_of(widget).shape == (300, 2)

    widget._on_message(widget, {"type": "live", "action": "pause"}, [])  # what the map's Pause sends
    until(lambda: widget.live and widget.live["state"] == "paused", "the pause")
    held = widget.live["iteration"]
    time.sleep(0.5)
    assert widget.live["iteration"] == held and run.frame.iteration == held

    widget._on_message(widget, {"type": "live", "action": "stop"}, [])
    until(lambda: widget.live and widget.live["state"] == "stopped", "the stop")
    reached = run.result(TIMEOUT)
    np.testing.assert_array_equal(coords_of(widget), reached.coords)  # the map shows the layout reached

    widget._on_message(widget, {"type": "live", "action": "resume"}, [])
    final = run.result(TIMEOUT)
    until(lambda: widget.live is None, "the live bar going")
    np.testing.assert_array_equal(coords_of(widget), final.coords)
    np.testing.assert_array_equal(widget._layout.coords, final.coords)
    np.testing.assert_array_equal(final.coords, pts.project("tsne", seed=2, n_iter=3000).coords)
    assert widget.color == "group"  # the look stays
