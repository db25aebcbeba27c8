"""Explore: the point map (colour, labels, search, selection in the browser), the inspector, isolate.

``render_explore`` projects (cached), draws the map and the inspector beside it, acts on what the
map reports (a clicked point, a selection), and returns the Layout and the selection so the export
section can offer them. Colour, labels and search live in the map: changing them reruns nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.components.map import MapEvent, peek_event, point_map
from app.sections import counted, show_error
from app.sections.axes import AxesNeeded
from app.sections.clusters import render_clusters, with_cluster_columns, with_table
from app.sections.inspector import Inspection, render_inspector
from app.sections.projection import Layout, ProjectionParams, compute_layout
from app.sections.saved_views import NONE, forget_unknown_columns, take_pending_selection
from app.sections.table import render_filters, render_points_table
from embeddings.mapdata import is_numeric
from embeddings.points import Points
from embeddings.choices import LOOK_KEYS, METHOD_NAMES
from embeddings.reduce import MIN_POINTS


def default_color_column(table: pd.DataFrame, text_column: str | None) -> str | None:
    """The first column of a few categories (2 to 20), e.g. a sample's "topic"; else None."""
    for column in table.columns:
        if column == text_column or is_numeric(table[column]):
            continue
        if 2 <= table[column].nunique(dropna=False) <= 20:
            return str(column)
    return None


def _act_on_map_event(points_digest: str) -> None:
    """Before the inspector draws: a new click inspects that point, a new selection is stored."""
    event = peek_event(state.CHART)
    if event is None or not event.new:
        return
    if event.type == "click" and event.clicked is not None:
        rows = event.selection or [event.clicked]
        state.set_selection(points_digest, rows)
        if event.clicked in rows:
            st.session_state[state.INSPECT_POINT] = event.clicked
        st.session_state[state.QUERY] = ""  # a clicked point replaces a typed query and its highlight
    elif event.type == "select":
        state.set_selection(points_digest, event.selection)


def _initial_look() -> dict | None:
    """The look the page URL asks for (the map writes it there as it changes), and a reopened
    saved view's colour, label and search (app.sections.saved_views puts them in session state).
    The map applies it when it changes, so the browser's own choices stand between reruns."""
    look = {k: st.query_params[k] for k in LOOK_KEYS if k in st.query_params}
    for look_key, state_key in (("color", state.COLOR_BY), ("label", state.LABEL_BY), ("search", state.SEARCH)):
        if state_key in st.session_state:
            value = st.session_state[state_key]
            look[look_key] = "" if value in (None, NONE) else str(value)
    if state.SEARCH_REGEX in st.session_state:
        look["regex"] = "1" if st.session_state[state.SEARCH_REGEX] else ""
    return look or None


def look_on_screen(points: Points) -> dict:
    """The map's look as the page knows it: the default colour, then a reopened saved view's, then what
    the map last mirrored into the URL (the newest)."""
    look: dict = {"color": default_color_column(points.table, points.text_column)}
    look.update(_initial_look() or {})
    for key in ("regex", "case"):  # switches: "1" or "0"
        if key in look:
            look[key] = "1" if look[key] in ("1", "true", True) else "0"
    return {k: (None if v == "" else v) for k, v in look.items() if k != "cam"}


def _isolate(points_digest: str, rows: list[int]):
    def go() -> None:
        state.set_isolated(points_digest, rows)
        state.set_selection(points_digest, [])

    return go


def _show_all(points_digest: str):
    def go() -> None:
        state.set_isolated(points_digest, None)
        state.set_selection(points_digest, [])

    return go


def _clear_selection(points_digest: str):
    return lambda: state.set_selection(points_digest, [])


@dataclass(frozen=True, eq=False)
class Shown:
    """What the explore tab shows: the points (with any cluster columns), the layout drawn (filtered),
    the selection, and the rows the filters keep (None: no filter)."""

    points: Points
    layout: Layout
    selection: list[int]
    filtered: np.ndarray | None


