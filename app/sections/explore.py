"""Explore: the point map, the inspector beside it, filters, clusters and the table of points.

``render_explore`` binds the look (app/look.py, its one owner) to the points, takes what the
map changed, projects (cached), draws the map and the inspector, and returns what is shown
(``Shown``) so the export and saved views read the same look. Colour, labels, search, selection
and isolation change in the browser at once; the map then tells the look's owner, which keeps
the URL, the table and the exports on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from app import look as owner
from app import state
from app.components.map import MapEvent, peek_event, point_map
from app.sections import counted, show_error
from app.sections.axes import AxesNeeded
from app.sections.clusters import NOT_DRAWN, render_clusters, with_cluster_columns, with_table
from app.sections.inspector import Inspection, render_inspector
from app.sections.projection import Layout, ProjectionParams, compute_layout
from app.sections.table import render_filters, render_points_table
from embeddings.choices import METHOD_NAMES
from embeddings.clusters import LABEL_COLUMN, NOISE_NAME
from embeddings.look import Look
from embeddings.points import Points
from embeddings.reduce import MIN_POINTS



@dataclass(frozen=True, eq=False)
class Shown:
    """What the explore tab shows: the points (with any cluster columns), the layout drawn
    (filtered), the look, and the row ids the map shows (filters and isolation applied)."""

    points: Points
    layout: Layout
    look: Look
    shown: np.ndarray

    @property
    def selection(self) -> list[int]:
        return list(self.look.selection)

    @property
    def narrowed(self) -> bool:
        """True when the map shows fewer than all the points (a filter, an isolation, a sample)."""
        return len(self.shown) < len(self.points)


def _inspect_what_the_map_picked(event: MapEvent | None) -> None:
    """Before the inspector draws: a new click inspects that point; a box or lasso selection
    inspects none until one is picked (the inspector says so)."""
    if event is None or not event.new:
        return
    if event.type == "click" and event.clicked is not None and event.clicked in event.selection:
        st.session_state[state.INSPECT_POINT] = event.clicked
        st.session_state[state.QUERY] = ""  # a clicked point replaces a typed query and its highlight
    elif event.type in ("click", "select"):
        st.session_state.pop(state.INSPECT_POINT, None)


def _layout(points: Points, params: ProjectionParams, look: Look, bookmarks: tuple) -> Layout | None:
    """The layout to draw: all points, or the isolated ones laid out again; on a bad parameter,
    the last good layout of these points (the map stays drawn) after one line saying why."""
    isolated = list(look.isolated) if look.reproject else None
    fewest = MIN_POINTS.get(params.method, 2)
    if isolated and len(isolated) < fewest and params.bookmark is None:
        st.info(f"{METHOD_NAMES.get(params.method, params.method)} needs at least {fewest} points to lay them out "
                f"on their own; the {counted(len(isolated), 'isolated point')} are shown in place.")
        owner.change(reproject=False)
        isolated = None
    last = st.session_state.get(state.LAST_LAYOUT)
    try:
        layout = compute_layout(points, params, isolated, bookmarks)
    except AxesNeeded as prompt:
        st.info(str(prompt))
        layout = None
    except Exception as error:
        show_error(error, f"Projecting with {params.describe()}")
        layout = None
    if layout is None:
        return last[1] if last is not None and last[0] == points.digest else None
    if layout.projection.note:
        st.info(layout.projection.note)
    st.session_state[state.LAST_LAYOUT] = (points.digest, layout)
    return layout


def render_explore(points: Points, params: ProjectionParams, bookmarks: tuple = ()) -> Shown | None:
    owner.for_points(points.digest, points.table, points.text_column)
    event = peek_event(state.CHART)
    owner.take_map_event(event, points.digest)
    _inspect_what_the_map_picked(event)
    # Notes, spinners and errors stay inside this one container, so the map below keeps its place
    # in the page from run to run (a moved element is a new iframe, which needs its data again).
    with st.container():
        for note in owner.notes():
            st.info(note)
        layout = _layout(points, params, owner.current(), bookmarks)
    if layout is None:
        return None
    frame = frame_id(points, layout)
    owner.for_frame(frame)
    clusters = render_clusters(points, layout)
    if clusters is not None:
        points = with_table(points, with_cluster_columns(points.table, layout, clusters))
        layout = replace(layout, table=points.table.iloc[layout.rows])
    mask = render_filters(points.table)
    if mask is not None:
        keep = mask[layout.rows]
        layout = replace(layout, coords=layout.coords[keep], table=layout.table[keep])
    look = owner.current()
    shown = _shown_rows(layout, look)
    names = clusters.annotations() if clusters is not None and look.clusters and look.clusters.names else ()
    chart_col, side_col = st.columns([3, 1.15])
    with side_col:
        inspection = render_inspector(points, list(look.selection))
    with chart_col:
        _render_map(points, layout, frame, look, inspection, names, clusters.labels if clusters is not None else None)
    st.subheader("Points")
    render_points_table(layout.table.loc[shown], list(look.selection))
    return Shown(points, layout, look, shown)


def _shown_rows(layout: Layout, look: Look) -> np.ndarray:
    """The row ids the map shows: the layout's (filtered), less those an isolation hides in place."""
    rows = layout.rows
    if look.isolated and not layout.isolated:
        rows = rows[np.isin(rows, np.asarray(look.isolated, dtype=np.int64))]
    return rows


