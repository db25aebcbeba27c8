"""Clusters: find them in the original space (or on the layout), name them, colour by them.

``render_clusters`` draws the controls (minimum size, space, refined names, "Find clusters") and,
while clusters are on, returns them for the points now drawn (cached per view and options). The
original space is the default: the clusters are then the same whatever layout is drawn.
``with_cluster_columns`` adds `cluster` and `cluster_label` to the points' table, so colour,
search, the table and the exports all carry them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.sections import show_error
from app.sections.projection import View
from embeddings.clusters import (
    CLUSTER_COLUMN,
    LABEL_COLUMN,
    Clusters,
    default_min_cluster_size,
    find_clusters,
    word_encoder,
)

SPACES = {"Original space": "original", "Layout (what you see)": "layout"}
NOT_DRAWN = "(not drawn)"


def view_key(points_key: str, view: View) -> str:
    """Identifies what was clustered: the points, the projection and the rows drawn."""
    projection = view.projection
    parts = [points_key, projection.method, str(projection.dims), json.dumps(projection.params, sort_keys=True,
                                                                             default=str)]
    parts.append(hashlib.sha1(np.ascontiguousarray(view.rows).tobytes()).hexdigest()[:16])
    return "|".join(parts)


def _turn_on(points_key: str):
    def go() -> None:
        size = int(st.session_state.get(state.CLUSTER_MIN_SIZE) or 0)
        space = SPACES[st.session_state.get(state.CLUSTER_SPACE) or next(iter(SPACES))]
        refine = bool(st.session_state.get(state.CLUSTER_REFINE))
        st.session_state[state.CLUSTERS_ON] = {"points": points_key, "min_size": size or None, "space": space,
                                               "refine": refine}
        st.session_state[state.COLOR_BY] = LABEL_COLUMN  # colour by cluster in the same click

    return go


def _turn_off() -> None:
    st.session_state[state.CLUSTERS_ON] = None
    if st.session_state.get(state.COLOR_BY) in (LABEL_COLUMN, CLUSTER_COLUMN):
        del st.session_state[state.COLOR_BY]  # the column goes away; the box falls back to its default


def render_clusters(points, view: View) -> Clusters | None:
    """The controls; the clusters of the drawn points while clusters are on, else None."""
    on = st.session_state.get(state.CLUSTERS_ON)
    if on and on.get("points") != points.key:
        on = None  # other points loaded since
    n = len(view.rows)
    with st.expander("Clusters" + (" (on)" if on else ""), expanded=bool(on)):
        size_col, space_col, go_col, off_col = st.columns([1.2, 1.6, 1, 1])
        size_col.number_input(
            "Minimum cluster size", min_value=0, max_value=max(2, n), value=0, step=1, key=state.CLUSTER_MIN_SIZE,
            help=f"0 grows with the points ({default_min_cluster_size(n)} for {n:,}). Larger: fewer, bigger clusters.",
        )
        space_col.radio("Cluster in", list(SPACES), key=state.CLUSTER_SPACE, horizontal=True,
                        help="The original vectors (reduced by UMAP to 5 dimensions first): the same clusters "
                        "whatever the layout. Or the 2D/3D layout you see.")
        go_col.button("Find clusters", key=state.FIND_CLUSTERS, type="primary", on_click=_turn_on(points.key),
                      help="HDBSCAN, named by each cluster's most distinctive words; colours the map by cluster.")
        off_col.button("Remove", key=state.CLEAR_CLUSTERS, on_click=_turn_off, disabled=not on)
        can_refine = points.model is not None and points.level == "text" and points.label_column is not None
        st.checkbox("Refine names with the model", key=state.CLUSTER_REFINE, disabled=not can_refine,
                    help="Re-rank each cluster's candidate words by closeness to the cluster's centre with the "
                    "same model (a few hundred words to encode, cached)." if can_refine else
                    "Needs texts encoded by a model (these points came without one).")
        if not on:
            return None
        try:
            with st.spinner(f"Clustering {n:,} points..."):
                clusters = _clusters_cached(points, view, view_key(points.key, view), on["min_size"], on["space"],
                                            int(st.session_state.get(state.SEED) or 0),
                                            points.model if on.get("refine") and can_refine else None)
        except Exception as error:
            show_error(error, "Clustering")
            return None
        st.checkbox("Names on the map", value=True, key=state.CLUSTER_NAMES_ON_MAP)
        st.caption(_summary(clusters))
    return clusters


def _summary(clusters: Clusters) -> str:
    parts = [clusters.summary().replace(" noise (", " noise (grey, “noise”: ", 1)]
    if clusters.note:
        parts.append(clusters.note)
    return " · ".join(parts)


@st.cache_data(show_spinner=False, max_entries=16)
def _clusters_cached(_points, _view: View, key: str, min_size: int | None, space: str, seed: int,
                     refine_model: str | None = None) -> Clusters:
    """find_clusters on the drawn points, keyed on plain values (key stands for points and view).

    refine_model: the points' model spec when names are re-ranked with it, else None.
    """
    rows = _view.rows
    column = _points.label_column
    texts = None if column is None else _points.table[column].iloc[rows].astype(str).tolist()
    return find_clusters(
        texts, _view.coords, vectors=_points.vectors[rows], space=space, min_cluster_size=min_size, seed=seed,
        tokens=_points.level in ("token", "vocab"),
        encode=None if refine_model is None else word_encoder(refine_model),
    )


def with_table(points, table: pd.DataFrame):
    """The same points with the page's derived columns added to their table.

    Points.key digests the table, but cluster columns do not make other points: selections,
    isolation and the projection cache must keep their key (and hashing 100k vectors again on
    every rerun would cost a second), so the key is carried over.
    """
    shown = replace(points, table=table)
    shown.__dict__["key"] = points.key  # Points.key is a cached_property: this is its cache
    return shown


def with_cluster_columns(table: pd.DataFrame, view: View, clusters: Clusters | None) -> pd.DataFrame:
    """The whole table with `cluster` and `cluster_label`; points not drawn get <NA> / "(not drawn)"."""
    if clusters is None:
        return table
    out = table.copy()
    cluster = pd.Series(pd.NA, index=table.index, dtype="Int64")
    names = pd.Series(NOT_DRAWN, index=table.index, dtype=object)
    cluster.iloc[view.rows] = clusters.labels
    names.iloc[view.rows] = clusters.point_names()
    # The data's own columns of these names are kept under another name, never overwritten.
    out = out.rename(columns={c: f"{c} (data)" for c in (CLUSTER_COLUMN, LABEL_COLUMN) if c in out.columns})
    out[CLUSTER_COLUMN] = cluster
    out[LABEL_COLUMN] = names.astype(str)
    return out
