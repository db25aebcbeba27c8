"""Export: projector files (a zip of vectors.tsv, metadata.tsv, projector_config.json) for the
whole data, the selection or the isolated points; the 2D/3D coordinates as CSV; and how to load
the files on projector.tensorflow.org.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.sections.projection import View
from embeddings.points import Points

PROJECTOR_LABEL = "Download for projector.tensorflow.org"
COORDS_LABEL = "Coordinates (CSV)"
# Zips up to this many numbers are built with the page (and cached); bigger ones on click.
EAGER_VALUES = 2_000_000
EAGER_ROWS = 20_000  # coordinates CSV: the same, in rows

HOW_TO = """
1. Open [projector.tensorflow.org](https://projector.tensorflow.org) and click **Load** (left panel).
2. Step 1, *Load a TSV file of vectors*: choose `vectors.tsv` from the unzipped download.
3. Step 2, *Load a TSV file of metadata* (optional): choose `metadata.tsv`.
4. Click outside the dialog. Colour, label and search by the metadata columns there, as here.

To share a view, host the three files somewhere public, set the paths in
`projector_config.json` to their URLs (or export with `embeddings export --base-url URL`), and
open `https://projector.tensorflow.org/?config=URL-of-projector_config.json`.
"""


def projector_zip_for(points: Points, rows: np.ndarray) -> bytes:
    """The projector zip of the given source rows (what the download button serves)."""
    return points.subset(rows).projector_zip()


@st.cache_data(show_spinner=False, max_entries=4)
def _zip_cached(_points: Points, points_key: str, rows_key: str, _rows: np.ndarray) -> bytes:
    return projector_zip_for(_points, _rows)


def _derived_key(table: pd.DataFrame) -> str:
    """A digest of the columns the page adds (clusters), which the points' key does not cover."""
    added = [c for c in ("cluster", "cluster_label") if c in table.columns]
    if not added:
        return ""
    return "|" + hashlib.sha1(pd.util.hash_pandas_object(table[added], index=False).to_numpy().tobytes()).hexdigest()[:16]


def coordinates_csv(view: View, rows: np.ndarray | None = None) -> bytes:
    """row, x, y[, z] and the label column of the drawn points (optionally only `rows`)."""
    frame = pd.DataFrame(view.coords, columns=list("xyz"[: view.coords.shape[1]]))
    frame.insert(0, "row", view.rows)
    if rows is not None:
        frame = frame[np.isin(view.rows, rows)]
    # The first column names the point; cluster columns come along when clusters are on.
    extra = [c for c in ("cluster", "cluster_label") if c in view.table.columns and c != view.table.columns[0]]
    for column in [*view.table.columns[:1], *extra]:
        frame[str(column)] = view.table[column].to_numpy()[frame.index.to_numpy()]
    return frame.to_csv(index=False).encode("utf-8")


def render_export(points: Points, view: View, selection: list[int], filtered: np.ndarray | None = None) -> None:
    st.subheader("Export")
    scopes = {f"All {len(points):,} points": np.arange(len(points))}
    if filtered is not None:
        scopes[f"Filtered ({len(filtered):,} points)"] = np.asarray(filtered, dtype=np.int64)
    if view.isolated:
        scopes[f"Isolated {len(view.rows):,} points"] = np.sort(view.rows)
    if selection:
        scopes[f"Selection ({len(selection):,} points)"] = np.asarray(sorted(selection), dtype=np.int64)
    left, middle, right = st.columns([1.2, 1.4, 2])
    with left:
        scope = st.radio("Export", list(scopes), key=state.EXPORT_SCOPE, label_visibility="collapsed")
    rows = scopes.get(scope, next(iter(scopes.values())))
    stem = re.sub(r"[^\w.-]+", "_", points.source).strip("_") or "embeddings"
    with middle:
        if len(rows) * points.vectors.shape[1] <= EAGER_VALUES:
            rows_key = hashlib.sha1(rows.tobytes()).hexdigest()[:16]
            data = _zip_cached(points, points.key + _derived_key(points.table), rows_key, rows)
        else:  # built when clicked: a big zip would slow every rerun
            data = lambda: projector_zip_for(points, rows)  # noqa: E731
        st.download_button(
            PROJECTOR_LABEL, data, file_name=f"{stem}_projector.zip", mime="application/zip",
            key=state.DOWNLOAD_PROJECTOR, type="primary", icon=":material/download:", on_click="ignore",
        )
        only = rows if scope != next(iter(scopes)) else None
        coords = (
            coordinates_csv(view, only) if len(view.rows) <= EAGER_ROWS else lambda: coordinates_csv(view, only)
        )
        st.download_button(
            COORDS_LABEL, coords,
            file_name=f"{stem}_{view.projection.method}{view.projection.dims}d.csv", mime="text/csv",
            key=state.DOWNLOAD_COORDS, on_click="ignore",
        )
        st.caption(f"{len(rows):,} vectors of width {points.vectors.shape[1]}; metadata columns: "
                   f"{', '.join(map(str, points.table.columns)) or 'none'}")
    with right:
        with st.expander("How to open these files on projector.tensorflow.org"):
            st.markdown(HOW_TO)
