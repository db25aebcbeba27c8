"""bookmarks.txt for the projector: our views as its saved states, so it shows our layout.

The projector's bookmark file is a JSON list of its ``State`` objects (vz_projector/data.ts).
``loadState`` copies each state's ``projections`` (one object per point, keys such as ``pca-0``,
``umap-2``, ``tsne-1``) onto the points, filters to ``filteredPoints`` first when it is not
null, and draws the ``selectedProjection`` from those keys without computing anything (PCA and
UMAP; for t-SNE it continues optimising from our layout, as with its own bookmarks: its Pause
button stops it). ``restoreUIFromBookmark`` reads the PCA components, t-SNE perplexity,
learning rate (log10, the slider's value) and 3D switch, UMAP neighbours, minimum distance and
3D switch, and the custom-projection texts, so every one is written. A view laid out on a
sample (UMAP / t-SNE above the interactive limit) is written with ``filteredPoints`` = the
sampled rows, which is how the projector itself keeps a subset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from embeddings.errors import InputError
from embeddings.choices import METHOD_NAMES
from embeddings.views import View

BOOKMARKS_FILE = "bookmarks.txt"
NO_COLOR = "No color map"  # the projector's colour option for "no colouring"
# The projector's defaults where a view has no value of its own (vz-projector-projections-panel).
DEFAULT_PERPLEXITY = 30
DEFAULT_LEARNING_RATE_EXPONENT = 1  # its slider: -3..2, the rate is 10 ** value
DEFAULT_UMAP_NEIGHBORS = 15
DEFAULT_UMAP_MIN_DIST = 0.1
# scatterPlot.ts makeDefaultCameraDef: the whole layout in view.
CAMERA_2D = {"orthographic": True, "position": [0, 0, 4], "target": [0, 0, 0], "zoom": 1}
CAMERA_3D = {"orthographic": False, "position": [0.45, 0.9, 1.6], "target": [0, 0, 0], "zoom": 1}


def coordinate_keys(view: View) -> list[str]:
    """The projection keys the projector draws this view from (getProjectionComponents)."""
    if view.method == "pca":
        components = view.params.get("components") or list(range(view.dims))
        return [f"pca-{int(c)}" for c in components]
    if view.method == "custom":
        return ["linear-x", "linear-y"]
    return [f"{view.method}-{j}" for j in range(view.dims)]


def _learning_rate_exponent(rate: Any) -> int:
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
        return int(min(2, max(-3, round(math.log10(rate)))))
    return DEFAULT_LEARNING_RATE_EXPONENT  # openTSNE's "auto" has no slider value: the projector's default


def bookmark_state(view: View, shape: tuple[int, int], columns: Mapping[str, str]) -> dict[str, Any]:
    """One projector State for a view with coordinates; `columns` maps our column names to the projector's."""
    projection = view.projection
    where = f"view {view.name!r}" if view.name else f"{view.method} view"
    if projection is None:
        raise InputError(f"{where}: has no coordinates to bookmark")
    n, d = shape
    coords = np.asarray(projection.coords, dtype=np.float32)
    keys = coordinate_keys(view)
    if coords.ndim != 2 or coords.shape[1] != len(keys):
        raise InputError(f"{where}: coordinates of shape {coords.shape} do not match {view.dims}D {view.method}")
    rows = None if projection.subset_rows is None else np.asarray(projection.subset_rows, dtype=np.int64)
    if rows is None and len(coords) != n:
        raise InputError(f"{where}: {len(coords)} coordinates for {n} points")
    if rows is not None and (len(rows) != len(coords) or rows.min(initial=0) < 0 or rows.max(initial=0) >= n):
        raise InputError(f"{where}: its rows do not match its {len(coords)} coordinates of {n} points")
    if not np.isfinite(coords).all():
        raise InputError(f"{where}: has coordinates that are not finite")
    for what, column in (("colour", view.look.color), ("label", view.look.label)):
        if column is not None and column not in columns:
            raise InputError(f"{where}: {what} column {column!r} is not among the metadata columns")
    position = {int(r): i for i, r in enumerate(rows)} if rows is not None else None
    selected = [int(r) for r in view.look.selection if 0 <= r < n] if position is None else [
        position[r] for r in view.look.selection if r in position]
    values = coords.astype(np.float64).tolist()  # float64 of each float32: JSON keeps it exactly
    names = list(columns.values())
    label_column = columns.get(view.look.label) if view.look.label else (names[0] if names else None)
    params = view.params
    return {
        "label": view.name or f"{METHOD_NAMES.get(view.method, view.method)} {view.dims}D",
        "isSelected": False,
        "selectedProjection": view.method,
        "dataSetDimensions": [int(n), int(d)],
        "tSNEIteration": int(params.get("n_iter", 0)) if view.method == "tsne" else 0,
        "tSNEPerplexity": params.get("perplexity", DEFAULT_PERPLEXITY) if view.method == "tsne" else DEFAULT_PERPLEXITY,
        "tSNELearningRate": _learning_rate_exponent(params.get("learning_rate")) if view.method == "tsne"
        else DEFAULT_LEARNING_RATE_EXPONENT,
        "tSNEis3d": view.dims == 3,
        "umapIs3d": view.dims == 3,
        "umapNeighbors": params.get("n_neighbors", DEFAULT_UMAP_NEIGHBORS) if view.method == "umap"
        else DEFAULT_UMAP_NEIGHBORS,
        "umapMinDist": params.get("min_dist", DEFAULT_UMAP_MIN_DIST) if view.method == "umap" else DEFAULT_UMAP_MIN_DIST,
        "pcaComponentDimensions": [int(c) for c in (params.get("components") or range(view.dims))]
        if view.method == "pca" else list(range(view.dims)),
        "customSelectedSearchByMetadataOption": label_column or "",
        "customXLeftText": "", "customXLeftRegex": False, "customXRightText": "", "customXRightRegex": False,
        "customYUpText": "", "customYUpRegex": False, "customYDownText": "", "customYDownRegex": False,
        "projections": [dict(zip(keys, point)) for point in values],
        "filteredPoints": None if rows is None else rows.tolist(),
        "selectedPoints": selected,
        "shuffledDataIndices": None,  # null: the projector keeps its own shuffle
        "cameraDef": dict(CAMERA_3D if view.dims == 3 else CAMERA_2D),
        "selectedColorOptionName": columns[view.look.color] if view.look.color else NO_COLOR,
        "forceCategoricalColoring": False,
        "selectedLabelOption": label_column,
    }


def bookmarks_bytes(views: Sequence[View], shape: tuple[int, int], columns: Mapping[str, str]) -> bytes:
    """bookmarks.txt: the JSON list of one State per view."""
    states = [bookmark_state(view, shape, columns) for view in views]
    return (json.dumps(states, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
