"""The look kept whole, in a real browser: what a person sets survives what they do next.

Each test opens the explorer (Debian's Chromium through Playwright) on a projector folder
written here (random vectors in clusters, with columns of text, a 48-value `module` and a
5-value `kind`, as the standard library's docstrings have), sets colour, label, search or a
selection in the map, then changes the method, the dimensions, the data or the page, and reads
back the map's own state, its controls and the page URL.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from browser_support import ROOT, RUN_S, chromium_page, poll, streamlit_server, wait_idle, with_query

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


WORDS = [["harbour", "sail", "anchor"], ["dough", "yeast", "oven"], ["galaxy", "orbit", "comet"],
         ["violin", "chord", "tempo"], ["glacier", "summit", "ridge"], ["ledger", "audit", "invoice"]]
IN_BROWSER_S = 30  # a step done in the browser alone: well under a second when idle
CLUSTERED = 210  # 6 clusters of 35; the last 30 points are scattered (HDBSCAN's noise)


def write_data(folder: Path, n: int = N) -> Path:
    """A projector folder: 6 clusters of 35 points and 30 scattered ones (16 dims), with text,
    module (48 values) and kind (5 values) columns."""
    from embeddings.projector import write_projector

    rng = np.random.default_rng(7)
    centres = rng.normal(0, 6, (6, 16))
    group = np.arange(n) % 6
    vectors = centres[group] + rng.normal(0, 1, (n, 16))
    vectors[CLUSTERED:] = rng.uniform(-12, 12, (n - CLUSTERED, 16))
    texts = [f"doc {i} about {'xyz' if i % 5 == 0 else 'abc'} {' '.join(WORDS[group[i]])}" if i < CLUSTERED
             else f"doc {i} about {'xyz' if i % 5 == 0 else 'abc'} scattered" for i in range(n)]
    table = pd.DataFrame({"text": texts, "module": [MODULES[i % 48] for i in range(n)],
                          "kind": [KINDS[i % 5] for i in range(n)]})
    write_projector(folder, vectors.astype(np.float32), table)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_data(tmp_path_factory.mktemp("look-data") / "docs")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("look-server")
    with streamlit_server(ROOT / "app" / "main.py", tmp,  # the run's numba cache (conftest)
                          EMBEDDINGS_VIEWS_DIR=str(tmp / "views")) as served:
        yield served


@pytest.fixture()
def page():
    with chromium_page(1500, 1000) as page:
        yield page


def map_frame(page, timeout_s: float = RUN_S):
    return page.wait_for_selector(MAP, timeout=timeout_s * 1000).content_frame()


def map_state(page, until=lambda m: m["points"] > 0, timeout_s: float = RUN_S, what: str = "the map") -> dict:
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
    page.goto(with_query(url, query))
    state = map_state(page)
    wait_idle(page)
    return state


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the sidebar's select box `label`."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text=label).first
    click_in_list(page, box.click, option, f"{option!r} of {label!r}")


def set_look_in_map(page, color: str, label: str, search: str) -> None:
    frame = map_frame(page)
    frame.get_by_label("Colour by").select_option(color)
    frame.get_by_label("Label by").select_option(label)
    frame.get_by_label("Search", exact=True).fill(search)


def box_select(page, left: float, right: float, top: float, bottom: float) -> None:
    """Drag a box over the map, in fractions of its width and height."""
    frame = map_frame(page)
    frame.locator("input[name=mode][value=box]").check()
    rect = frame.evaluate("() => { const r = window.__map.panels[0].canvas.getBoundingClientRect(); "
                          "return {x: r.left, y: r.top, w: r.width, h: r.height}; }")
    box = page.locator(MAP).first.bounding_box()
    x0, y0 = box["x"] + rect["x"], box["y"] + rect["y"]
    page.mouse.move(x0 + rect["w"] * left + 2, y0 + rect["h"] * top + 2)
    page.mouse.down()
    page.mouse.move(x0 + rect["w"] * (left + right) / 2, y0 + rect["h"] * (top + bottom) / 2, steps=4)
    page.mouse.move(x0 + rect["w"] * right - 2, y0 + rect["h"] * bottom - 2, steps=4)
    page.mouse.up()


def click_radio(page, label: str, option: str) -> None:
    group = page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]').filter(has_text=label).first
    group.get_by_text(option, exact=True).click()


def click_in_list(page, open_list, option: str, what: str) -> None:
    """open_list(), then click `option` in the list it opened.

    An expander still opening swallows the first click, and a rerun (the map telling the page of
    its camera, say) redraws the widget and closes its open list: the option seen a moment ago is
    gone. Either way, open the list again and look again."""
    for _ in range(5):
        wait_idle(page)
        open_list()
        found = page.get_by_role("option", name=option, exact=True)
        try:
            found.wait_for(timeout=10_000)
            found.click(timeout=5_000)
        except Exception:
            page.keyboard.press("Escape")
            continue
        return
    pytest.fail(f"the option {what} never showed")


def pick(page, multiselect, option: str, typed: str = "") -> None:
    """Open a multiselect (typing `typed` to find) and pick `option`, then close it."""
    def open_list() -> None:
        multiselect.click()
        if typed:
            multiselect.locator("input").fill(typed)

    click_in_list(page, open_list, option, repr(option))
    page.keyboard.press("Escape")


def page_buttons(page, name: str) -> int:
    """Buttons of the page itself (not inside the map's frame) whose name holds `name`."""
    return page.get_by_role("button").filter(has_text=name).count()


def expect_look(page, color: str, label: str, search: str, what: str, **url: str) -> dict:
    """The map shows the look in its state and its controls, whole, and the URL says the same."""
    shown = map_state(page, lambda m: m["canvas"] and m["n"] == N and m["colorOptions"] > 1, RUN_S, what)
    assert (shown["color"], shown["label"], shown["search"]) == (color, label, search), (what, shown)
    assert (shown["colorBox"], shown["labelBox"], shown["searchBox"]) == (color, label, search), (what, shown)
    # The URL is written by the rerun that the map's look event asks for, 300 ms after the change
    # on an idle machine: wait for what is asserted, not for that moment.
    wanted = {"color": color, "label": label, "search": search, **url}
    poll(page, lambda: url_query(page), lambda q: all(q.get(k) == v for k, v in wanted.items()), RUN_S,
         f"the look in the URL {what}")
    return shown


def caption_shows(page, text: str, timeout_s: float = RUN_S) -> None:
    poll(page, lambda: page.get_by_text(text).count(), lambda c: c > 0, timeout_s, f"the caption {text!r}")


# ------------------------------------------------------------------ the look survives


def test_the_look_survives_method_dimensions_parameters_a_reload_and_a_new_browser(page, server, data_dir) -> None:
    url, log = server
    open_app(page, url, data=str(data_dir), method="pca")
    set_look_in_map(page, "module", "kind", "xyz")
    map_state(page, lambda m: m["color"] == "module" and m["search"] == "xyz", IN_BROWSER_S, "the look set in the map")
    wait_idle(page)
    expect_look(page, "module", "kind", "xyz", "as set", method="pca")

    choose(page, "Method", "UMAP")
    caption_shows(page, "UMAP 2D")
    wait_idle(page)
    expect_look(page, "module", "kind", "xyz", "after UMAP", method="umap")
    click_radio(page, "Dimensions", "3")
    caption_shows(page, "UMAP 3D")
    wait_idle(page)
    assert expect_look(page, "module", "kind", "xyz", "after 3D", dims="3")["dims"] == 3
    seed = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"]').filter(has_text="Seed").locator("input")
    seed.fill("1")
    seed.press("Enter")
    poll(page, lambda: url_query(page).get("seed"), lambda v: v == "1", RUN_S, "the seed in the URL")
    wait_idle(page)
    expect_look(page, "module", "kind", "xyz", "after a new seed", method="umap", dims="3", seed="1")

    link = page.url
    page.reload()
    wait_idle(page)
    expect_look(page, "module", "kind", "xyz", "after a reload", method="umap", dims="3", seed="1")
    other = page.context.browser.new_context(viewport={"width": 1500, "height": 1000})
    try:
        second = other.new_page()
        second.goto(link)
        wait_idle(second)
        expect_look(second, "module", "kind", "xyz", "in a new browser", method="umap", dims="3", seed="1")
    finally:
        other.close()
    assert "Traceback" not in log.read_text()


def test_a_selection_made_in_3d_is_kept_in_2d_everywhere(page, server, data_dir) -> None:
    """Box-select in 3D, then 2D: the map, its Clear selection, the URL, the table and the
    inspector all hold the same selection (none of them half)."""
    url, log = server
    open_app(page, url, data=str(data_dir), method="pca", dims="3")
    toolbar = map_frame(page).evaluate("() => [...document.querySelectorAll('.toolbar .row')].map(r => r.getBoundingClientRect().height)")
    assert len(toolbar) == 2 and max(toolbar) < 40, toolbar  # two rows of controls in 3D, never a third
    pcs = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stSelectbox"] input')]
        .filter(i => /^[XYZ]$/.test(i.getAttribute('aria-label'))).map(i => [i.value, i.scrollWidth <= i.clientWidth + 1])""")
    assert pcs == [["PC1", True], ["PC2", True], ["PC3", True]], pcs  # each select shows its whole "PC3"
    box_select(page, 0.0, 1.0, 0.0, 0.5)
    picked = map_state(page, lambda m: m["selected"] > 0, IN_BROWSER_S, "the 3D box selection")["selected"]
    assert 0 < picked < N
    wait_idle(page)
    click_radio(page, "Dimensions", "2")
    caption_shows(page, "PCA 2D")
    wait_idle(page)
    shown = map_state(page, lambda m: m["dims"] == 2, RUN_S, "the 2D map")
    assert shown["selected"] == picked and not shown["clearDisabled"], shown
    assert f"{picked} selected" in shown["status"]
    assert len(url_query(page)["sel"].split(",")) == picked
    assert page_buttons(page, "Isolate") == 0  # the map's Isolate is the only one
    assert page.get_by_text(f"{picked} points selected: pick one").count() == 1  # the inspector says why no point
    # the table's one selection column ticks the same rows
    selected = set(map_frame(page).evaluate("() => { const S = window.__map, out = []; "
                                            "for (let i = 0; i < S.data.n; i++) if (S.selected[i]) out.push(i); return out; }"))
    cells = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stDataFrame"] table tr')].map(
        r => [...r.querySelectorAll('th,td')].map(c => c.textContent))""")
    header, rows = cells[0], cells[1:]
    assert header[:2] == ["row", "selected"] and header.count("selected") == 1, header
    assert rows and all((r[1] == "true") == (int(r[0]) in selected) for r in rows), rows[:5]
    page.get_by_text("Only the selection").click()
    caption_shows(page, f"{picked} rows.")
    assert "Traceback" not in log.read_text()


