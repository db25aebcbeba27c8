"""The map as one HTML file (embeddings/map/html_file.py, `embeddings export --html`).

The browser test opens map.html from file:// in Chromium with every network request refused
and recorded: the map draws, colour, label, search, hover, zoom, selection and the legend work,
and no request other than the file itself was ever attempted.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from browser_support import ROOT, chromium_page, poll
from embeddings.map.html_file import map_html
from embeddings.map.layout import map_layout
from embeddings.mapdata import unpack_map_data
from embeddings.points import Points

SENTENCES = ROOT / "sample_data" / "sentences.csv"


def sentence_points(seed: int = 0) -> Points:
    """The sample sentences with vectors clustered by topic (no model needed)."""
    table = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False)
    topics = sorted(table["topic"].unique())
    code = table["topic"].map({t: i for i, t in enumerate(topics)}).to_numpy()
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (len(topics), 16))
    vectors = (centres[code] + rng.normal(0, 1, (len(table), 16))).astype(np.float32)
    return Points(vectors=vectors, table=table, source="sentences.csv", text_column="text")


def page_parts(text: str) -> tuple[dict, dict]:
    """(payload header, setup JSON) read back from a map.html."""
    payload = re.search(r'<script type="application/octet-stream" id="emap-payload" data-encoding="gzip">([^<]*)</script>',
                        text).group(1)
    setup = re.search(r'<script type="application/json" id="emap-setup">([^<]*)</script>', text).group(1)
    header, arrays = unpack_map_data(gzip.decompress(base64.b64decode(payload)))
    return {"header": header, "arrays": arrays}, json.loads(setup)


# ---------------------------------------------------------------- the file


def test_the_page_holds_the_points_the_look_and_no_address() -> None:
    points = sentence_points()
    projection = points.project("pca", 2)
    text = map_html(map_layout(points, projection), title="Sentences <b>", color="topic", label="text",
                    look={"search": "ball", "sel": [3, 5], "ignored": "x"})
    data, setup = page_parts(text)
    assert data["header"]["n"] == len(points) == 300
    assert [c["name"] for c in data["header"]["columns"]] == ["text", "topic"]
    assert data["arrays"]["text/values"][data["arrays"]["text/codes"][7]] == points.table["text"][7]
    assert np.allclose(data["arrays"]["coords/0"].reshape(-1, 2), projection.coords)
    assert setup["color"] == "topic" and setup["label"] == "text" and setup["text_column"] == "text"
    assert setup["look"] == {"search": "ball", "sel": [3, 5]}
    assert "<title>Sentences &lt;b&gt;</title>" in text
    # one file: no address to load anything from, no external script, style or font
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text.split('id="emap-payload"')[0] + text.split("</script>", 2)[-1])
    assert "<link" not in text and "src=" not in text and "import(" not in text


def test_a_sampled_projection_draws_its_sample_with_row_ids() -> None:
    points = sentence_points().subset(np.arange(100, 300))  # row ids 100..299
    projection = points.project("pca", 3)
    sampled = type(projection)(projection.coords[::2], "pca", 3, subset_rows=np.arange(0, 200, 2))
    data, _ = page_parts(map_html(map_layout(points, sampled), title="t"))
    assert data["header"]["n"] == 100
    assert data["header"]["rows"] == list(range(100, 300, 2))
    assert data["header"]["panels"][0]["dims"] == 3


def test_bad_columns_and_coordinates_are_one_line_errors() -> None:
    from embeddings.errors import InputError

    points = sentence_points()
    layout = map_layout(points, points.project("pca", 2))
    with pytest.raises(InputError, match=r"color 'nope': not a column; columns: text, topic"):
        map_html(layout, title="t", color="nope")
    with pytest.raises(InputError, match=r"shape \(n, 2\) or \(n, 3\)"):
        map_layout(points, np.zeros((300, 4)))
    with pytest.raises(InputError, match="299 coordinates for 300 points"):
        map_layout(points, np.zeros((299, 2)))


# ---------------------------------------------------------------- the CLI


def test_export_html_writes_map_html_beside_the_projector_files(tmp_path: Path) -> None:
    points = sentence_points()
    np.save(tmp_path / "vectors.npy", points.vectors)
    points.table.to_csv(tmp_path / "metadata.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "embeddings", "export", str(tmp_path / "vectors.npy"), "--metadata",
                          str(tmp_path / "metadata.tsv"), "--out", str(out), "--html", "--color", "topic", "--label", "text"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert {p.name for p in out.iterdir()} >= {"map.html", "vectors.tsv", "metadata.tsv", "projector_config.json"}
    assert "map.html" in run.stderr
    data, setup = page_parts((out / "map.html").read_text(encoding="utf-8"))
    assert data["header"]["n"] == 300 and setup["color"] == "topic" and setup["label"] == "text"
    assert "300 points · PCA 2D" in (out / "map.html").read_text(encoding="utf-8")

    bad = tmp_path / "bad"
    run = subprocess.run([sys.executable, "-m", "embeddings", "export", str(tmp_path / "vectors.npy"), "--metadata",
                          str(tmp_path / "metadata.tsv"), "--out", str(bad), "--html", "--color", "colour"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 2 and run.stderr.startswith("error: --color 'colour'"), run.stderr
    assert not bad.exists() or not any(bad.iterdir())  # nothing partial


# ---------------------------------------------------------------- in Chromium, from file://, offline

JS_PIXELS = """() => {
  const p = window.__map.panels[0], gl = p.gl, w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  let hash = 0, warm = 0, ink = 0;
  for (let i = 0; i < px.length; i += 4) {
    hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
    if (px[i] > px[i + 1] + 40 && px[i] > px[i + 2] + 40) warm++;
    if (px[i] + px[i + 1] + px[i + 2] < 600) ink++;
  }
  return {hash, warm, ink};
}"""
JS_STATUS = "() => ({...document.getElementById('status').dataset, text: document.getElementById('status').textContent})"


@pytest.mark.browser
@pytest.mark.slow
def test_map_html_opens_from_disk_with_the_network_cut(tmp_path: Path) -> None:
    points = sentence_points()
    path, path3d = tmp_path / "map.html", tmp_path / "map3d.html"
    path.write_text(map_html(map_layout(points, points.project("pca", 2)), title="Sentences", color="topic"),
                    encoding="utf-8")
    path3d.write_text(map_html(map_layout(points, points.project("pca", 3)), title="Sentences"), encoding="utf-8")
    files = (path.as_uri(), path3d.as_uri())
    with chromium_page(1300, 850) as page:
        attempted: list[str] = []
        page.on("request", lambda request: attempted.append(request.url))
        # every request refused but the file itself (a route sees file:// too)
        page.context.route("**/*", lambda route: route.continue_() if route.request.url in files else route.abort())
        page.on("pageerror", lambda error: attempted.append(f"page error: {error}"))
        # the page's own policy blocks requests before they reach the network: count those attempts too
        page.add_init_script("window.__blocked = []; document.addEventListener('securitypolicyviolation', "
                             "(e) => window.__blocked.push(e.blockedURI + ' ' + e.violatedDirective));")
        page.goto(path.as_uri())
        poll(page, lambda: page.evaluate("() => !!(window.__map && window.__map.stats.firstDrawAt !== null)"),
             bool, 30, "the map's first draw")
        status = page.evaluate(JS_STATUS)
        assert status["points"] == "300" and "300 points" in status["text"]
        coloured = page.evaluate(JS_PIXELS)
        assert coloured["ink"] > 300 and coloured["warm"] > 0  # drawn, in the palette's warm colours too
        topics = points.table["topic"].value_counts()
        legend = [" ".join(t.split()) for t in page.locator("#legend .item").all_inner_texts()]
        assert legend == [f"{t} {topics[t]}" for t in sorted(topics.index)]

        page.get_by_label("Colour by").select_option("(none)")
        plain = poll(page, lambda: page.evaluate(JS_PIXELS), lambda v: v["hash"] != coloured["hash"], 10, "re-colour")
        assert plain["warm"] == 0

        page.get_by_label("Search", exact=True).fill("ball")
        expected = int(points.table["text"].str.contains("ball", case=False).sum())
        poll(page, lambda: page.evaluate(JS_STATUS)["matches"], lambda m: m == str(expected), 10, "search matches")
        page.get_by_label("Search", exact=True).fill("")

        page.get_by_label("Label by").select_option("text")
        poll(page, lambda: page.evaluate("() => window.__map.panels[0].labelsDrawn"), lambda n: n and n > 0, 10, "labels")

        # hover: the tooltip shows the point's own sentence
        target = page.evaluate("""() => { const p = window.__map.panels[0], s = p.screenPositions(), r = p.canvas.getBoundingClientRect();
          for (let i = 0; i < p.n; i++) { let alone = s[2*i] > 30 && s[2*i+1] > 30 && s[2*i] < p.w - 30 && s[2*i+1] < p.h - 30;
            for (let j = 0; j < p.n && alone; j++) if (j !== i && Math.hypot(s[2*i]-s[2*j], s[2*i+1]-s[2*j+1]) < 20) alone = false;
            if (alone) return {i, x: r.left + s[2*i], y: r.top + s[2*i+1]}; } return null; }""")
        assert target is not None
        page.mouse.move(target["x"] + 2, target["y"] - 1)
        page.locator("#tooltip").wait_for(state="visible", timeout=5_000)
        assert page.locator("#tooltip b").inner_text() == points.table["text"][target["i"]]

        # zoom: a wheel step over the map zooms in and redraws
        before = page.evaluate(JS_PIXELS)["hash"]
        page.mouse.wheel(0, -400)
        poll(page, lambda: page.evaluate(JS_PIXELS)["hash"], lambda h: h != before, 10, "zoomed pixels")
        assert page.evaluate("() => window.__map.panels[0].cam.zoom") > 1

        # selection: a box over the whole map selects every point drawn there
        page.get_by_role("button", name="Reset view").click()
        page.locator("input[name=mode][value=box]").check()
        box = page.locator(".panel canvas").first.bounding_box()
        page.mouse.move(box["x"] + 2, box["y"] + 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
        page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=4)
        page.mouse.up()
        poll(page, lambda: page.evaluate(JS_STATUS)["text"], lambda t: "300 selected" in t, 10, "box selection")
        page.get_by_role("button", name="Isolate").click()
        poll(page, lambda: page.evaluate(JS_STATUS)["points"], lambda p: p == "300", 10, "isolated")
        assert page.evaluate("() => window.__blocked") == []

        # in 3D the drag rotates, and the density contours (2D only) are not offered
        page.goto(path3d.as_uri())
        poll(page, lambda: page.evaluate("() => !!(window.__map && window.__map.stats.firstDrawAt !== null)"),
             bool, 30, "the 3D map's first draw")
        assert page.evaluate("() => window.__map.panels[0].dims") == 3 and page.evaluate(JS_PIXELS)["ink"] > 300
        assert page.locator("#pan-label").inner_text() == "Rotate" and page.locator("#contours-wrap").is_hidden()
        assert page.evaluate("() => window.__blocked") == []
    assert attempted == list(files), attempted  # the files themselves, and nothing else was even tried