def render_explore(points: Points, params: ProjectionParams, bookmarks: tuple = ()) -> Shown | None:
    take_pending_selection(points.digest)  # a reopened saved view's selection
    isolated = state.isolated(points.digest)
    # Spinners and notes stay inside this one container, so the map below keeps its place in the
    # page from run to run (a moved element is a new iframe, which would need its data again).
    with st.container():
        try:
            layout = compute_layout(points, params, isolated, bookmarks)
        except AxesNeeded as prompt:
            st.info(str(prompt))
            return None
        except Exception as error:
            show_error(error, f"Projecting with {params.describe()}")
            if isolated:
                st.button("Show all", key=state.SHOW_ALL, on_click=_show_all(points.digest))
            return None
        if layout.projection.note:
            st.info(layout.projection.note)

    clusters = render_clusters(points, layout)
    if clusters is not None:
        points = with_table(points, with_cluster_columns(points.table, layout, clusters))
        layout = replace(layout, table=points.table.iloc[layout.rows])
    # After the cluster columns join: a reopened saved view coloured by cluster keeps its colour.
    forget_unknown_columns([str(c) for c in points.table.columns])
    mask = render_filters(points.table)
    if mask is not None:
        keep = mask[layout.rows]
        layout = replace(layout, coords=layout.coords[keep], table=layout.table[keep])
    names = clusters.annotations() if clusters is not None and state.get(state.CLUSTER_NAMES_ON_MAP, True) else ()

    _act_on_map_event(points.digest)
    selection = state.selection(points.digest)
    chart_col, side_col = st.columns([3, 1.15])
    with side_col:
        inspection = render_inspector(points, selection)
    with chart_col:
        _render_map(points, layout, selection, inspection, names, clusters.labels if clusters is not None else None)
        _render_selection_actions(points, layout, selection)
    st.subheader("Points")
    render_points_table(points.digest, layout.table, selection)
    return Shown(points, layout, selection, None if mask is None else np.flatnonzero(mask))


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


def _render_map(points: Points, layout: Layout, selection: list[int], inspection: Inspection | None,
                annotations=(), clusters: np.ndarray | None = None) -> MapEvent | None:
    try:
        event = point_map(
            layout.coords, layout.table, key=state.CHART, data_id=map_data_id(points, layout, clusters),
            color_by=default_color_column(points.table, points.text_column),
            text_column=points.label_column, highlight=inspection.rows if inspection else (),
            selection=selection, focus=inspection.point if inspection else None, look=_initial_look(),
            categories_from=points.table, axis_titles=layout.axis_titles(), mirror_url=True,
            annotations=annotations,
            images=points.images,
        )
    except Exception as error:
        show_error(error, "Drawing the map")
        return None
    st.caption(_summary(points, layout))
    return event


def _summary(points: Points, layout: Layout) -> str:
    projection = layout.projection
    parts = [counted(len(layout.rows), "point"), f"{METHOD_NAMES.get(projection.method, projection.method)} {projection.dims}D"]
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


def _render_selection_actions(points: Points, layout: Layout, selection: list[int]) -> None:
    columns = st.columns(3)
    if selection:
        fewest = MIN_POINTS.get(layout.projection.method, 2)
        columns[0].button(
            f"Isolate selection ({counted(len(selection), 'point')})", key=state.ISOLATE,
            on_click=_isolate(points.digest, selection), disabled=len(selection) < fewest,
            help="Re-project only the selected points."
            + (f" {METHOD_NAMES.get(layout.projection.method, layout.projection.method)} needs at least {fewest}." if len(selection) < fewest else ""),
        )
        columns[1].button("Clear selection", key=state.CLEAR_SELECTION, on_click=_clear_selection(points.digest))
    if layout.isolated:
        columns[2].button("Show all", key=state.SHOW_ALL, on_click=_show_all(points.digest))
        st.info(f"Showing {counted(len(layout.rows), 'isolated point')}, re-projected on their own.")
    elif not selection:
        st.caption("Click a point to see its neighbours; drag with Box or Lasso to select many, "
                   "then isolate or export them.")
