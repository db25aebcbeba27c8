"""Filters and the points' table, linked to the map.

``render_filters`` narrows the points by category values and numeric ranges (one mask for the
map, the table and the export). ``render_points_table`` lists the drawn points, sortable, with
the map's selection ticked; picking rows in the table makes them the selection, so the map
rings and highlights them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.sections import show_error
from embeddings.filters import category_values, filter_mask, is_range_column

MAX_CHOICES = 200  # a category column with more distinct values is filtered by search, not a list
MAX_TABLE_ROWS = 5_000  # rows sent to the browser table at once (the selection is always shown)
SELECTED = "selected"


def filterable_columns(table: pd.DataFrame) -> list[str]:
    """Numeric columns and columns of at most MAX_CHOICES distinct values."""
    return [str(c) for c in table.columns
            if is_range_column(table[c]) or table[c].astype(str).nunique() <= MAX_CHOICES]


def render_filters(table: pd.DataFrame) -> np.ndarray | None:
    """Filter widgets; a bool mask over the table's rows, or None when nothing is filtered."""
    columns = filterable_columns(table)
    with st.expander("Filters", expanded=bool(st.session_state.get(state.FILTER_COLUMNS))):
        chosen = st.multiselect("Filter by", columns, key=state.FILTER_COLUMNS,
                                help="Narrows the map, the table and the export to the rows every filter keeps.")
        chosen = [c for c in chosen if c in table.columns]
        categories: dict[str, list[str]] = {}
        ranges: dict[str, tuple[float, float]] = {}
        for column in chosen:
            values = table[column]
            if is_range_column(values):
                ranges[column] = _range_slider(column, values)
            else:
                options = category_values(values)
                categories[column] = st.multiselect(column, options, default=options,
                                                    key=state.FILTER_PREFIX + column)
        if not chosen:
            return None
        try:
            mask = filter_mask(table, categories, ranges)
        except Exception as error:
            show_error(error, "Filtering")
            return None
        st.caption(f"{int(mask.sum()):,} of {len(table):,} points pass the filters")
    return mask


def _range_slider(column: str, values: pd.Series) -> tuple[float, float]:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
    if low == high:
        st.caption(f"{column}: every value is {low:g}")
        return low, high
    whole = bool(np.all(finite == np.round(finite)))
    if whole:
        picked = st.slider(column, int(low), int(high), (int(low), int(high)), key=state.FILTER_PREFIX + column)
    else:
        picked = st.slider(column, low, high, (low, high), key=state.FILTER_PREFIX + column)
    return float(picked[0]), float(picked[1])


def _store_table_selection(points_digest: str, shown_rows: np.ndarray):
    def store() -> None:
        event = st.session_state.get(state.TABLE)
        picked = list(getattr(getattr(event, "selection", None), "rows", None) or
                      ((event or {}).get("selection") or {}).get("rows", []))
        rows = [int(shown_rows[i]) for i in picked if 0 <= i < len(shown_rows)]
        state.set_selection(points_digest, rows)

    return store


def render_points_table(points_digest: str, table: pd.DataFrame, selection: list[int]) -> None:
    """The drawn (and filtered) points; table index = row id. Picking rows selects them."""
    chosen = set(selection)
    only = st.checkbox("Only the selection", key=state.TABLE_ONLY_SELECTED, disabled=not chosen)
    ticked = np.isin(np.asarray(table.index), list(chosen))
    shown = table[ticked] if only and chosen else table
    note = ""
    if len(shown) > MAX_TABLE_ROWS:
        # The selection first, then the others in order: the rows a user acted on are never cut.
        order = np.concatenate([np.flatnonzero(ticked), np.flatnonzero(~ticked)])[:MAX_TABLE_ROWS]
        shown = table.iloc[np.sort(order)]
        note = f" (the first {MAX_TABLE_ROWS:,} of {len(table):,}, selection included; filter to narrow)"
    frame = shown.copy()
    frame.insert(0, SELECTED, np.isin(np.asarray(frame.index), list(chosen)))
    frame.index.name = "row"
    st.dataframe(
        frame, key=state.TABLE, on_select=_store_table_selection(points_digest, np.asarray(frame.index)),
        selection_mode="multi-row", width="stretch", height=360,
    )
    st.caption(f"{len(frame):,} rows{note}. Click a column to sort; tick rows to select them on the map; "
               "a box or lasso on the map ticks its rows here.")
