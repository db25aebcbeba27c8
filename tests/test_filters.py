"""Filters over the points' table, and cluster names drawn on the plotly map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embeddings.errors import InputError
from embeddings.filters import MISSING, category_values, filter_mask, search_mask


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


def test_search_mask_substring_and_regex():
    values = pd.Series(["Apple pie", "banana", "apple", None])
    assert search_mask(values, "apple").tolist() == [True, False, True, False]
    assert search_mask(values, "^a", regex=True).tolist() == [True, False, True, False]
    assert search_mask(values, "a.p", regex=False).tolist() == [False, False, False, False]
    with pytest.raises(InputError, match="invalid regular expression"):
        search_mask(values, "(", regex=True)