def test_one_isolate_hides_in_place_or_lays_out_again_and_one_show_all(page, server, data_dir) -> None:
    url, log = server
    open_app(page, url, data=str(data_dir), method="pca")
    box_select(page, 0.0, 0.5, 0.0, 1.0)
    picked = map_state(page, lambda m: m["selected"] > 0, IN_BROWSER_S, "the box selection")["selected"]
    wait_idle(page)
    frame = map_frame(page)
    for name in ("Isolate", "Show all", "Clear selection"):  # one control each, in the map
        assert frame.get_by_role("button", name=name).count() == 1 and page_buttons(page, name) == 0, name
    assert "the others hidden" in frame.get_by_role("button", name="Isolate").get_attribute("title")
    frame.get_by_role("button", name="Isolate").click()
    shown = map_state(page, lambda m: m["points"] == picked, IN_BROWSER_S, "isolated in place")
    assert f"{picked} points of {N} (isolated: the others hidden)" in shown["status"]
    wait_idle(page)
    assert len(url_query(page)["iso"].split(",")) == picked
    export = page.locator('[data-testid="stRadio"]').filter(has_text="What the map shows")
    assert export.locator("input").first.is_checked()
    assert f"What the map shows ({picked} points of {N})" in export.inner_text()

    frame.get_by_label("re-project").check()  # the option beside Isolate: lay them out again on their own
    shown = map_state(page, lambda m: m["n"] == picked, RUN_S, "the isolated points laid out again")
    assert "(isolated, laid out on their own)" in shown["status"]
    wait_idle(page)
    assert url_query(page).get("reproject") == "1"
    caption_shows(page, f"{picked} isolated points laid out on their own")
    map_frame(page).get_by_role("button", name="Show all").click()
    shown = map_state(page, lambda m: m["n"] == N and m["points"] == N, RUN_S, "every point again")
    wait_idle(page)
    assert "iso" not in url_query(page) and "reproject" not in url_query(page)
    assert shown["selected"] == picked  # Show all keeps the selection; Clear selection clears it
    map_frame(page).get_by_role("button", name="Clear selection").click()
    map_state(page, lambda m: m["selected"] == 0, IN_BROWSER_S, "the cleared selection")
    wait_idle(page)
    assert "sel" not in url_query(page)
    assert "Traceback" not in log.read_text()


