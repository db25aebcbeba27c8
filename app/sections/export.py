"""Export: projector files (a zip of vectors.tsv, metadata.tsv, bookmarks.txt with the view on
screen, projector_config.json) for the
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
from app.sections import counted
from app.sections.projection import Layout
from embeddings.points import Points
from embeddings.choices import METHOD_NAMES
from embeddings.reduce import Projection
from embeddings.views import View

PROJECTOR_LABEL = "Download for projector.tensorflow.org"
COORDS_LABEL = "Coordinates (CSV)"
MAP_HTML_LABEL = "The map as one HTML file"
# Zips up to this many numbers are built with the page (and cached); bigger ones on click.
EAGER_VALUES = 2_000_000
EAGER_ROWS = 20_000  # coordinates CSV: the same, in rows
EAGER_MAP_POINTS = 5_000  # map.html: built with the page up to this many points, else on click

HOW_TO = """
1. Open [projector.tensorflow.org](https://projector.tensorflow.org) and click **Load** (left panel).
2. Step 1, *Load a TSV file of vectors*: choose `vectors.tsv` from the unzipped download.
3. Step 2, *Load a TSV file of metadata* (optional): choose `metadata.tsv`.
4. Click outside the dialog. Colour, label and search by the metadata columns there, as here.
5. To see this layout there (not a new one computed there): open **Bookmarks** (bottom right),
   load `bookmarks.txt`, and click its bookmark. A t-SNE bookmark goes on optimising from this
   layout there; press Pause to keep it as it is.

To share a view, host the three files somewhere public, set the paths in
`projector_config.json` to their URLs (or export with `embeddings export --base-url URL`), and
open `https://projector.tensorflow.org/?config=URL-of-projector_config.json`.
"""


def bookmark_for(layout: Layout, rows: np.ndarray, look: dict, selection: list[int], columns: list[str]) -> View:
    """The view on screen as a bookmark of the exported rows: the layout's coordinates for the
    exported points it drew (filteredPoints when that is not all of them), the look's colour and
    label, and the selection."""
    rows = np.asarray(rows, dtype=np.int64)
    position = {int(r): i for i, r in enumerate(rows)}
    drawn = layout.rows
    keep = np.array([int(r) in position for r in drawn], dtype=bool)
    exported = np.array([position[int(r)] for r in drawn[keep]], dtype=np.int64)  # rows of the exported points
    complete = len(exported) == len(rows) and np.array_equal(exported, np.arange(len(rows)))
    projection = Projection(layout.coords[keep], layout.projection.method, layout.projection.dims,
                            dict(layout.projection.params), subset_rows=None if complete else exported)
    chosen = [position[r] for r in selection if r in position]
    usable = {key: value for key, value in look.items() if key not in ("color", "label") or value in columns}
    name = f"{METHOD_NAMES.get(layout.projection.method, layout.projection.method)} {layout.projection.dims}D"
    return View.of_projection(projection, name=name).with_look({**usable, "sel": chosen})


def projector_zip_for(points: Points, rows: np.ndarray, bookmark: View | None = None) -> bytes:
    """The projector zip of the given row ids (what the download button serves), with the
    view on screen as bookmarks.txt when given."""
    return points.subset(rows).projector_zip(views=[bookmark] if bookmark is not None else [])


@st.cache_data(show_spinner=False, max_entries=4)
def _zip_cached(_points: Points, points_digest: str, rows_digest: str, _rows: np.ndarray, bookmark_digest: str,
                _bookmark: View | None) -> bytes:
    return projector_zip_for(_points, _rows, _bookmark)


def _derived_digest(table: pd.DataFrame) -> str:
    """A digest of the columns the page adds (clusters), which the points' digest does not cover."""
    added = [c for c in ("cluster", "cluster_label") if c in table.columns]
    if not added:
        return ""
    return "|" + hashlib.sha1(pd.util.hash_pandas_object(table[added], index=False).to_numpy().tobytes()).hexdigest()[:16]


def coordinates_csv(layout: Layout, rows: np.ndarray | None = None) -> bytes:
    """row, x, y[, z] and the label column of the drawn points (optionally only `rows`)."""
    frame = pd.DataFrame(layout.coords, columns=list("xyz"[: layout.coords.shape[1]]))
    frame.insert(0, "row", layout.rows)
    if rows is not None:
        frame = frame[np.isin(layout.rows, rows)]
    # The first column names the point; cluster columns come along when clusters are on.
    extra = [c for c in ("cluster", "cluster_label") if c in layout.table.columns and c != layout.table.columns[0]]
    for column in [*layout.table.columns[:1], *extra]:
        frame[str(column)] = layout.table[column].to_numpy()[frame.index.to_numpy()]
    return frame.to_csv(index=False).encode("utf-8")


def render_export(points: Points, layout: Layout, selection: list[int], look: dict | None = None,
                  filtered: np.ndarray | None = None) -> None:
    st.subheader("Export")
    scopes = {f"All {counted(len(points), 'point')}": np.arange(len(points))}
    if filtered is not None:
        scopes[f"Filtered ({counted(len(filtered), 'point')})"] = np.asarray(filtered, dtype=np.int64)
    if layout.isolated:
        scopes[f"Isolated {counted(len(layout.rows), 'point')}"] = np.sort(layout.rows)
    if selection:
        scopes[f"Selection ({counted(len(selection), 'point')})"] = np.asarray(sorted(selection), dtype=np.int64)
    left, middle, right = st.columns([1.2, 1.4, 2])
    with left:
        scope = st.radio("Export", list(scopes), key=state.EXPORT_SCOPE, label_visibility="collapsed")
    rows = scopes.get(scope, next(iter(scopes.values())))
    stem = re.sub(r"[^\w.-]+", "_", points.source).strip("_") or "embeddings"
    # Custom axes are not a saved-view method yet (embeddings.views keeps "custom" for the
    # projector's own bookmarks): their export carries no bookmark.
    bookmark = (None if layout.projection.method == "custom"
                else bookmark_for(layout, rows, look or {}, selection, [str(c) for c in points.table.columns]))
    with middle:
        if len(rows) * points.vectors.shape[1] <= EAGER_VALUES:
            rows_digest = hashlib.sha1(rows.tobytes()).hexdigest()[:16]
            bookmark_digest = hashlib.sha1((bookmark.to_json() if bookmark else "").encode()
                                           + layout.coords.tobytes()).hexdigest()[:16]
            data = _zip_cached(points, points.digest + _derived_digest(points.table), rows_digest, rows, bookmark_digest,
                               bookmark)
        else:  # built when clicked: a big zip would slow every rerun
            data = lambda: projector_zip_for(points, rows, bookmark)  # noqa: E731
        st.download_button(
            PROJECTOR_LABEL, data, file_name=f"{stem}_projector.zip", mime="application/zip",
            key=state.DOWNLOAD_PROJECTOR, type="primary", icon=":material/download:", on_click="ignore",
        )
        only = rows if scope != next(iter(scopes)) else None
        coords = (
            coordinates_csv(layout, only) if len(layout.rows) <= EAGER_ROWS else lambda: coordinates_csv(layout, only)
        )
        st.download_button(
            COORDS_LABEL, coords,
            file_name=f"{stem}_{layout.projection.method}{layout.projection.dims}d.csv", mime="text/csv",
            key=state.DOWNLOAD_COORDS, on_click="ignore",
        )
        _map_html_button(points, layout, look or {}, stem)
        st.caption(f"{len(rows):,} vectors of width {points.vectors.shape[1]}; metadata columns: "
                   f"{', '.join(map(str, points.table.columns)) or 'none'}")
    with right:
        with st.expander("How to open these files on projector.tensorflow.org"):
            st.markdown(HOW_TO)


def map_page(points: Points, layout: Layout, look: dict) -> bytes:
    """The map on screen (its points, colour, label, search and selection) as one HTML file that
    opens from disk (embeddings.map.html_file)."""
    from embeddings.map.html_file import map_html
    from embeddings.map.layout import MapLayout

    columns = {str(c) for c in points.table.columns}
    drawn = MapLayout(points, layout.rows, layout.coords, tuple(layout.axis_titles()))  # the table's rows: positions
    name = f"{METHOD_NAMES.get(layout.projection.method, layout.projection.method)} {layout.projection.dims}D"
    return map_html(drawn, title=points.source or "Embeddings", subtitle=f"{len(layout.rows):,} points · {name}",
                    color=look.get("color") if look.get("color") in columns else None,
                    label=look.get("label") if look.get("label") in columns else None, look=look).encode("utf-8")


def _map_html_button(points: Points, layout: Layout, look: dict, stem: str) -> None:
    data = (map_page(points, layout, look) if len(layout.rows) <= EAGER_MAP_POINTS
            else lambda: map_page(points, layout, look))
    st.download_button(MAP_HTML_LABEL, data, file_name=f"{stem}_map.html", mime="text/html",
                       key=state.DOWNLOAD_MAP_HTML, on_click="ignore",
                       help="Colour, label, search, hover, zoom and selection, with no server and no network")
