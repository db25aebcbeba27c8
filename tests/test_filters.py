"""Filters over the points' table, and cluster names drawn on the plotly map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embeddings.errors import InputError
from embeddings.filters import MISSING, category_values, filter_mask
from embeddings.plot import scatter_figure


def table() -> pd.DataFrame:
    return pd.DataFrame({
        "topic": ["a", "b", "a", None, "c", "a"],
        "score": [0.5, 2.0, np.nan, 1.0, 3.5, 1.5],
        "cluster": [0, 1, 0, -1, 1, 0],
    })


def test_categories_and_ranges_narrow_together() -> None:
    frame = table()
    assert filter_mask(frame).all()
    assert filter_mask(frame, {"topic": ["a", MISSING]}).tolist() == [True, False, True, True, False, True]
    assert filter_mask(frame, ranges={"score": (1.0, 2.0)}).tolist() == [False, True, False, True, False, True]
    both = filter_mask(frame, {"topic": ["a"]}, {"score": (1.0, 2.0)})
    assert both.tolist() == [False, False, False, False, False, True]
    assert not filter_mask(frame, {"topic": []}).any()  # nothing picked keeps nothing
    # numbers filter as the text the list shows them with
    assert filter_mask(frame, {"cluster": ["-1"]}).tolist() == [False, False, False, True, False, False]


def test_category_values_most_frequent_first() -> None:
    assert category_values(table()["topic"]) == ["a", MISSING, "b", "c"]


@pytest.mark.parametrize("categories, ranges, message", [
    ({"nope": ["a"]}, None, "no column 'nope' to filter"),
    (None, {"topic": (0, 1)}, "column 'topic' is not numeric"),
    (None, {"score": (3, 1)}, "low 3 is above high 1"),
    (None, {"score": ("x", 1)}, "must be two numbers"),
])
def test_bad_filters_are_one_line_errors(categories, ranges, message) -> None:
    with pytest.raises(InputError, match=message):
        filter_mask(table(), categories, ranges)


def test_cluster_names_are_drawn_as_annotations_in_2d_and_3d() -> None:
    frame = table()
    coords = np.arange(12, dtype=np.float32).reshape(6, 2)
    notes = [{"x": 1.0, "y": 2.0, "text": "goal, match <b>"}, {"x": 5, "y": 6, "text": "rain"}]
    figure = scatter_figure(coords, frame, color_by="topic", annotations=notes)
    drawn = figure.layout.annotations
    assert [(a.x, a.y, a.text) for a in drawn] == [(1.0, 2.0, "goal, match &lt;b&gt;"), (5.0, 6.0, "rain")]
    assert all(a.showarrow is False for a in drawn)
    coords3 = np.arange(18, dtype=np.float32).reshape(6, 3)
    figure3 = scatter_figure(coords3, frame, annotations=[{"x": 1, "y": 2, "z": 3, "text": "stars"}])
    assert [(a.x, a.y, a.z, a.text) for a in figure3.layout.scene.annotations] == [(1, 2, 3, "stars")]
    with pytest.raises(InputError, match="an annotation needs numeric x, y"):
        scatter_figure(coords, frame, annotations=[{"x": 1, "text": "no y"}])
