"""The point map as one HTML file (``map.html``) that opens from disk: no server, no network.

The page holds everything: the map core and ``hosts/html.js`` joined into one inline module
(``embeddings.map.bundle``), the points as ``embeddings.mapdata``'s payload (gzip, then base64:
texts shrink to a third or less; the browser unpacks it with its own DecompressionStream), and the
starting look (colour, label, search, selection, camera) as JSON. Colour, label, search, hover,
zoom, selection and the legend work as in the app; the page asks for nothing over a network (a
``file://`` page may not load modules from files beside it anyway).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from pathlib import Path
from typing import Any, Mapping

from embeddings.map.bundle import bundle
from embeddings.map.layout import MapLayout

# The look keys the page applies (the map's own spelling: embeddings/map/static/core/look.js).
PAGE_LOOK_KEYS = ("search", "search_in", "regex", "case", "sel", "iso", "density", "cam")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
html, body {{ margin: 0; height: 100%; background: #fff; }}
body {{ display: flex; flex-direction: column; box-sizing: border-box; padding: 8px 12px; font-family: "Source Sans Pro", system-ui, sans-serif; color: #262730; }}
header {{ font-size: 14px; padding-bottom: 6px; }}
header b {{ font-size: 16px; margin-right: 8px; }}
#root {{ flex: 1 1 0; min-height: 0; height: auto; }}
</style>
</head>
<body>
<header><b>{title}</b>{subtitle}</header>
<div id="root"></div>
<script type="application/octet-stream" id="emap-payload" data-encoding="gzip">{payload}</script>
<script type="application/json" id="emap-setup">{setup}</script>
<script type="module">
{code}
</script>
</body>
</html>
"""


def _json_in_script(value: Any) -> str:
    """JSON that cannot end the <script> element it sits in ("<" only occurs inside its strings)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def map_html(layout: MapLayout, *, title: str, subtitle: str = "", color: str | None = None,
             label: str | None = None, look: Mapping[str, Any] | None = None) -> str:
    """The page's text: `layout`'s points with their table, coloured by `color`, labelled by
    `label`, and the rest of `look` (search, regex, case, sel: row ids, cam) applied."""
    setup = {
        "data_id": f"{layout.points.digest}:{len(layout.positions)}",
        "color": layout.check_column(color, "color") or None,
        "label": layout.check_column(label, "label") or None,
        "text_column": layout.points.label_column,
        "look": {k: v for k, v in dict(look or {}).items() if k in PAGE_LOOK_KEYS and v not in (None, "")},
    }
    code = bundle("hosts/html.js")
    if any(mark in code.lower() for mark in ("<!--", "<script", "</script")):
        raise ValueError("the map's code holds '<!--' or a script tag, which an inline script cannot")
    return PAGE.format(
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        payload=base64.b64encode(gzip.compress(layout.payload(), compresslevel=6, mtime=0)).decode("ascii"),
        setup=_json_in_script(setup),
        code=code,
    )


def write_map_html(path: str | Path, layout: MapLayout, **options: Any) -> Path:
    """map_html(layout, **options) written to `path` (UTF-8)."""
    path = Path(path)
    path.write_text(map_html(layout, **options), encoding="utf-8")
    return path
