"""The projection panel: method, dimensions, seed and each method's parameters; cached results.

``render_projection_panel`` draws the sidebar widgets and returns ``ProjectionParams``.
``compute_layout`` runs (or recalls) the projection of all points, or of the isolated ones, and
returns a ``Layout``: what the map draws. Projections are cached with st.cache_data on plain
values (the points' digest, the rows' digest and the parameters), so recolouring, labelling,
searching or selecting never recomputes one.

A UMAP or t-SNE layout that is not cached forms in front of the person (when the app's server
has the live routes, ``app.live``): it is computed by an
``embeddings.live.LiveProjection`` in a thread of its own, one per session, and until it is done
the Layout is the newest frame, with ``live`` telling the map where to follow it. The map reruns
the page when the layout is done or stopped; a done one is then the cached projection (watching
leaves the result as it would be unwatched, so it is the same cache entry).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app import live as live_route
from embeddings.live import LIVE_METHODS, LiveProjection
from embeddings.points import Points
from app.sections.axes import axis_titles, custom_for, render_axes_inputs
from embeddings.choices import METHOD_NAMES, UMAP_METRICS
from embeddings.reduce import INTERACTIVE_LIMITS, MIN_POINTS, Projection, project

METHOD_LABELS = {name: method for method, name in METHOD_NAMES.items()}  # "PCA" -> "pca"
MAX_PCA_CHOICES = 10  # components offered per axis


@dataclass(frozen=True)
class ProjectionParams:
    method: str
    dims: int
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    max_points: int | None = None  # None: the method's interactive limit
    bookmark: int | None = None  # show this projector bookmark's coordinates instead of computing

    def describe(self) -> str:
        name = f"{METHOD_NAMES.get(self.method, self.method)} {self.dims}D"
        return name if self.bookmark is None else f"bookmark {self.bookmark + 1} ({name})"


@dataclass(frozen=True, eq=False)
class Layout:
    """What the map draws: a projection's coordinates and the table rows they belong to (table
    index = row id)."""

    coords: np.ndarray
    table: pd.DataFrame
    projection: Projection
    isolated: bool
    live: dict | None = None  # a layout still forming: where the map follows it (point_map's live=)

    @property
    def rows(self) -> np.ndarray:
        return np.asarray(self.table.index, dtype=np.int64)

    def axis_titles(self) -> list[str]:
        if self.projection.method == "custom":
            return axis_titles(self.projection)
        if self.projection.method == "pca":
            components = self.projection.params.get("components") or range(self.projection.dims)
            return [f"PC{int(c) + 1}" for c in components]
        name = METHOD_NAMES.get(self.projection.method, self.projection.method)
        return [f"{name} {i + 1}" for i in range(self.projection.dims)]


def render_projection_panel(n_points: int, width: int, bookmarks: tuple = (), can_encode: bool = False
                            ) -> ProjectionParams:
    """Sidebar widgets; n_points and width (vector dimensions) bound the choices. With projector
    bookmarks (embeddings.views.View), one of them may be shown as it is instead. can_encode: typed
    texts can be encoded (custom axes)."""
    from app.sections.saved_views import chosen_bookmark

    st.header("Projection")
    bookmark = chosen_bookmark(bookmarks)
    if bookmark is not None:
        marked = bookmarks[bookmark]
        st.caption(f"{METHOD_NAMES.get(marked.method, marked.method)} {marked.dims}D as the bookmark placed the points.")
        return ProjectionParams(marked.method, marked.dims, marked.seed, dict(marked.params), bookmark=bookmark)
    label = st.selectbox("Method", list(METHOD_LABELS), key=state.METHOD,
                         help="Custom: axes between two texts (or two searches) of your choice.")
    method = METHOD_LABELS[label]
    dims = int(st.radio("Dimensions", [2, 3], horizontal=True, key=state.DIMS, disabled=method == "custom"))
    seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=state.SEED))
    params: dict[str, Any] = {}
    if method == "custom":
        return ProjectionParams(method, 2, seed, render_axes_inputs(can_encode))
    if method == "pca":
        params["components"] = _pca_axes(dims, n_points, width)
    elif method == "umap":
        params["n_neighbors"] = int(st.slider("Neighbours", 2, 200, 15, key=state.UMAP_NEIGHBORS,
                                              help="Larger keeps more of the global structure."))
        params["min_dist"] = float(st.slider("Minimum distance", 0.0, 0.99, 0.1, 0.01, key=state.UMAP_MIN_DIST))
        params["metric"] = st.selectbox("Metric", list(UMAP_METRICS), index=list(UMAP_METRICS).index("cosine")
                                        if "cosine" in UMAP_METRICS else 0, key=state.UMAP_METRIC)
    else:
        params["perplexity"] = float(st.slider("Perplexity", 2, 100, 30, key=state.TSNE_PERPLEXITY))
        rate = st.select_slider("Learning rate", ["auto", 10, 50, 100, 200, 500, 1000], value="auto",
                                key=state.TSNE_LEARNING_RATE)
        params["learning_rate"] = rate if rate == "auto" else float(rate)
        params["n_iter"] = int(st.slider("Iterations", 250, 2000, 500, 50, key=state.TSNE_ITERATIONS))

    max_points = None
    limit = INTERACTIVE_LIMITS.get(method)
    if limit is not None and n_points > limit:
        st.warning(
            f"{METHOD_NAMES[method]} is interactive up to {limit:,} points; it runs on a random "
            f"sample of {limit:,} of the {n_points:,} points (seeded)."
        )
        if st.checkbox(f"Use all {n_points:,} points (slow)", key=state.USE_ALL_POINTS):
            max_points = n_points
    return ProjectionParams(method, dims, seed, params, max_points)


def _pca_axes(dims: int, n_points: int, width: int) -> tuple[int, ...]:
    available = max(1, min(MAX_PCA_CHOICES, width, n_points))
    options = list(range(available))
    st.caption("Principal component on each axis")
    # Two to a row, so a select box is wide enough to show its "PC3" (three in a row showed "PC…").
    columns = st.columns(2) + (st.columns(2)[:1] if dims == 3 else [])
    chosen = []
    for axis, column in zip("xyz"[:dims], columns):
        default = min("xyz".index(axis), available - 1)
        if st.session_state.get(f"{state.PCA_AXES}_{axis}", 0) not in options:  # a reopened view of wider data
            st.session_state.pop(f"{state.PCA_AXES}_{axis}")
        chosen.append(
            column.selectbox(
                axis.upper(), options, index=default, format_func=lambda c: f"PC{c + 1}",
                key=f"{state.PCA_AXES}_{axis}",
            )
        )
    return tuple(int(c) for c in chosen)


@st.cache_data(show_spinner=False, max_entries=24)
def _project_cached(
    _vectors: np.ndarray, vectors_digest: str, method: str, dims: int, seed: int, params_json: str,
    max_points: int | None, _watched: Any = None,
) -> Projection:
    """project() keyed on plain values; _vectors is not hashed (vectors_digest stands for it).
    _watched (not hashed either): the projection from a LiveProjection instead, or LayoutForming."""
    if _watched is not None:
        return _watched()
    return project(_vectors, method, dims, seed=seed, max_points=max_points, **_params(params_json))


def _params(params_json: str) -> dict[str, Any]:
    params = json.loads(params_json)
    if "components" in params:
        params["components"] = tuple(params["components"])
    return params


class LayoutForming(Exception):
    """The layout is not done yet (an exception, so st.cache_data keeps nothing for it)."""

    def __init__(self, run: LiveProjection, address: str) -> None:
        super().__init__("the layout is still forming")
        self.run, self.address = run, address


def _cancel_other_run(key: tuple | None) -> None:
    """One layout forms per session, the one asked for: a run for any other layout is cancelled."""
    held = st.session_state.get(state.LIVE_RUN)
    if held is not None and held[0] != key:
        held[1].cancel()
        live_route.withdraw(held[2])
        del st.session_state[state.LIVE_RUN]


def _session_run(key: tuple, vectors: np.ndarray, params: ProjectionParams) -> tuple[LiveProjection, str]:
    """This session's run for `key`, started when there is none."""
    held = st.session_state.get(state.LIVE_RUN)
    if held is not None and held[0] == key and (held[1].state not in ("failed", "cancelled") or held[1].reached):
        return held[1], held[2]  # (a stopped run that waited too long still stands for the layout it reached)
    _cancel_other_run(None)
    run = LiveProjection(vectors, params.method, params.dims, seed=params.seed, max_points=params.max_points,
                         **params.params).start()
    address = live_route.publish(run)
    st.session_state[state.LIVE_RUN] = (key, run, address)
    return run, address


