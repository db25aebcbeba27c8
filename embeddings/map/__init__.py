"""The point map outside Python: one JavaScript core, and the hosts that load it.

``static/core/*.js`` is the map (native ES modules, no build step, nothing from a network):
payload decoding, WebGL drawing, picking, the look, toolbar, legend. ``static/hosts/*.js`` are
the thin hosts around it; the Streamlit component (``app/components/map``) serves ``static/`` as
is: ``index.html`` loads ``hosts/streamlit.js``, which imports the core as modules. The files ship
as package data of ``embeddings``. The data always travels as ``embeddings.mapdata``'s binary
payload. Nothing here imports streamlit.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
