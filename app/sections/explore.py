"""Explore: the plot, with colour, labels, search, selection, the inspector beside it, isolate.

``render_explore`` projects (cached), draws the controls, the chart and the inspector, and
returns the View and the selection so the export section can offer them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.sections import show_error
from app.sections.axes import AxesNeeded
from app.sections.clusters import render_clusters, with_cluster_columns, with_table
from app.sections.inspector import Inspection, render_inspector
from app.sections.projection import ProjectionParams, View, compute_view
from app.sections.saved_views import forget_unknown_columns, take_pending_selection
from app.sections.table import render_filters, render_points_table
from embeddings.points import Points
from embeddings.errors import InputError
from embeddings.plot import is_numeric, point_indices_from_selection, scatter_figure, search_mask
from embeddings.reduce import METHOD_NAMES, MIN_POINTS, sample_indices

MAX_3D_POINTS = 50_000  # more than this in WebGL 3D turns sluggish: draw a sample
MAX_HOVER_COLUMNS = 8
NONE = "(none)"


@dataclass(frozen=True)
class Controls:
    color_by: str | None
    label_by: str | None
    matches: np.ndarray | None  # bool per table row, None when there is no search
    query: str


def default_color_column(table: pd.DataFrame, text_column: str | None) -> str | None:
    """The first column of a few categories (2 to 20), e.g. a sample's "topic"; else None."""
    for column in table.columns:
        if column == text_column or is_numeric(table[column]):
            continue
        if 2 <= table[column].nunique(dropna=False) <= 20:
            return str(column)
    return None


def _render_controls(points: Points) -> Controls:
    table = points.table
    columns = [str(c) for c in table.columns]
    colour_col, label_col, search_col, in_col, regex_col = st.columns([1.1, 1.1, 2, 1.1, 0.6])
    default = default_color_column(table, points.text_column)
    options = [NONE, *columns]
    # A value set through session state (Find clusters colours by cluster) must not meet a default index.
    preset = st.session_state.get(state.COLOR_BY) in options
    color_by = colour_col.selectbox(
        "Colour by", options, index=None if preset else (options.index(default) if default else 0), key=state.COLOR_BY
    )
    label_by = label_col.selectbox("Label by", options, key=state.LABEL_BY,
                                   help="Text beside the points (up to 1,000 points, else the highlighted ones).")
    query = search_col.text_input("Search", key=state.SEARCH, placeholder="substring, or a regex")
    search_in = points.label_column if points.label_column in columns else (columns[0] if columns else None)
    column = in_col.selectbox("in column", columns or [NONE], index=columns.index(search_in) if search_in else 0,
                              key=state.SEARCH_COLUMN)
    regex = regex_col.checkbox("Regex", key=state.SEARCH_REGEX)
    matches = None
    if query and columns:
        try:
            matches = search_mask(table[column], query, regex=regex)
        except InputError as error:
            show_error(error)
    return Controls(
        None if color_by == NONE else color_by,
        None if label_by == NONE else label_by,
        matches,
        query,
    )


def _on_select(points_key: str):
    def store() -> None:
        event = st.session_state.get(state.CHART)
        state.set_selection(points_key, point_indices_from_selection(event))

    return store


def _isolate(points_key: str, rows: list[int]):
    def go() -> None:
        state.set_isolated(points_key, rows)
        state.set_selection(points_key, [])

    return go


def _show_all(points_key: str):
    def go() -> None:
        state.set_isolated(points_key, None)
        state.set_selection(points_key, [])

    return go


def _clear_selection(points_key: str):
    return lambda: state.set_selection(points_key, [])


@dataclass(frozen=True, eq=False)
class Shown:
    """What the explore tab shows: the points (with any cluster columns), the view drawn (filtered),
    the selection, and the rows the filters keep (None: no filter)."""

    points: Points
    view: View
    selection: list[int]
    filtered: np.ndarray | None


def render_explore(points: Points, params: ProjectionParams, bookmarks: tuple = ()) -> Shown | None:
    take_pending_selection(points.key)  # a reopened view's selection
    isolated = state.isolated(points.key)
    try:
        view = compute_view(points, params, isolated, bookmarks)
    except AxesNeeded as prompt:
        st.info(str(prompt))
        return None
    except Exception as error:
        show_error(error, f"Projecting with {params.describe()}")
        if isolated:
            st.button("Show all", key=state.SHOW_ALL, on_click=_show_all(points.key))
        return None
    if view.projection.note:
        st.info(view.projection.note)

    clusters = render_clusters(points, view)
    if clusters is not None:
        points = with_table(points, with_cluster_columns(points.table, view, clusters))
        view = replace(view, table=points.table.iloc[view.rows])
    # After the cluster columns join: a reopened view coloured by cluster keeps its colour.
    forget_unknown_columns([str(c) for c in points.table.columns])
    mask = render_filters(points.table)
    if mask is not None:
        keep = mask[view.rows]
        view = replace(view, coords=view.coords[keep], table=view.table[keep])
    names = clusters.annotations() if clusters is not None and state.get(state.CLUSTER_NAMES_ON_MAP, True) else None

    controls = _render_controls(points)
    selection = state.selection(points.key)
    chart_col, side_col = st.columns([3, 1.15])
    with side_col:
        inspection = render_inspector(points, selection, selectable=params.dims == 2)
    with chart_col:
        _render_chart(points, view, controls, selection, inspection, names)
        _render_selection_actions(points, view, selection)
    st.subheader("Points")
    render_points_table(points.key, view.table, selection)
    return Shown(points, view, selection, None if mask is None else np.flatnonzero(mask))