def test_a_bad_upload_keeps_the_last_map_drawn_whole_ten_times(page, server, tmp_path: Path) -> None:
    """After an empty file or a binary file named .csv, the map that loaded last stays drawn:
    the same frame (a re-created one would need its data again), its toolbar filled, its canvas."""
    url, log = server
    good = tmp_path / "docs.csv"
    pd.DataFrame({"text": [f"Helper number {i} that parses {w} files" for i, w in enumerate(["csv", "json", "xml", "toml"] * 5)],
                  "kind": ["function", "class"] * 10}).to_csv(good, index=False)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 8)
    page.goto(with_query(url, {"method": "pca"}))
    map_state(page, timeout_s=300)
    page.locator('[data-testid="stSidebar"]').get_by_text("Upload a file").click()
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(good))
    drawn = map_state(page, lambda m: m["n"] == 20, RUN_S, "the uploaded file's map")
    wait_idle(page)
    map_frame(page).evaluate("() => { window.__first = true; }")
    for attempt in range(10):
        bad = tmp_path / ("empty.csv" if attempt % 2 == 0 else "binary.csv")
        uploader.set_input_files(str(bad))
        # what the sidebar shows (the uploader's own state, any error line) is the last state on a timeout
        poll(page, lambda: (page.get_by_text(f"{bad.name}:").count(),
                            page.locator('[data-testid="stFileUploader"]').inner_text()[-200:]),
             lambda seen: seen[0] > 0, RUN_S, f"the bad file's line (bad upload {attempt + 1})")
        wait_idle(page)
        time.sleep(0.5)
        shown = map_state(page, lambda m: m["n"] == 20, RUN_S, f"the map after bad upload {attempt + 1}")
        assert shown["canvas"] and shown["colorOptions"] == drawn["colorOptions"] > 1, (attempt, shown)
        assert map_frame(page).evaluate("() => window.__first === true"), f"the map was re-created ({attempt + 1})"
        assert page.get_by_text("Still showing the last data that loaded: docs.csv").count() == 1
    assert "Traceback" not in log.read_text()


