"""The explorer's server: `streamlit run app/server.py` serves app/main.py as an ``st.App`` (Streamlit's
ASGI server) with the app's own routes: the live routes (``app.live``), from which the map fetches
the frames of a UMAP or t-SNE layout forming. Served as plain `streamlit run app/main.py`, the app
works as before but computes those layouts behind a spinner.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/server.py` puts app/ on sys.path, not the repository root.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app.live import live_routes  # noqa: E402

app = st.App("main.py", routes=live_routes(st.get_option("server.baseUrlPath") or ""))