def _render_chart(
    points: Points, view: View, controls: Controls, selection: list[int], inspection: Inspection | None,
    annotations: list[dict] | None = None,
) -> None:
    coords, table = view.coords, view.table
    if view.projection.dims == 3 and len(table) > MAX_3D_POINTS:
        if not st.checkbox(f"Draw all {len(table):,} points in 3D (slow)", key=state.DRAW_ALL_3D):
            st.warning(f"3D draws a random sample of {MAX_3D_POINTS:,} of the {len(table):,} points, "
                       "to stay responsive; 2D draws them all.")
            keep = sample_indices(len(table), MAX_3D_POINTS, 0)
            coords, table = coords[keep], table.iloc[keep]

    # Search wins the highlight; otherwise the selection and the inspected neighbourhood stay
    # bright. Rings mark the neighbourhood (or, with nothing inspected, the selection).
    rows = np.asarray(table.index, dtype=np.int64)
    highlight = None
    focus_rows = set(selection) | set(inspection.rows if inspection else [])
    if controls.matches is not None:
        highlight = controls.matches[rows]
    elif focus_rows:
        highlight = np.isin(rows, list(focus_rows))
    marked = inspection.rows if inspection is not None else selection

    hover = _hover_columns(points)
    try:
        figure = scatter_figure(
            coords, table,
            color_by=controls.color_by, label_by=controls.label_by, hover_columns=hover,
            highlight=highlight, selected=marked or None,
            focus=inspection.point if inspection is not None else None,
            axis_titles=view.axis_titles(), uirevision=f"{points.key}|{view.projection.method}|{view.projection.dims}",
            annotations=annotations,
        )
    except Exception as error:
        show_error(error, "Drawing the plot")
        return
    if view.projection.dims == 2:
        st.plotly_chart(
            figure, key=state.CHART, on_select=_on_select(points.key), selection_mode=("points", "box", "lasso"),
            width="stretch", config={"scrollZoom": True, "displaylogo": False},
        )
    else:
        st.plotly_chart(figure, key=state.CHART, width="stretch", config={"displaylogo": False})
    st.caption(_summary(points, view, len(table), controls))


def _hover_columns(points: Points) -> list[str]:
    columns = [str(c) for c in points.table.columns]
    first = points.label_column
    ordered = ([first] if first in columns else []) + [c for c in columns if c != first]
    return ordered[:MAX_HOVER_COLUMNS]


def _summary(points: Points, view: View, drawn: int, controls: Controls) -> str:
    projection = view.projection
    parts = [f"{drawn:,} points", f"{METHOD_NAMES.get(projection.method, projection.method)} {projection.dims}D"]
    if projection.variance_explained:
        shown = ", ".join(
            f"{name} {share:.1%}" for name, share in zip(view.axis_titles(), projection.variance_explained)
        )
        parts.append(f"variance explained: {shown} (total {sum(projection.variance_explained):.1%})")
    if projection.trustworthiness is not None:
        parts.append(f"trustworthiness {projection.trustworthiness:.3f}")
    parts.append(f"{projection.seconds:.2f} s")
    if points.model:
        parts.append(points.model)
    if controls.matches is not None:
        parts.append(f"{int(controls.matches.sum()):,} match “{controls.query}”")
    return " · ".join(parts)


def _render_selection_actions(points: Points, view: View, selection: list[int]) -> None:
    columns = st.columns(3)
    if selection:
        fewest = MIN_POINTS.get(view.projection.method, 2)
        columns[0].button(
            f"Isolate selection ({len(selection):,} points)", key=state.ISOLATE,
            on_click=_isolate(points.key, selection), disabled=len(selection) < fewest,
            help="Re-project only the selected points."
            + (f" {METHOD_NAMES.get(view.projection.method, view.projection.method)} needs at least {fewest}." if len(selection) < fewest else ""),
        )
        columns[1].button("Clear selection", key=state.CLEAR_SELECTION, on_click=_clear_selection(points.key))
    if view.isolated:
        columns[2].button("Show all", key=state.SHOW_ALL, on_click=_show_all(points.key))
        st.info(f"Showing {len(view.rows):,} isolated points, re-projected on their own.")
    elif not selection and view.projection.dims == 2:
        st.caption("Click a point to see its neighbours; pick box or lasso select in the chart toolbar to select many, then isolate or export them.")