def _watch(key: tuple, vectors: np.ndarray, params: ProjectionParams):
    """The projection when this session's run for `key` is done; raises LayoutForming before that
    (and what the run raised, e.g. an InputError, when it failed)."""
    def watched() -> Projection:
        run, address = _session_run(key, vectors, params)
        if run.state in ("done", "failed"):
            st.session_state.pop(state.LIVE_RUN, None)
            live_route.withdraw(address)
            return run.result()
        raise LayoutForming(run, address)

    return watched


def _first_frame(run: LiveProjection, params: ProjectionParams) -> None:
    """Until the first frame (neighbours, affinities, the starting layout): a progress bar."""
    if run.state != "preparing":
        return
    bar = st.progress(0.0, text=f"{params.describe()}: finding each point's neighbours...")
    while run.state == "preparing":
        run.wait(0, 0.25)
        done, total = run.progress
        bar.progress(min(1.0, done / max(total, 1)), text=f"{params.describe()}: finding each point's neighbours...")
    bar.empty()


def _forming(points: Points, rows: np.ndarray, forming: LayoutForming, params: ProjectionParams,
             isolated: bool) -> Layout:
    """The Layout of a layout forming: its newest frame (stopped: the layout reached, measured)."""
    run = forming.run
    _first_frame(run, params)
    snap = run.snapshot()
    if snap["state"] in ("done", "failed"):
        st.rerun()  # finished while the first frame was awaited: the next run reads the result
    stopped = run.reached if snap["state"] in ("stopped", "cancelled") else None
    if stopped is not None:
        projection = stopped
    else:
        projection = replace(snap["frame"].projection(measure=False),
                             note=f"{METHOD_NAMES[params.method]} is forming: the map follows it; Pause, "
                                  "Resume and Stop are above the map.")
    # A stopped run that waited past its limit can no longer resume: its layout stays, the bar goes.
    live = None if snap["state"] == "cancelled" else {**run.status(snap), "url": forming.address}
    drawn = rows[projection.rows]
    return Layout(projection.coords, points.table.iloc[drawn], projection, isolated, live=live)


