"""Custom axes, as in the TensorFlow projector's "Custom" tab and whatlies' projections.

The x axis runs from one point of the original space to another (a typed text encoded with the
same model, or the mean vector of the points a search matches); y likewise, or the direction of
greatest variance left once x is taken out. Each point sits at its projection onto those
directions. As in the projector, vectors are cosine-normalised first, so a point's place says
where it points, not how long it is.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from embeddings.checks import check_vectors
from embeddings.errors import InputError
from embeddings.reduce import Projection, trustworthiness_score

# Two directions closer than this (|cosine|) are one axis drawn twice: the map would be a line.
PARALLEL_COSINE = 0.999


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float64 rows scaled to length 1 (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.where(norms > 0, norms, 1.0)


def mean_of_matches(vectors: np.ndarray, matches: Sequence[bool] | np.ndarray, what: str) -> np.ndarray:
    """The mean of the (cosine-normalised) vectors a search matched: one end of an axis."""
    mask = np.asarray(matches, dtype=bool)
    if mask.shape != (len(vectors),):
        raise InputError(f"{what}: {mask.shape[0] if mask.ndim else 0} match flags for {len(vectors)} points")
    if not mask.any():
        raise InputError(f"{what}: the search matches no point, so it cannot end an axis")
    return unit_rows(np.asarray(vectors)[mask]).mean(axis=0)


def axis_direction(start: np.ndarray, end: np.ndarray, what: str) -> np.ndarray:
    """The unit direction from `start` to `end`, both cosine-normalised first."""
    start, end = (unit_rows(np.asarray(v, dtype=np.float64).ravel()) for v in (start, end))
    if start.shape != end.shape:
        raise InputError(f"{what}: its two ends have {start.size} and {end.size} dimensions")
    direction = end - start
    length = np.linalg.norm(direction)
    if length < 1e-9:
        raise InputError(f"{what}: both ends are the same direction, so the axis has no length")
    return direction / length


def custom_projection(
    vectors: np.ndarray,
    x: tuple[np.ndarray, np.ndarray],
    y: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    x_names: tuple[str, str] = ("x start", "x end"),
    y_names: tuple[str, str] | None = None,
    seed: int = 0,
) -> Projection:
    """Place (n, d) vectors on a 2D map whose axes are directions in the original space.

    x: (start, end) vectors; a point's x is the projection of its unit vector onto the unit
    direction end - start (after normalising both ends). y: likewise, or None for the first
    principal component of the unit vectors with their x part removed. The names (query texts
    or search terms) are recorded in `params`, with the cosine between the two directions (not
    forced to 0: two chosen axes may lean on each other, as in the projector).
    """
    started = time.perf_counter()
    array = check_vectors(vectors)
    if len(array) < 2:
        raise InputError(f"custom axes need at least 2 points, got {len(array)}")
    unit = unit_rows(array)
    d = unit.shape[1]
    x_dir = axis_direction(*x, what="x axis")
    if x_dir.size != d:
        raise InputError(f"x axis: its ends have {x_dir.size} dimensions, the points {d}")
    xs = unit @ x_dir
    params: dict[str, Any] = {"x": list(x_names)}
    if y is None:
        y_dir = _rest_direction(unit, x_dir, seed)
        params["y"] = "first principal component of what is left after x"
    else:
        y_dir = axis_direction(*y, what="y axis")
        if y_dir.size != d:
            raise InputError(f"y axis: its ends have {y_dir.size} dimensions, the points {d}")
        params["y"] = list(y_names or ("y start", "y end"))
    cosine = float(x_dir @ y_dir)
    if abs(cosine) > PARALLEL_COSINE:
        raise InputError("the x and y axes point the same way (cosine "
                         f"{cosine:.3f}); choose ends that differ")
    params["cosine_between_axes"] = round(cosine, 6)
    coords = np.ascontiguousarray(np.column_stack([xs, unit @ y_dir]), dtype=np.float32)
    return Projection(
        coords=coords,
        method="custom",
        dims=2,
        params=params,
        trustworthiness=trustworthiness_score(array, coords, seed=seed, metric="cosine"),
        seconds=time.perf_counter() - started,
    )


def _rest_direction(unit: np.ndarray, x_dir: np.ndarray, seed: int) -> np.ndarray:
    """The first principal component of the unit vectors once their x component is removed."""
    from sklearn.decomposition import PCA

    rest = unit - np.outer(unit @ x_dir, x_dir)
    if np.allclose(rest, rest[0]):
        raise InputError("custom axes: nothing varies once the x axis is taken out; give a y axis")
    component = PCA(1, svd_solver="full", random_state=seed).fit(rest).components_[0]
    # PCA's sign is arbitrary; fix it so the same data always draws the same way up.
    if component[np.argmax(np.abs(component))] < 0:
        component = -component
    return component
