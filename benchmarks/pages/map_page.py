"""The benchmark's map page: MAP_POINTS synthetic points (2D, or 3D with ?dims=3) in the point map.

Clustered coordinates, a unique text per point, a 12-value category and a number, like a
projection of real data. The script stamps the moment the projection is ready (epoch ms, in the
page as "ready: ...") just before it hands the points to the component, so the benchmark can time
the first draw from there (packing, transfer, decoding, upload, drawing).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from app.components.map import point_map  # noqa: E402

st.set_page_config(layout="wide")


@st.cache_resource
def points(n: int, dims: int) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(0)
    group = rng.integers(0, 12, n)
    centres = rng.normal(0, 6, (12, dims))
    coords = (centres[group] + rng.normal(0, 1.5, (n, dims))).astype(np.float32)
    words = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"])
    text = pd.Series(words[rng.integers(0, len(words), n)]) + " point " + pd.Series(np.arange(n)).astype(str)
    table = pd.DataFrame({"text": text, "group": pd.Series(group).map(lambda g: f"group {g}"),
                          "score": rng.random(n)})
    return coords, table


n = int(os.environ.get("MAP_POINTS", "100000"))
dims = 3 if st.query_params.get("dims") == "3" else 2
coords, table = points(n, dims)
ready_ms = time.time() * 1000
st.write(f"ready: {ready_ms:.0f}")
point_map(coords, table, key="bench_map", data_id=f"bench-{n}-{dims}", text_column="text", height=620)
