"""Clusters: find them in the original space (or on the layout), name them, colour by them.

``render_clusters`` draws the controls (minimum size, space, refined names, "Find clusters") and,
while the look shows clusters (app/look.py holds their settings), returns them for the points now
drawn (cached per layout and options). The original space is the default: the clusters are then
the same whatever layout is drawn.
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

from app import look as owner
from app import state
from app.look import default_color_column
from app.sections import show_error
from app.sections.projection import Layout
from embeddings.choices import CLUSTER_SPACES
from embeddings.clusters import (
    CLUSTER_COLUMN,
    LABEL_COLUMN,
    Clusters,
    default_min_cluster_size,
    find_clusters,
    word_encoder,
)
from embeddings.look import ClusterLook

# label -> space, the default (CLUSTER_SPACES[0], the original space) first
SPACES = dict(zip(("Original space", "Layout (what you see)"), CLUSTER_SPACES))
SPACE_LABELS = {space: label for label, space in SPACES.items()}
NOT_DRAWN = "(not drawn)"


def clusters_cache_key(points_digest: str, layout: Layout) -> str:
    """The cache key of a layout's clusters: the points, the projection and the rows drawn."""
    projection = layout.projection
    parts = [points_digest, projection.method, str(projection.dims), json.dumps(projection.params, sort_keys=True,
                                                                             default=str)]
    parts.append(hashlib.sha1(np.ascontiguousarray(layout.rows).tobytes()).hexdigest()[:16])
    return "|".join(parts)


def _widgets_follow_the_look(look_clusters: ClusterLook | None, n: int) -> None:
    """The controls show the look's clusters (a reopened view's too); each starts at its default."""
    if look_clusters is not None:
        st.session_state[state.CLUSTER_MIN_SIZE] = min(look_clusters.min_size or 0, max(2, n))
        st.session_state[state.CLUSTER_SPACE] = SPACE_LABELS[look_clusters.space]
        st.session_state[state.CLUSTER_NAMES_ON_MAP] = look_clusters.names
    st.session_state.setdefault(state.CLUSTER_MIN_SIZE, 0)
    st.session_state.setdefault(state.CLUSTER_SPACE, next(iter(SPACES)))
    st.session_state.setdefault(state.CLUSTER_NAMES_ON_MAP, True)


def _chosen() -> ClusterLook:
    size = int(st.session_state.get(state.CLUSTER_MIN_SIZE) or 0)
    return ClusterLook(size if size >= 2 else None, SPACES[st.session_state[state.CLUSTER_SPACE]],
                       bool(st.session_state[state.CLUSTER_NAMES_ON_MAP]))


def _turn_on() -> None:
    owner.change(clusters=_chosen(), color=LABEL_COLUMN)  # colour by cluster in the same click


def _settings_changed() -> None:
    if owner.current().clusters is not None:  # while shown, a new size, space or names apply at once
        owner.change(clusters=_chosen())


def _turn_off(default_color: str | None):
    def go() -> None:
        color = owner.current().color
        owner.change(clusters=None, color=default_color if color in (LABEL_COLUMN, CLUSTER_COLUMN) else color)

    return go


