"""The point map outside Python: one JavaScript core, three hosts.

``static/core/*.js`` is the map (native ES modules, no build step, nothing from a network):
payload decoding, WebGL drawing, picking, the look, toolbar, legend. Each host loads it:

- the Streamlit component (``app/components/map``) serves ``static/`` as is: ``index.html``
  loads ``hosts/streamlit.js``, which imports the core as modules;
- the notebook widget (anywidget) and the one-file HTML export inline it, joined into one
  module by ``embeddings.map.bundle`` (a notebook's widget code and a ``file://`` page cannot
  import from relative URLs).

The data always travels as ``embeddings.mapdata``'s binary payload. Nothing here imports streamlit.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
