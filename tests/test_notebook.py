"""The map in a notebook: the anywidget (embeddings/map/widget.py) from Python, and in a real
JupyterLab (and Jupyter Notebook 7) driven by Chromium.

The browser test starts `jupyter lab` (or `jupyter notebook`) headless on 127.0.0.1 (a free port, a token, its own
config, data, runtime and settings folders, no browser, no news or update checks, the extension
manager read-only), writes a notebook, and runs it cell by cell as a person does (Shift+Enter):
the map is drawn (pixels), a lasso drawn in the browser comes back to Python (a later cell prints
`widget.selected`), colour and selection set from Python change the map's pixels, typing in the
map's search box is not taken for notebook shortcuts, and nothing is requested from outside
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from browser_support import ROOT, chromium_page, free_port, poll, require, stop, wait_for_port

from embeddings.points import Points


@pytest.fixture(autouse=True)
def notebook_extra() -> None:
    """Skip on a developer machine without the notebook extra; in CI (which installs it) fail."""
    try:
        import anywidget  # noqa: F401
    except ImportError:
        require(False, "anywidget is not installed", hint="pip install -e '.[notebook]'")

N = 300
IN_BROWSER_S = 30  # a step done in the browser alone: well under a second when idle
KERNEL_S = 300  # a cell run, the kernel and the page talking, the page opened: a hang guard on a loaded machine
# Three clusters, as the map page of the Streamlit tests: rows 0, 3, 6... at x=-6, 1, 4... at
# x=+6, 2, 5... at y=+6; a word per cluster in the text.
POINTS_CODE = """
import numpy as np, pandas as pd
from embeddings.points import Points
n = 300
cluster = np.arange(n) % 3
rng = np.random.default_rng(0)
centres = np.array([[-6, 0], [6, 0], [0, 6]], dtype=np.float32)
coords = (centres[cluster] + rng.normal(0, 0.5, (n, 2))).astype(np.float32)
words = np.array(["apple", "banana", "cherry"])
table = pd.DataFrame({"text": [f"{words[c]} number {i}" for i, c in enumerate(cluster)],
                      "group": [f"group {c}" for c in cluster]})