def render_clusters(points, layout: Layout) -> Clusters | None:
    """The controls; the clusters of the drawn points while the look shows clusters, else None."""
    on = owner.current().clusters
    n = len(layout.rows)
    _widgets_follow_the_look(on, n)
    with st.expander("Clusters" + (" (on)" if on else ""), expanded=bool(on)):
        size_col, space_col, go_col, off_col = st.columns([1.2, 1.6, 1, 1])
        size_col.number_input(
            "Minimum cluster size", min_value=0, max_value=max(2, n), step=1, key=state.CLUSTER_MIN_SIZE,
            on_change=_settings_changed,
            help=f"0 grows with the points ({default_min_cluster_size(n)} for {n:,}). Larger: fewer, bigger clusters.",
        )
        space_col.radio("Cluster in", list(SPACES), key=state.CLUSTER_SPACE, horizontal=True, on_change=_settings_changed,
                        help="The original vectors (reduced by UMAP to 5 dimensions first): the same clusters "
                        "whatever the layout. Or the 2D/3D layout you see.")
        go_col.button("Find clusters", key=state.FIND_CLUSTERS, type="primary", on_click=_turn_on, disabled=bool(on),
                      help="HDBSCAN, named by each cluster's most distinctive words; colours the map by cluster.")
        off_col.button("Remove", key=state.CLEAR_CLUSTERS, disabled=not on,
                       on_click=_turn_off(default_color_column(points.table, points.text_column)))
        can_refine = points.model is not None and points.level == "text" and points.label_column is not None
        refine = st.checkbox("Refine names with the model", key=state.CLUSTER_REFINE, disabled=not can_refine,
                             help="Re-rank each cluster's candidate words by closeness to the cluster's centre with "
                             "the same model (a few hundred words to encode, cached)." if can_refine else
                             "Needs texts encoded by a model (these points came without one).")
        if not on:
            return None
        try:
            with st.spinner(f"Clustering {n:,} points..."):
                clusters = _clusters_cached(points, layout, clusters_cache_key(points.digest, layout),
                                            on.min_size, on.space, int(st.session_state.get(state.SEED) or 0),
                                            points.model if refine and can_refine else None)
        except Exception as error:
            show_error(error, "Clustering")
            return None
        st.checkbox("Names on the map", key=state.CLUSTER_NAMES_ON_MAP, on_change=_settings_changed)
        st.caption(_summary(clusters))
    return clusters


def _summary(clusters: Clusters) -> str:
    parts = [clusters.summary().replace(" noise (", " noise (“noise”: grey, under the clusters, last in the legend; ", 1)]
    if clusters.note:
        parts.append(clusters.note)
    return " · ".join(parts)


@st.cache_data(show_spinner=False, max_entries=16)
def _clusters_cached(_points, _layout: Layout, key: str, min_size: int | None, space: str, seed: int,
                     refine_model: str | None = None) -> Clusters:
    """find_clusters on the drawn points, keyed on plain values (key stands for points and layout).

    refine_model: the points' model spec when names are re-ranked with it, else None.
    """
    rows = _layout.rows
    column = _points.label_column
    texts = None if column is None else _points.table[column].iloc[rows].astype(str).tolist()
    return find_clusters(
        texts, _layout.coords, vectors=_points.vectors[rows], space=space, min_cluster_size=min_size, seed=seed,
        tokens=_points.level in ("token", "vocab"),
        encode=None if refine_model is None else word_encoder(refine_model),
    )


def with_table(points, table: pd.DataFrame):
    """The same points with the page's derived columns added to their table.

    Points.digest covers the table, but cluster columns do not make other points: selections,
    isolation and the projection cache must keep their digest (and hashing 100k vectors again on
    every rerun would cost a second), so the digest is carried over.
    """
    shown = replace(points, table=table)
    shown.__dict__["digest"] = points.digest  # Points.digest is a cached_property: this is its cache
    return shown


def with_cluster_columns(table: pd.DataFrame, layout: Layout, clusters: Clusters | None) -> pd.DataFrame:
    """The whole table with `cluster` and `cluster_label`; points not drawn get <NA> / "(not drawn)"."""
    if clusters is None:
        return table
    out = table.copy()
    cluster = pd.Series(pd.NA, index=table.index, dtype="Int64")
    names = pd.Series(NOT_DRAWN, index=table.index, dtype=object)
    cluster.iloc[layout.rows] = clusters.labels
    names.iloc[layout.rows] = clusters.point_names()
    # The data's own columns of these names are kept under another name, never overwritten.
    out = out.rename(columns={c: f"{c} (data)" for c in (CLUSTER_COLUMN, LABEL_COLUMN) if c in out.columns})
    out[CLUSTER_COLUMN] = cluster
    out[LABEL_COLUMN] = names.astype(str)
    return out