def test_filters_start_empty_and_the_export_holds_what_the_map_shows(page, server, data_dir) -> None:
    url, log = server
    open_app(page, url, data=str(data_dir), method="pca")
    page.get_by_text("Filters", exact=True).click()
    pick(page, page.locator('[data-testid="stMultiSelect"]').filter(has_text="Filter by"), "module")
    wait_idle(page)
    values = page.locator('[data-testid="stMultiSelect"]').filter(has_text="module: only these values")
    chosen = values.locator('[data-testid="stMultiSelectTag"]')
    placeholder = values.locator("input").get_attribute("placeholder") or ""
    assert chosen.count() == 0 and "all 48 values pass" in placeholder, placeholder  # nothing chosen: all pass
    assert map_state(page)["n"] == N
    pick(page, values, "mod03", typed="mod03")  # type to find
    shown = map_state(page, lambda m: m["n"] == N // 48, RUN_S, "the filtered map")
    wait_idle(page)
    export = page.locator('[data-testid="stRadio"]').filter(has_text="What the map shows")
    assert export.locator("input").first.is_checked()
    assert f"What the map shows ({shown['n']} points of {N})" in export.inner_text()
    assert page.get_by_text("By default the export holds what the map shows: the filter on module.").count() == 1
    assert url_query(page)["filters"] == '{"module":["mod03"]}'
    assert "Traceback" not in log.read_text()


def test_cluster_noise_is_grey_last_and_under_and_names_never_overlap(page, server, data_dir) -> None:
    url, log = server
    open_app(page, url, data=str(data_dir), method="pca")
    page.get_by_text("Clusters", exact=True).click()
    # in the layout the 30 scattered points stay noise (in the original space, reduced by UMAP first,
    # they may all join a cluster): this test is about how noise is drawn
    page.get_by_text("Layout (what you see)", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Find clusters").click()
    map_state(page, lambda m: m["color"] == "cluster_label", RUN_S, "the map coloured by cluster")
    wait_idle(page)
    frame = map_frame(page)
    legend = frame.evaluate("""() => [...document.querySelectorAll('#legend .item')].map(
        el => [el.children[1].textContent, getComputedStyle(el.children[0]).backgroundColor])""")
    assert legend[-1] == ["noise", "rgb(200, 200, 200)"], legend  # grey, and last
    assert all(name != "noise" for name, _ in legend[:-1])
    drawn_first = frame.evaluate("""() => { const S = window.__map, col = S.data.columns.get('cluster_label');
        const values = new TextDecoder().decode(col.blob).split('\\0'), order = S.drawOrder;
        const noise = [...order].map(i => values[col.codes[i]] === 'noise');
        return {count: noise.filter(Boolean).length, first: noise.indexOf(false), last: noise.lastIndexOf(true)}; }""")
    assert drawn_first["count"] > 0 and drawn_first["last"] < drawn_first["first"], drawn_first  # noise first: under
    # zoomed far out, every name would land on the others: each is placed where it has room, or left out
    # (what the last draw placed is forgotten first: the names read are those of the zoomed-out draw)
    frame.evaluate("() => { const p = window.__map.panels[0]; p.annotationsDrawn = null; p.cam.zoom = 0.06; requestDraw(); }")
    rects = poll(page, lambda: frame.evaluate("() => window.__map.panels[0].annotationsDrawn"), lambda r: r is not None,
                 IN_BROWSER_S, "the names drawn")
    boxes = [r["rect"] for r in rects]
    assert boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert "Traceback" not in log.read_text()


def test_stop_says_where_fine_tuning_stopped_and_nothing_is_left_running(page, server, tmp_path: Path) -> None:
    url, log = server
    texts = tmp_path / "labelled.csv"
    topics = {"sea": "The ship sailed past the harbour wall", "bread": "The baker kneaded the dough at dawn",
              "stars": "The telescope found a faint comet tonight"}
    pd.DataFrame({"text": [f"{sentence}, note {i}." for i in range(60) for sentence in topics.values()],
                  "topic": [topic for _ in range(60) for topic in topics]}).to_csv(texts, index=False)
    out = tmp_path / "tuned"
    page.goto(with_query(url, {"data": str(texts), "method": "pca"}))
    map_state(page, lambda m: m["n"] == 180, RUN_S, "the texts' map")
    wait_idle(page)
    page.get_by_role("tab", name="Fine-tune").click()
    panel = page.get_by_role("tabpanel", name="Fine-tune")
    panel.get_by_label("Output folder (a new folder)").fill(str(out))
    panel.get_by_label("Output folder (a new folder)").press("Enter")
    epochs = panel.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    epochs.fill("5")
    epochs.press("Enter")
    wait_idle(page)
    panel.get_by_role("button", name="Start fine-tuning").click()
    poll(page, lambda: panel.inner_text(), lambda t: "Training: 2 of" in t, RUN_S, "training under way")
    panel.get_by_role("button", name="Stop", exact=True).click()
    poll(page, lambda: panel.inner_text(), lambda t: "Fine-tuning stopped (training, at step" in t, RUN_S,
         "the line saying it stopped")
    # Read once the run that says so is over: until then the page still shows the last run's progress
    # and Stop button (stale, greyed), which a loaded machine leaves on screen for seconds.
    wait_idle(page)
    said = panel.inner_text()
    assert "Fine-tuning stopped (training, at step" in said and "nothing was written" in said, said
    assert "Training:" not in said, said
    assert panel.get_by_role("button", name="Stop", exact=True).count() == 0
    wait_idle(page)
    time.sleep(2)
    assert "Training:" not in panel.inner_text() and not out.exists()
    assert "Traceback" not in log.read_text()
