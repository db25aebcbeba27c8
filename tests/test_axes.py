"""Custom axes: points placed by their projection onto directions in the original space."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.axes import custom_projection, mean_of_matches
from embeddings.errors import InputError


def basis(d: int = 5) -> np.ndarray:
    return np.eye(d)


def test_x_runs_from_start_to_end_on_unit_vectors() -> None:
    e = basis()
    points = np.vstack([e[0], e[1], 7 * e[1], e[2], e[0] + e[1]])  # 7*e1: length must not matter
    proj = custom_projection(points, x=(e[0], e[1]), y=(e[2], e[3]), x_names=("cold", "hot"), y_names=("a", "b"))
    half = 1 / np.sqrt(2)
    assert proj.method == "custom" and proj.dims == 2 and proj.coords.dtype == np.float32
    assert np.allclose(proj.coords[:, 0], [-half, half, half, 0, 0], atol=1e-6)
    assert np.allclose(proj.coords[:, 1], [0, 0, 0, -half, 0], atol=1e-6)
    assert proj.params["x"] == ["cold", "hot"] and proj.params["y"] == ["a", "b"]
    assert proj.params["cosine_between_axes"] == 0.0


def test_ends_are_cosine_normalised_like_the_points() -> None:
    e = basis()
    points = np.vstack([e[0], e[1], e[2]])
    scaled = custom_projection(points, x=(10 * e[0], 0.1 * e[1]), y=(e[2], e[3]))
    plain = custom_projection(points, x=(e[0], e[1]), y=(e[2], e[3]))
    assert np.allclose(scaled.coords, plain.coords)


def test_without_y_the_second_axis_is_the_main_variation_left() -> None:
    rng = np.random.default_rng(0)
    n = 200
    # x varies along e0-e1; what is left varies most along e3 (spread 5) and a little along e4.
    points = np.zeros((n, 6))
    points[:, 5] = 10.0  # a common offset, so every vector has a comparable length
    points[:, 0] = rng.normal(size=n)
    points[:, 3] = rng.normal(scale=5, size=n)
    points[:, 4] = rng.normal(scale=0.5, size=n)
    e = basis(6)
    proj = custom_projection(points, x=(e[1], e[0]))
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    centred_e3 = unit[:, 3] - unit[:, 3].mean()
    assert abs(np.corrcoef(proj.coords[:, 1], centred_e3)[0, 1]) > 0.99
    assert abs(np.corrcoef(proj.coords[:, 0], unit[:, 0] - unit[:, 1])[0, 1]) > 0.999
    assert proj.params["y"].startswith("first principal component")
    assert abs(proj.params["cosine_between_axes"]) < 1e-9  # the rest is orthogonal to x
    again = custom_projection(points, x=(e[1], e[0]))
    assert np.array_equal(proj.coords, again.coords)


def test_mean_of_search_matches_ends_an_axis() -> None:
    e = basis()
    points = np.vstack([e[0], 2 * e[0], e[1], e[2]])
    start = mean_of_matches(points, [True, True, False, False], "x start")
    assert np.allclose(start, e[0])
    proj = custom_projection(points, x=(start, mean_of_matches(points, [False, False, True, False], "x end")),
                             y=(e[3], e[2]))
    assert proj.coords[0, 0] < 0 < proj.coords[2, 0]
    with pytest.raises(InputError, match="x end: the search matches no point"):
        mean_of_matches(points, [False] * 4, "x end")


@pytest.mark.parametrize(
    "x, y, message",
    [
        ((np.eye(5)[0], 3 * np.eye(5)[0]), None, "x axis: both ends are the same direction"),
        ((np.eye(5)[0], np.eye(5)[1]), (np.eye(5)[0], np.eye(5)[1]), "the x and y axes point the same way"),
        ((np.eye(4)[0], np.eye(4)[1]), None, "x axis: its ends have 4 dimensions, the points 5"),
    ],
)
def test_degenerate_axes_are_one_line_errors(x, y, message) -> None:
    points = np.random.default_rng(0).normal(size=(10, 5))
    with pytest.raises(InputError, match=message):
        custom_projection(points, x=x, y=y)