def map_data_id(points: Points, layout: Layout, clusters: np.ndarray | None = None) -> str:
    """Names the coordinates, rows and columns the map shows: the browser is sent them once per id.

    Cluster columns join the table under the same points key, so their labels are part of the id.
    """
    projection = layout.projection
    parts = [layout.coords.tobytes(), layout.rows.tobytes(), "\t".join(map(str, layout.table.columns)).encode()]
    if clusters is not None:
        parts.append(np.ascontiguousarray(clusters).tobytes())
    digest = hashlib.sha1(b"|".join(parts)).hexdigest()[:16]
    return f"{points.digest}|{projection.method}|{projection.dims}|{digest}"


def frame_id(points: Points, layout: Layout) -> str:
    """Names the projection the coordinates come from: a filter or clusters keep it (and the map
    keeps its camera); another method, dimensions, parameters or isolation make a new one."""
    projection = layout.projection
    params = json.dumps(projection.params, sort_keys=True, default=str)
    isolated = hashlib.sha1(layout.rows.tobytes()).hexdigest()[:12] if layout.isolated else ""
    return f"{points.digest}|{projection.method}|{projection.dims}|{params}|{isolated}"


def _render_map(points: Points, layout: Layout, frame: str, look: Look, inspection: Inspection | None,
                annotations=(), clusters: np.ndarray | None = None) -> MapEvent | None:
    try:
        event = point_map(
            layout.coords, layout.table, key=state.CHART, data_id=map_data_id(points, layout, clusters),
            text_column=points.label_column, highlight=inspection.rows if inspection else (),
            focus=inspection.point if inspection else None, look=owner.for_map(look), look_rev=owner.revision(),
            look_seq=owner.heard(), frame_id=frame, can_reproject=True,
            categories_from=points.table, axis_titles=layout.axis_titles(), annotations=annotations,
            muted={LABEL_COLUMN: [NOISE_NAME, NOT_DRAWN]} if clusters is not None else None,
            images=points.images, live=layout.live,
        )
    except Exception as error:
        show_error(error, "Drawing the map")
        return None
    st.caption(_summary(points, layout))
    if not look.selection and not look.isolated:
        st.caption("Click a point to see its neighbours; drag with Box or Lasso to select many. Isolate shows "
                   "only the selection (the others hidden; tick re-project to lay them out again on their own).")
    return event


def _summary(points: Points, layout: Layout) -> str:
    projection = layout.projection
    parts = [counted(len(layout.rows), "point"), f"{METHOD_NAMES.get(projection.method, projection.method)} {projection.dims}D"]
    if layout.isolated:
        parts[0] = counted(len(layout.rows), "isolated point") + " laid out on their own"
    if projection.variance_explained:
        shown = ", ".join(
            f"{name} {share:.1%}" for name, share in zip(layout.axis_titles(), projection.variance_explained)
        )
        parts.append(f"variance explained: {shown} (total {sum(projection.variance_explained):.1%})")
    if projection.trustworthiness is not None:
        parts.append(f"trustworthiness {projection.trustworthiness:.3f}")
    parts.append(f"{projection.seconds:.2f} s")
    if points.model:
        parts.append(points.model)
    return " · ".join(parts)
