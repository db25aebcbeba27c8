"""Take docs/screenshot.png: the app on first load, 1400x900, in headless Chromium.

    .venv/bin/python benchmarks/screenshot.py [OUT.png]

Starts the app on a free port (vector cache: $EMBEDDINGS_CACHE or the user cache), waits for
the map and for the script run to finish, and saves the viewport.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (benchmarks/run.py: the server and browser helpers)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else run.ROOT / "docs" / "screenshot.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    import os
    import tempfile

    cache = Path(os.environ.get("EMBEDDINGS_CACHE") or Path(tempfile.gettempdir()) / "screenshot-cache" / "vectors.sqlite")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=run.CHROMIUM, headless=True, args=run.CHROMIUM_ARGS)
        with run.streamlit_server(Path(tmp), cache) as (url, _proc, _started):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            run.wait_points(page, None, 300)
            run.wait_js(page, run.JS_IDLE, 300)
            page.mouse.move(1, 1)
            frame = run.explore_frame(page, 30)  # a hovered point shows its text, as a user sees it
            frame.evaluate(run.JS_MAP_HOVER, [frame.evaluate("() => Math.floor(window.__map.data.n / 3)"), True])
            time.sleep(1)
            page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
