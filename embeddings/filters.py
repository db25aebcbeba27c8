"""Filters over the points' table: keep some values of a category column, a range of a numeric one.

One mask narrows everything at once (the map, the table, the export), so they always show the
same rows. Category values are compared as the text the table shows (a missing value is
"(missing)"), so a value picked from a list always matches the rows that show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import re

import numpy as np
import pandas as pd

from embeddings.errors import InputError
from embeddings.mapdata import as_text

MISSING = "(missing)"


def category_text(values: pd.Series) -> pd.Series:
    """The cells as the text a filter list shows; missing cells as MISSING."""
    text = values.astype(str)
    return text.where(values.notna(), MISSING)


def category_values(values: pd.Series) -> list[str]:
    """The distinct values of a column as filter choices, most frequent first (ties by text)."""
    counts = category_text(values).value_counts()
    return sorted(counts.index, key=lambda value: (-counts[value], value))


def is_range_column(values: pd.Series) -> bool:
    """True for numeric columns (not booleans): those filter by a range."""
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def filter_mask(
    table: pd.DataFrame,
    categories: Mapping[str, Sequence[str]] | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> np.ndarray:
    """Bool per table row: True where every filter keeps the row.

    categories: column -> the values to keep (as category_text shows them); an empty list keeps
    nothing. ranges: column -> (low, high), both ends kept; missing numbers are dropped.
    """
    keep = np.ones(len(table), dtype=bool)
    for column, values in (categories or {}).items():
        _check_column(table, column)
        keep &= category_text(table[column]).isin([str(v) for v in values]).to_numpy()
    for column, bounds in (ranges or {}).items():
        _check_column(table, column)
        if not is_range_column(table[column]):
            raise InputError(f"column {column!r} is not numeric, so it cannot be filtered by a range")
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise InputError(f"range for {column!r} must be two numbers (low, high), not {bounds!r}") from None
        if low > high:
            raise InputError(f"range for {column!r}: low {low:g} is above high {high:g}")
        numbers = table[column].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            keep &= (numbers >= low) & (numbers <= high)
    return keep


def _check_column(table: pd.DataFrame, column: str) -> None:
    if column not in table.columns:
        raise InputError(f"no column {column!r} to filter; columns: {', '.join(map(str, table.columns))}")


def search_mask(values: pd.Series, query: str, *, regex: bool = False, case: bool = False) -> np.ndarray:
    """Bool mask of the cells that contain `query` (a substring, or a regular expression), read
    as the map shows them (missing values as MISSING). An invalid regular expression is one
    InputError line."""
    if regex:
        try:
            re.compile(query)
        except re.error as exc:
            raise InputError(f"invalid regular expression {query!r}: {exc}") from None
    return as_text(values).str.contains(query, case=case, regex=regex).to_numpy(dtype=bool)
