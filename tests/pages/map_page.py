"""A page with only the point map, for the browser tests: `streamlit run tests/pages/map_page.py`.

300 points in 3 clusters (2D, or 3D with ?dims=3), a text, a category and a number per point.
It shows how often the script ran ("runs: N"), so a test can tell a change made in the browser
from one that went through a Streamlit rerun, and the last event the map reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from app.components.map import point_map  # noqa: E402

N = 300
dims = 3 if st.query_params.get("dims") == "3" else 2
rng = np.random.default_rng(0)
cluster = np.arange(N) % 3
centres = np.array([[-6, 0, 0], [6, 0, 0], [0, 6, 4]], dtype=np.float32)
coords = (centres[cluster] + rng.normal(0, 0.5, (N, 3))).astype(np.float32)[:, :dims]
words = np.array(["apple", "banana", "cherry"])
table = pd.DataFrame({
    "text": [f"{words[c]} number {i}" for i, c in enumerate(cluster)],
    "group": [f"group {c}" for c in cluster],
    "size": np.linspace(0.0, 1.0, N),
})

st.session_state["runs"] = st.session_state.get("runs", 0) + 1
st.write(f"runs: {st.session_state['runs']}")
event = point_map(coords, table, key="map", data_id=f"demo-{dims}d", text_column="text", height=520,
                  highlight=st.session_state.get("neighbours", []))
if event is not None:
    st.write(f"event: {event.type} clicked={event.clicked} selected={len(event.selection)}")
    if event.new and event.clicked is not None:
        # stands in for the neighbours Python computes: the 5 rows after the clicked one
        st.session_state["neighbours"] = [(event.clicked + k) % N for k in range(1, 6)]
        st.rerun()
