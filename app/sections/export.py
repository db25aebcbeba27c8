"""Export: projector files (a zip of vectors.tsv, metadata.tsv, bookmarks.txt with the view on
screen, projector_config.json), the 2D/3D coordinates as CSV and the map as one HTML file, of
what the map shows (the default: filters and isolation applied, as the look has them), of every
point, or of the selection; and how to load the files on projector.tensorflow.org.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import streamlit as st

from app import look as owner
from app import state
from app.sections import counted
from app.sections.projection import Layout
from embeddings.points import Points
from embeddings.choices import METHOD_NAMES
from embeddings.look import Look
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


def bookmark_for(layout: Layout, rows: np.ndarray, look: Look, columns: list[str]) -> View:
    """The view on screen as a bookmark of the exported rows: the layout's coordinates for the
    exported points it drew (filteredPoints when that is not all of them), the look's colour and
    label, and its selection."""
    rows = np.asarray(rows, dtype=np.int64)
    position = {int(r): i for i, r in enumerate(rows)}
    drawn = layout.rows
    keep = np.array([int(r) in position for r in drawn], dtype=bool)
    exported = np.array([position[int(r)] for r in drawn[keep]], dtype=np.int64)  # rows of the exported points
    complete = len(exported) == len(rows) and np.array_equal(exported, np.arange(len(rows)))
    projection = Projection(layout.coords[keep], layout.projection.method, layout.projection.dims,
                            dict(layout.projection.params), subset_rows=None if complete else exported)
    chosen = tuple(position[r] for r in look.selection if r in position)  # the exported points' own numbers
    marked = Look(color=look.color if look.color in columns else None, label=look.label if look.label in columns else None,
                  search=look.search, regex=look.regex, case=look.case, selection=chosen)
    name = f"{METHOD_NAMES.get(layout.projection.method, layout.projection.method)} {layout.projection.dims}D"
    return View.of_projection(projection, name=name, look=marked)


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


SCOPES = ("shown", "all", "selection")  # what the export holds: what the map shows, every point, the selection


def export_scopes(points: Points, shown: np.ndarray, look: Look) -> dict[str, tuple[str, np.ndarray]]:
    """The export's choices, what the map shows first (the default): scope -> (label, row ids)."""
    everything = np.arange(len(points))
    narrowed = len(shown) < len(points)
    scopes = {"shown": (f"What the map shows ({counted(len(shown), 'point')} of {len(points):,})" if narrowed
                        else f"All {counted(len(points), 'point')}", np.sort(np.asarray(shown, dtype=np.int64)))}
    if narrowed:
        scopes["all"] = (f"All {counted(len(points), 'point')}", everything)
    if look.selection:
        scopes["selection"] = (f"Selection ({counted(len(look.selection), 'point')})",
                               np.asarray(sorted(look.selection), dtype=np.int64))
    return scopes


def render_export(points: Points, layout: Layout, look: Look, shown: np.ndarray) -> None:
    """The export's downloads, of what the map shows unless another scope is picked."""
    st.subheader("Export")
    scopes = export_scopes(points, shown, look)
    left, middle, right = st.columns([1.2, 1.4, 2])
    with left:
        # The choice is kept by its value: a label that changes with its count (or moves to another
        # choice, as "All 240 points" does once the map is narrowed) never picks another scope.
        st.session_state[state.EXPORT_SCOPE] = st.session_state.get(state.EXPORT_SCOPE) if \
            st.session_state.get(state.EXPORT_SCOPE) in scopes else "shown"
        scope = st.radio("Export", list(scopes), key=state.EXPORT_SCOPE, label_visibility="collapsed",
                         format_func=lambda s: scopes[s][0])
        if len(scopes["shown"][1]) < len(points):
            st.caption("By default the export holds what the map shows: " + _narrowed_by(points, layout, look) + ".")
    rows = scopes.get(scope, scopes["shown"])[1]
    stem = re.sub(r"[^\w.-]+", "_", points.source).strip("_") or "embeddings"
    # Custom axes are not a saved-view method yet (embeddings.views keeps "custom" for the
    # projector's own bookmarks): their export carries no bookmark.
    bookmark = (None if layout.projection.method == "custom"
                else bookmark_for(layout, rows, look, [str(c) for c in points.table.columns]))
    with middle:
        _projector_button(points, rows, bookmark, layout, stem)
        only = rows if len(rows) < len(points) else None
        coords = (
            coordinates_csv(layout, only) if len(layout.rows) <= EAGER_ROWS else lambda: coordinates_csv(layout, only)
        )
        st.download_button(
            COORDS_LABEL, coords,
            file_name=f"{stem}_{layout.projection.method}{layout.projection.dims}d.csv", mime="text/csv",
            key=state.DOWNLOAD_COORDS, on_click="ignore",
        )
        _map_html_button(points, layout, look, stem)
        st.caption(f"{len(rows):,} vectors of width {points.vectors.shape[1]}; metadata columns: "
                   f"{', '.join(map(str, points.table.columns)) or 'none'}")
    with right:
        with st.expander("How to open these files on projector.tensorflow.org"):
            st.markdown(HOW_TO)


def _narrowed_by(points: Points, layout: Layout, look: Look) -> str:
    """What narrows the map: "the filters on module", "the isolation", "a sample"."""
    why = []
    if look.active_filters:
        why.append("the filter on " + ", ".join(f.column for f in look.active_filters))
    if look.isolated:
        why.append("the isolated points")
    if not why and len(layout.projection.coords) < len(points):
        why.append("the projection's sample")
    return " and ".join(why) or "a part of the points"


def _projector_button(points: Points, rows: np.ndarray, bookmark: View | None, layout: Layout, stem: str) -> None:
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


def map_page(points: Points, layout: Layout, look: Look) -> bytes:
    """The map on screen (its points, colour, label, search, selection and isolation) as one HTML
    file that opens from disk (embeddings.map.html_file)."""
    from embeddings.map.html_file import map_html
    from embeddings.map.layout import MapLayout

    columns = {str(c) for c in points.table.columns}
    drawn = MapLayout(points, layout.rows, layout.coords, tuple(layout.axis_titles()))  # the table's rows: positions
    name = f"{METHOD_NAMES.get(layout.projection.method, layout.projection.method)} {layout.projection.dims}D"
    return map_html(drawn, title=points.source or "Embeddings", subtitle=f"{len(layout.rows):,} points · {name}",
                    color=look.color if look.color in columns else None,
                    label=look.label if look.label in columns else None, look=owner.for_map(look)).encode("utf-8")


def _map_html_button(points: Points, layout: Layout, look: Look, stem: str) -> None:
    data = (map_page(points, layout, look) if len(layout.rows) <= EAGER_MAP_POINTS
            else lambda: map_page(points, layout, look))
    st.download_button(MAP_HTML_LABEL, data, file_name=f"{stem}_map.html", mime="text/html",
                       key=state.DOWNLOAD_MAP_HTML, on_click="ignore",
                       help="Colour, label, search, hover, zoom and selection, with no server and no network")
