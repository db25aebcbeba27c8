"""The inspector: nearest neighbours, in the original space, of a selected point or a typed query.

``render_inspector`` draws its widgets (in whatever container the caller opened) and returns an
``Inspection`` the plot uses to highlight the point and its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.sections import counted, show_error
from embeddings.pipeline import takes_queries
from embeddings.points import Points
from embeddings.choices import METRICS
from embeddings.neighbors import Neighbors, nearest

MAX_POINT_CHOICES = 500  # selected points offered in the "Point" box
LABEL_CHARS = 300  # a neighbour's text is shown up to this long, wrapped


@dataclass(frozen=True)
class Inspection:
    point: int | None  # the row id inspected, or None for a typed query
    query: str | None
    neighbors: Neighbors

    @property
    def rows(self) -> list[int]:
        """The point (if any) and its neighbours, as row ids."""
        rows = [int(i) for i in self.neighbors.rows]
        return rows if self.point is None else [self.point, *rows]


def _label(points: Points, row: int) -> str:
    column = points.label_column
    text = f"row {row}" if column is None else str(points.table[column].iat[row])
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


@st.cache_data(show_spinner=False, max_entries=64)
def _query_vector(_points: Points, model: str, level: str, text: str) -> np.ndarray:
    """embed_query cached on plain values (the model and level stand for the points)."""
    from embeddings.pipeline import embed_query

    return embed_query(_points, text)


def _say_what_to_pick(points: Points, selection: list[int], can_query: bool) -> None:
    space = f"the original {points.vectors.shape[1]}-dimensional space"
    if selection:
        st.caption(f"{counted(len(selection), 'point')} selected: pick one above (or click one on the map) to "
                   f"list its nearest neighbours in {space}.")
    else:
        st.caption(f"Click a point, or box/lasso-select some, to list its nearest neighbours in {space}"
                   + (", or type a query." if can_query else "."))


def render_inspector(points: Points, selection: list[int]) -> Inspection | None:
    """Widgets for k, the metric and a typed query; the neighbours of the query or of a selected point."""
    st.subheader("Nearest neighbours")
    can_query = takes_queries(points)  # texts, the vocabulary, and images read by a CLIP model
    query = st.text_input(
        "Query",
        key=state.QUERY,
        placeholder="Type a text to encode" if can_query else "",
        disabled=not can_query,
        help=(
            f"Encoded on the fly with {points.model}; its neighbours are found among the points."
            if can_query
            else "Typed queries need texts or vocabulary encoded by a model, or images read by CLIP (not pixels)."
        ),
    ).strip()
    point = None
    if selection and not query:
        choices = selection[:MAX_POINT_CHOICES]
        if st.session_state.get(state.INSPECT_POINT) not in choices:
            st.session_state.pop(state.INSPECT_POINT, None)  # none picked yet: the selection stays lit on the map
        point = st.selectbox(
            "Point", choices, key=state.INSPECT_POINT, format_func=lambda r: f"{r}: {_label(points, r)}",
            index=None, placeholder=f"one of the {counted(len(selection), 'selected point')}",
        )
    left, right = st.columns(2)
    k = int(left.number_input("k", min_value=1, max_value=100, value=10, key=state.NEIGHBORS_K))
    metric = right.radio("Distance", list(METRICS), key=state.NEIGHBORS_METRIC)

    if not query and point is None:
        _say_what_to_pick(points, selection, can_query)
        return None
    try:
        if query:
            with st.spinner("Encoding the query..."):
                vector = _query_vector(points, points.model, points.level, query)
            neighbors = nearest(points.vectors, vector, k=k, metric=metric)
        else:
            neighbors = nearest(points.vectors, int(point), k=k, metric=metric)
    except Exception as error:
        show_error(error, "Finding neighbours")
        return None

    what = f"“{query}”" if query else f"point {point}"
    st.caption(f"{counted(len(neighbors.rows), 'nearest point')} to {what} by {metric} distance")
    # A static table: the text wraps, whole (up to LABEL_CHARS), beside its row and distance.
    table = pd.DataFrame(
        {
            "distance": [f"{d:.4f}" for d in neighbors.distances.astype(float)],
            "point": [_label(points, int(i)) for i in neighbors.rows],
        },
        index=pd.Index(neighbors.rows.astype(int), name="row"),
    )
    st.table(table)
    return Inspection(None if query else int(point), query or None, neighbors)