def compute_layout(
    points: Points, params: ProjectionParams, isolated: list[int] | None = None, bookmarks: tuple = ()
) -> Layout:
    """Project all points, or only the isolated rows; raises InputError on bad parameters. A
    bookmark's coordinates are drawn as they are (its own rows)."""
    if params.bookmark is not None and params.bookmark < len(bookmarks):
        _cancel_other_run(None)
        projection = bookmarks[params.bookmark].projection
        return Layout(projection.coords, points.table.iloc[projection.rows], projection, False)
    rows = np.arange(len(points)) if not isolated else np.asarray(sorted(set(isolated)), dtype=np.int64)
    vectors = points.vectors if not isolated else points.vectors[rows]
    digest = points.digest if not isolated else f"{points.digest}|rows:{hashlib.sha1(rows.tobytes()).hexdigest()[:16]}"
    if len(rows) < MIN_POINTS[params.method]:
        from embeddings.errors import InputError

        raise InputError(
            f"{METHOD_NAMES[params.method]} needs at least {MIN_POINTS[params.method]} points; "
            f"{len(rows)} {'are isolated' if isolated else 'are loaded'}"
        )
    with st.spinner(f"Projecting {len(rows):,} points with {params.describe()}..."):
        key = (digest, params.method, params.dims, params.seed, json.dumps(params.params, sort_keys=True),
               params.max_points)
        _cancel_other_run(key)
        if params.method == "custom":
            projection = custom_for(points, rows, digest, params.params, params.seed)
            return Layout(projection.coords, points.table.iloc[rows], projection, bool(isolated))
        watched = _watch(key, vectors, params) if params.method in LIVE_METHODS and live_route.served() else None
        try:
            projection = _project_cached(vectors, *key, _watched=watched)
        except LayoutForming as forming:
            return _forming(points, rows, forming, params, bool(isolated))
    drawn = rows[projection.rows]
    return Layout(projection.coords, points.table.iloc[drawn], projection, bool(isolated))