vectors = np.hstack([coords, rng.normal(0, 0.1, (n, 6))]).astype(np.float32)
points = Points(vectors=vectors, table=table, source="clusters", text_column="text")
"""


def cluster_points() -> tuple[Points, np.ndarray]:
    scope: dict = {}
    exec(POINTS_CODE, scope)  # the same points the notebook makes
    return scope["points"], scope["coords"]


# ---------------------------------------------------------------- the widget from Python


def test_traits_travel_alone_and_the_payload_once() -> None:
    from embeddings.mapdata import unpack_map_data

    points, coords = cluster_points()
    widget = points.show(coords, color="group", label="text")
    header, _ = unpack_map_data(widget.payload)
    assert header["n"] == N and [c["name"] for c in header["columns"]] == ["text", "group"]
    sent: list = []
    widget.comm.send = lambda data=None, metadata=None, buffers=None: sent.append((data, buffers))
    widget.color = ""
    widget.search = "apple"
    widget.selected = np.array([3, 6, 9])
    assert [m["state"] for m, _ in sent] == [{"color": ""}, {"search": "apple"}, {"selected": [3, 6, 9]}]
    assert all(not buffers for _, buffers in sent)  # the data is not sent again
    assert widget.look == {"color": "", "label": "text", "search": "apple", "regex": False, "case": False, "sel": [3, 6, 9]}
    assert widget.selected_points.table["text"].tolist() == ["apple number 3", "apple number 6", "apple number 9"]


def test_a_3d_projection_is_sent_as_3d_with_its_axis_titles() -> None:
    from embeddings.mapdata import unpack_map_data

    points, _ = cluster_points()
    header, arrays = unpack_map_data(points.show(points.project("pca", 3)).payload)
    assert header["panels"][0]["dims"] == 3 and header["axis_titles"] == ["PC1", "PC2", "PC3"]
    assert arrays["coords/0"].shape == (N * 3,)


def test_a_click_lights_its_neighbours_from_python() -> None:
    points, coords = cluster_points()
    widget = points.show(coords, neighbors=5)
    widget._on_message(widget, {"type": "click", "clicked": 7, "action": None}, [])  # what the map sends
    assert widget.clicked == 7
    from embeddings.neighbors import nearest

    assert widget.highlight == [7, *nearest(points.vectors, 7, k=5).rows.tolist()]
    assert all(r % 3 == 1 for r in widget.highlight)  # its own cluster


def test_row_ids_survive_subset_and_sampling() -> None:
    points, _ = cluster_points()
    part = points.subset(np.arange(150, 300))  # row ids 150..299
    projection = part.project("pca", 2)
    sampled = type(projection)(projection.coords[::3], "pca", 2, subset_rows=np.arange(0, 150, 3))
    widget = part.show(sampled)
    widget.selected = [150, 153]
    assert widget.selected_points.table["text"].tolist() == ["apple number 150", "apple number 153"]
    with pytest.raises(Exception, match=r"selected: row id 151 is not on this map \(50 points drawn\)"):
        widget.selected = [151]  # left out of the sample
    with pytest.raises(Exception, match="selected: row id 3 is not on this map"):
        widget.selected = [3]  # not in this subset
    with pytest.raises(Exception, match="row ids are whole numbers, not 1.5"):
        widget.selected = [1.5]


def test_bad_input_is_one_line() -> None:
    points, coords = cluster_points()
    with pytest.raises(Exception, match=r"color 'topic': not a column; columns: text, group"):
        points.show(coords, color="topic")
    widget = points.show(coords)
    with pytest.raises(Exception, match=r"label 'x': not a column"):
        widget.label = "x"
    assert widget.label == ""  # the last good value stays


def test_without_anywidget_the_error_says_what_to_install() -> None:
    code = ("import sys; sys.modules['anywidget'] = None\n"
            "import embeddings as em, numpy as np, pandas as pd\n"
            "p = em.Points(vectors=np.zeros((3, 2)), table=pd.DataFrame({'t': list('abc')}))\n"
            "try: em.show_map(p, np.zeros((3, 2)))\n"
            "except ImportError as e: print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.stdout.strip() == ("the notebook map needs anywidget (anywidget is missing): "
                                  "pip install 'embedding-explorer[notebook]'"), run.stderr


# ---------------------------------------------------------------- in JupyterLab and Jupyter Notebook

NOTEBOOK_CELLS = [
    POINTS_CODE + "widget = points.show(coords, color='group', label='text')\nwidget",
    "print('SELECTED', sorted(widget.selected), len(widget.selected_points))",
    "widget.color = ''",
    "widget.selected = list(range(1, 300, 3))",
    "print('SEARCH', repr(widget.search))",
]


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [],
                   "source": source} for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


# How each front end is started, and where it opens a notebook: JupyterLab, and Jupyter Notebook 7
# (the same notebook components in a one-document page).
FRONT_ENDS = {
    "jupyterlab": ("jupyterlab", "LabApp", "/lab/tree/"),
    "notebook": ("notebook", "JupyterNotebookApp", "/notebooks/"),
}


@contextlib.contextmanager
def jupyter_server(folder: Path, front_end: str = "jupyterlab") -> Iterator[tuple[str, str]]:
    """`jupyter lab` (or `jupyter notebook`) serving `folder`, alone: (URL of the folder's notebooks, token)."""
    module, app, path = FRONT_ENDS[front_end]
    port, token = free_port(), secrets.token_hex(16)
    home = folder / ".jupyter-home"
    settings = home / "settings"
    for name, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():
        file = settings / f"{name}.jupyterlab-settings"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"), IPYTHONDIR=str(home / "ipython"), JUPYTER_PLATFORM_DIRS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    log = folder / f"{front_end}.log"
    cmd = [sys.executable, "-m", module, "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
           "--ServerApp.terminals_enabled=False", f"--{app}.user_settings_dir={settings}",
           f"--{app}.workspaces_dir={home / 'workspaces'}"]
    if front_end == "jupyterlab":  # no news, no update checks, no extension manager asking PyPI
        cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
    try:
        wait_for_port(proc, port, log, f"jupyter {front_end}", seconds=KERNEL_S)
        yield f"http://127.0.0.1:{port}{path}", token
    finally:
        stop(proc)


# In the page: the map's controller (hosts/widget.js puts it on the widget's element), and a
# fingerprint of its first panel's pixels.
JS_MAP = """() => { const el = document.querySelector('.emap'); const map = el && el.parentElement.__map;
  if (!map || !map.state.data || map.state.stats.firstDrawAt === null) return null;
  const S = map.state, p = S.panels[0], gl = p.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let hash = 0, warm = 0, ink = 0;
  for (let i = 0; i < px.length; i += 4) {
    hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
    if (px[i] > px[i + 1] + 40 && px[i] > px[i + 2] + 40) warm++;
    if (px[i] + px[i + 1] + px[i + 2] < 600) ink++;
  }
  return {hash, warm, ink, n: S.data.n, selected: S.selectedCount, color: S.colorBy, status: el.querySelector('.status').textContent};
}"""


# A dialog JupyterLab opened by itself covers the notebook (a CI run on a loaded machine saw one
# intercept every click on a cell for 30 s; the same run on a quiet machine never shows it). One
# that says a kernel died or failed fails the test with its words; any other is closed (Cancel),
# as a person would, and the cell is clicked again.
DIALOG_FAILS = ("died", "error", "failed", "could not")


def dismiss_dialog(page) -> None:
    dialog = page.locator(".jp-Dialog")
    if not dialog.count():
        return
    try:
        words = " ".join(dialog.first.inner_text().split())
    except Exception:  # closed meanwhile
        return
    if any(bad in words.lower() for bad in DIALOG_FAILS):
        pytest.fail(f"JupyterLab says: {words[:500]}")
    print(f"closed a JupyterLab dialog: {words[:300]}")  # shown with the test's output if it fails later
    buttons = dialog.first.locator("button.jp-mod-reject")
    if buttons.count():
        buttons.first.click()
    else:
        page.keyboard.press("Escape")
    dialog.first.wait_for(state="detached", timeout=10_000)


def run_cell(page, index: int) -> None:
    """Select cell `index` (its prompt area, so the editor is not entered) and press Shift+Enter,
    until the cell is queued or run: a press before the new kernel's session is connected is lost
    (the status bar already says Idle then), and the cell's prompt stays "[ ]"."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    for _ in range(6):
        dismiss_dialog(page)
        try:
            prompt.click(timeout=10_000)
        except PlaywrightTimeout:  # a dialog that opened meanwhile: dismissed on the next round
            continue
        page.keyboard.press("Shift+Enter")
        deadline = time.time() + 10
        while time.time() < deadline:
            if prompt.inner_text().strip() not in ("[ ]:", ""):
                return
            time.sleep(0.2)
    pytest.fail(f"cell {index} did not run: its prompt is still {prompt.inner_text()!r}")


def cell_output(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def run_cell_until(page, index: int, marker: str, until, timeout_s: float, what: str) -> str:
    """Run cell `index`, and again, until its output (once it shows `marker`) satisfies `until`.

    What the map tells the kernel (the widget's comm message, sent a moment after a change in the
    browser) is taken between two cells' runs: a cell run before it arrives prints the old value,
    on a loaded machine well after any fixed pause. So the cell that prints it is run until it
    prints what is asserted."""
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt")
    deadline = time.time() + timeout_s
    run_cell(page, index)
    while True:
        text = poll(page, lambda: cell_output(page, index), lambda t: marker in t, max(1.0, deadline - time.time()), what)
        if until(text) or time.time() > deadline:
            return text
        ran = prompt.inner_text().strip()
        time.sleep(0.5)
        dismiss_dialog(page)
        prompt.click()
        page.keyboard.press("Shift+Enter")
        poll(page, lambda: prompt.inner_text().strip(), lambda p: p not in (ran, "[*]:"), max(1.0, deadline - time.time()),
             f"{what}: the cell run again")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("front_end", list(FRONT_ENDS))
def test_a_notebook_draws_the_map_and_hears_a_lasso(front_end: str, tmp_path: Path) -> None:
    module = FRONT_ENDS[front_end][0]
    require(subprocess.run([sys.executable, "-c", f"import {module}, ipykernel"], capture_output=True).returncode == 0,
            f"{module} is not installed", hint="pip install -e '.[test]'")
    (tmp_path / "map.ipynb").write_text(json.dumps(notebook(NOTEBOOK_CELLS)))
    with jupyter_server(tmp_path, front_end) as (url, token), chromium_page(1400, 1000) as page:
        server = url.split("/", 3)[:3]
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(("/".join(server) + "/", "data:", "blob:"))
                else outside.append(r.url))
        page.goto(f"{url}map.ipynb?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_S * 1000)

        run_cell(page, 0)
        drawn = poll(page, lambda: page.evaluate(JS_MAP), lambda m: m["ink"] > 300, KERNEL_S, "the map drawn in the notebook")
        assert drawn["n"] == N and drawn["color"] == "group" and drawn["warm"] > 0  # groups 1, 2: orange, red

        # a lasso around the cluster at x=-6 (rows 0, 3, 6...), drawn with the mouse
        page.locator(".emap input[type=radio][value=lasso]").check()
        corners = page.evaluate("""() => {
          const p = document.querySelector('.emap').parentElement.__map.state.panels[0], s = p.screenPositions(), r = p.canvas.getBoundingClientRect();
          let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
          for (let i = 0; i < p.n; i += 3) { x0 = Math.min(x0, s[2*i]); x1 = Math.max(x1, s[2*i]); y0 = Math.min(y0, s[2*i+1]); y1 = Math.max(y1, s[2*i+1]); }
          const m = 15, xm = (x0 + x1) / 2, clamp = (x, y) => [r.left + Math.min(Math.max(x, 3), p.w - 3), r.top + Math.min(Math.max(y, 3), p.h - 3)];
          return [[x0 - m, y0 - m], [xm, y0 - 2 * m], [x1 + m, y0 - m], [x1 + m, y1 + m], [xm, y1 + 2 * m], [x0 - m, y1 + m]]
            .map(([x, y]) => clamp(x, y)); }""")  # a hexagon around the cluster
        page.mouse.move(*corners[0])
        page.mouse.down()
        for x, y in corners[1:] + corners[:1]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        poll(page, lambda: page.evaluate(JS_MAP), lambda m: m["selected"] == N // 3, IN_BROWSER_S, "the lasso selection")
        expected = f"SELECTED {list(range(0, N, 3))} {N // 3}"
        printed = run_cell_until(page, 1, "SELECTED", lambda t: t.strip() == expected, KERNEL_S, "the selection printed")
        assert printed.strip() == expected, printed

        # colour from Python: the warm colours go, the data is not sent again
        before = page.evaluate(JS_MAP)
        run_cell(page, 2)
        plain = poll(page, lambda: page.evaluate(JS_MAP), lambda m: m["color"] is None and m["hash"] != before["hash"],
                     KERNEL_S, "colour set from Python")
        assert plain["warm"] == 0

        # the selection from Python: the other cluster is ringed
        run_cell(page, 3)
        poll(page, lambda: page.evaluate(JS_MAP), lambda m: m["selected"] == N // 3 and m["hash"] != plain["hash"],
             KERNEL_S, "selection set from Python")

        # typing in the map's search box searches the map; the notebook's shortcuts stay out of it
        cells = page.locator(".jp-Notebook .jp-Cell").count()
        page.locator(".emap input[type=search]").click()
        page.keyboard.type("apple", delay=30)
        poll(page, lambda: page.evaluate(JS_MAP)["status"], lambda t: "100 matches" in t, IN_BROWSER_S,
             "search typed in the map")
        assert page.locator(".jp-Notebook .jp-Cell").count() == cells
        said = run_cell_until(page, 4, "SEARCH", lambda t: "SEARCH 'apple'" in t, KERNEL_S, "the search in Python")
        assert "SEARCH 'apple'" in said, said
        assert outside == [], outside
