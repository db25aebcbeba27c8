"""Take docs/screenshot.png: the app on first load, 1400x900, in headless Chromium.

    .venv/bin/python benchmarks/screenshot.py [OUT.png]

Starts the app on a free port (vector cache: $EMBEDDINGS_CACHE or the user cache), waits for
the map and for the script run to finish, and saves the viewport. The server, the browser and
the waits are the app section's (benchmarks/sections/app.py, harness/browser.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.sections.app import (  # noqa: E402
    JS_IDLE, JS_MAP_HOVER, JS_MAP_POINT_COUNT, app_server, explore_frame, wait_js, wait_points,
)
from harness.browser import chromium  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    cache = Path(os.environ.get("EMBEDDINGS_CACHE") or Path(tempfile.gettempdir()) / "screenshot-cache" / "vectors.sqlite")
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        with app_server(Path(tmp), cache) as server:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            wait_points(page, None, 300)
            wait_js(page, JS_IDLE, 300)
            page.mouse.move(1, 1)
            frame = explore_frame(page, 30)  # a hovered point shows its text, as a user sees it
            frame.evaluate(JS_MAP_HOVER, [frame.evaluate(JS_MAP_POINT_COUNT) // 3, True])
            time.sleep(1)
            page.screenshot(path=str(out))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
