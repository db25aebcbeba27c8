"""The map core with points that are images, in a real Chromium (software WebGL), no server.

The 1,797 handwritten digits (PNG files written at test time, read as pixels) laid out by PCA and
written as one map.html (the third host of the same core: the Streamlit component and the
notebook widget load the same modules). What a person relies on, checked on pixels:

- the atlas arrives in the payload and decodes in the browser to the digits, tile for tile;
- hovering a point shows its own digit in the tooltip;
- zoomed out the points are dots; zoomed in each is drawn as its own digit, from the atlas in
  WebGL (read back from the canvas, cell for cell), framed in its colour; a search lights the
  matching pictures and dims the rest; a click anywhere on a picture selects that point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from browser_support import chromium_page, poll
from embeddings.map.html_file import map_html
from embeddings.map.layout import map_layout
from embeddings.pipeline import embed_points, load_input

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The decoded atlas, read back through a 2D canvas: [width, height, grey value of every pixel].
JS_ATLAS = """() => { const im = window.__map.images; if (!im || !im.bitmap) return null;
  const c = document.createElement('canvas'); c.width = im.bitmap.width; c.height = im.bitmap.height;
  const ctx = c.getContext('2d'); ctx.drawImage(im.bitmap, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data, grey = [];
  for (let k = 0; k < d.length; k += 4) grey.push(d[k]);
  return [c.width, c.height, grey, im.tile, im.columns]; }"""

# A point's screen position and size in the page, and the first panel's sprite side.
JS_WHERE = """(i) => { const p = window.__map.panels[0], s = p.screenPositions(), r = p.canvas.getBoundingClientRect();
  return {x: r.left + s[2*i], y: r.top + s[2*i+1], px: s[2*i], py: s[2*i+1], side: p.spriteSide, dpr: p.dpr}; }"""

# RGB of the WebGL canvas in a square of CSS px around (x, y), as rows of [r, g, b] (top row first).
JS_READ = """([x, y, half]) => { const p = window.__map.panels[0], gl = p.gl, dpr = p.dpr;
  const x0 = Math.round((x - half) * dpr), size = Math.round(2 * half * dpr), y0 = gl.drawingBufferHeight - Math.round((y + half) * dpr);
  const px = new Uint8Array(size * size * 4); gl.readPixels(x0, y0, size, size, gl.RGBA, gl.UNSIGNED_BYTE, px);
  const rows = []; for (let r = size - 1; r >= 0; r--) { const row = [];
    for (let c = 0; c < size; c++) { const k = 4 * (r * size + c); row.push([px[k], px[k + 1], px[k + 2]]); } rows.push(row); }
  return rows; }"""


@pytest.fixture(scope="module")
def digits_map(digits_dir, tmp_path_factory):
    folder, pixels, targets = digits_dir
    points = embed_points(load_input(folder), "pixels")
    path = tmp_path_factory.mktemp("map") / "digits.html"
    path.write_text(map_html(map_layout(points, points.project("pca", 2)), title="Digits", color="folder"),
                    encoding="utf-8")
    return path, points, pixels


def _open(page, path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    poll(page, lambda: page.evaluate("() => !!(window.__map && window.__map.images && window.__map.images.bitmap)"),
         bool, 60, "the atlas decoded")
    assert not errors, errors


def _zoom_on(page, i: int, zoom: float) -> dict:
    page.evaluate("""([i, zoom]) => { const p = window.__map.panels[0];
      p.cam.x = p.coords[2*i]; p.cam.y = p.coords[2*i+1]; p.cam.zoom = zoom; window.requestDraw(); }""", [i, zoom])
    return poll(page, lambda: page.evaluate(JS_WHERE, i), lambda w: w["side"] > 0 or zoom < 2, 10, "the redraw")


def test_the_atlas_hover_and_sprites_show_each_points_own_digit(digits_map) -> None:
    path, points, pixels = digits_map
    with chromium_page(900, 700) as page:
        _open(page, path)
        width, height, grey, tile, columns = page.evaluate(JS_ATLAS)
        assert tile == [8, 8] and columns == 43 and (width, height) == (43 * 8, 42 * 8)
        atlas = np.asarray(grey, dtype=np.uint8).reshape(height, width)
        for i in (0, 42, 43, 900, 1796):
            r, c = divmod(i, 43)
            np.testing.assert_array_equal(atlas[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8], pixels[i])

        # zoomed out, 1,797 points are dots; a hovered one shows its own digit, 8 times larger
        assert page.evaluate("() => window.__map.panels[0].spriteSide") == 0
        target = 1000
        where = _zoom_on(page, target, 1.0)
        page.mouse.move(where["x"], where["y"])
        page.locator("#tooltip canvas.picture").wait_for(state="visible", timeout=10_000)
        shown = page.evaluate("""() => { const c = document.querySelector('#tooltip canvas.picture');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, g = [];
          for (let k = 0; k < d.length; k += 4) g.push(d[k]); return [c.width, c.height, g]; }""")
        hovered = page.evaluate("() => window.__map.hover")
        assert shown[:2] == [64, 64]
        enlarged = np.asarray(shown[2], dtype=np.uint8).reshape(64, 64)
        np.testing.assert_array_equal(enlarged[4::8, 4::8], pixels[hovered])
        assert page.locator("#tooltip b").inner_text() == points.table["image"][hovered]
        page.mouse.move(5, 5)

        # zoomed in, every point is its own digit: the target alone is lit (a search for its file),
        # so it is drawn on top; its 8 x 8 cells are read back from the WebGL canvas
        page.get_by_label("Search", exact=True).fill(points.table["image"][target])
        poll(page, lambda: page.evaluate("() => document.getElementById('status').dataset.matches"),
             lambda m: m == "1", 10, "one match")
        where = _zoom_on(page, target, 40.0)
        side = where["side"]
        assert side == 96  # at most 96 CSS px
        rows = np.asarray(page.evaluate(JS_READ, [where["px"], where["py"], side / 2]), dtype=np.int64)
        n, frame = rows.shape[0], 2 * where["dpr"]  # the frame: 2 CSS px in the point's colour
        cell = (n - 2 * frame) / 8
        centres = [int(frame + (k + 0.5) * cell) for k in range(8)]
        np.testing.assert_array_equal(rows[np.ix_(centres, centres)][..., 0], pixels[target])
        colour = page.evaluate(f"() => Array.from(window.__map.colors.slice({4 * target}, {4 * target + 3}))")
        assert colour not in ([221, 221, 221], [255, 255, 255])  # its own colour-by colour, lit
        for edge in (rows[0, n // 2], rows[n // 2, 0], rows[n - 1, n // 2], rows[n // 2, n - 1]):
            assert edge.tolist() == colour

        # a click on the lit picture's corner (beyond a dot's 10 px, inside the picture) selects its point
        page.mouse.click(where["x"] + side / 2 - 4, where["y"] - side / 2 + 4)
        poll(page, lambda: page.evaluate(f"() => window.__map.selected[{target}]"), lambda v: v == 1, 10,
             "the picture's point selected")
        assert page.evaluate("() => window.__map.selected.reduce((a, b) => a + b, 0)") == 1


def test_in_3d_the_pictures_are_drawn_and_the_one_under_the_pointer_is_its_own(digits_map, tmp_path) -> None:
    _, points, pixels = digits_map
    path = tmp_path / "digits3d.html"
    path.write_text(map_html(map_layout(points, points.project("pca", 3)), title="Digits 3D"), encoding="utf-8")
    with chromium_page(900, 700) as page:
        _open(page, path)
        page.evaluate("() => { const p = window.__map.panels[0]; p.cam.dist = 0.6; window.requestDraw(); }")
        side = poll(page, lambda: page.evaluate("() => window.__map.panels[0].spriteSide"), lambda v: v > 0, 10,
                    "pictures in 3D")
        assert side >= 16
        # the picture the pointer is on: the hovered point's digit is drawn right there, cell for cell
        where = page.evaluate("""() => { const p = window.__map.panels[0], s = p.screenPositions(), r = p.canvas.getBoundingClientRect();
          for (let i = 0; i < p.n; i++) if (s[2*i] > p.w * 0.4 && s[2*i] < p.w * 0.6 && s[2*i+1] > p.h * 0.4 && s[2*i+1] < p.h * 0.6)
            return {x: r.left + s[2*i], y: r.top + s[2*i+1]}; return null; }""")
        assert where is not None
        page.mouse.move(where["x"], where["y"])
        page.locator("#tooltip canvas.picture").wait_for(state="visible", timeout=10_000)
        hovered = page.evaluate("() => window.__map.hover")
        shown = page.evaluate("""() => { const c = document.querySelector('#tooltip canvas.picture');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, g = [];
          for (let k = 0; k < d.length; k += 4) g.push(d[k]); return g; }""")
        np.testing.assert_array_equal(np.asarray(shown, dtype=np.uint8).reshape(64, 64)[4::8, 4::8], pixels[hovered])
