"""Filters and the points' table, linked to the map.

``render_filters`` narrows the points by category values and numeric ranges (one mask for the
map, the table and the export); the filters are the look's (app/look.py). ``render_points_table``
lists the points the map shows, sortable, with one selection column: the look's selection,
ticked; ticking rows there makes them the selection, so the map rings them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from app import look as owner
from app import state
from app.sections import show_error
from embeddings.filters import category_values, filter_mask, is_range_column
from embeddings.look import Filter

MAX_CHOICES = 200  # a category column with more distinct values is filtered by search, not a list
MAX_TABLE_ROWS = 5_000  # rows sent to the browser table at once (the selection is always shown)
SELECTED = "selected"


def filterable_columns(table: pd.DataFrame) -> list[str]:
    """Numeric columns and columns of at most MAX_CHOICES distinct values."""
    return [str(c) for c in table.columns
            if is_range_column(table[c]) or table[c].astype(str).nunique() <= MAX_CHOICES]


def _category_filter_changed(column: str):
    def changed() -> None:
        _set_filter(Filter(column, tuple(str(v) for v in st.session_state.get(state.FILTER_PREFIX + column) or ())))

    return changed


def _range_filter_changed(column: str, low: float, high: float):
    def changed() -> None:
        picked = st.session_state.get(state.FILTER_PREFIX + column) or (low, high)
        whole = float(picked[0]) <= low and float(picked[1]) >= high
        _set_filter(Filter(column) if whole else Filter(column, (), float(picked[0]), float(picked[1])))

    return changed


def _set_filter(changed: Filter) -> None:
    filters = owner.current().filters
    owner.change(filters=tuple(changed if f.column == changed.column else f for f in filters))


def _columns_changed() -> None:
    chosen = [str(c) for c in st.session_state.get(state.FILTER_COLUMNS) or ()]
    had = {f.column: f for f in owner.current().filters}
    owner.change(filters=tuple(had.get(column, Filter(column)) for column in chosen))


def render_filters(table: pd.DataFrame) -> np.ndarray | None:
    """Filter widgets, showing the look's filters; a bool mask over the table's rows, or None
    when nothing is filtered. A category filter starts empty (every value passes) and keeps only
    the values picked; a numeric one starts at the whole range."""
    columns = filterable_columns(table)
    filters = [f for f in owner.current().filters if f.column in columns]
    st.session_state[state.FILTER_COLUMNS] = [f.column for f in filters]
    with st.expander("Filters" + (" (on)" if any(f.active for f in filters) else ""), expanded=bool(filters)):
        st.multiselect("Filter by", columns, key=state.FILTER_COLUMNS, on_change=_columns_changed,
                       help="Narrows the map, the table and the export to the rows every filter keeps.")
        for flt in filters:
            if is_range_column(table[flt.column]):
                _range_slider(flt, table[flt.column])
            else:
                _category_picker(flt, table[flt.column])
        active = [f for f in filters if f.active]
        if not active:
            return None
        try:
            mask = filter_mask(table, {f.column: f.values for f in active if not f.is_range},
                               {f.column: (f.low, f.high) for f in active if f.is_range})
        except Exception as error:
            show_error(error, "Filtering")
            return None
        st.caption(f"{int(mask.sum()):,} of {len(table):,} points pass the filters")
    return mask


def _category_picker(flt: Filter, values: pd.Series) -> None:
    options = category_values(values)
    key = state.FILTER_PREFIX + flt.column
    known = set(options)
    st.session_state[key] = [v for v in flt.values if v in known]
    st.multiselect(f"{flt.column}: only these values", options, key=key, on_change=_category_filter_changed(flt.column),
                   placeholder=f"all {len(options):,} values pass: type to find the ones to keep")


def _range_slider(flt: Filter, values: pd.Series) -> None:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
    if low == high:
        st.caption(f"{flt.column}: every value is {low:g}")
        return
    whole = bool(np.all(finite == np.round(finite)))
    kind = int if whole else float
    picked = (flt.low if flt.low is not None else low, flt.high if flt.high is not None else high)
    key = state.FILTER_PREFIX + flt.column
    st.session_state[key] = (kind(max(low, min(picked[0], high))), kind(min(high, max(picked[1], low))))
    st.slider(flt.column, kind(low), kind(high), key=key, on_change=_range_filter_changed(flt.column, low, high))


def _store_ticks(key: str, rows: np.ndarray, selection: list[int]):
    def store() -> None:
        edits = (st.session_state.get(key) or {}).get("edited_rows", {})
        chosen = dict.fromkeys(selection)
        for position, change in edits.items():
            row = int(rows[int(position)])
            if change.get(SELECTED):
                chosen[row] = None
            elif SELECTED in change:
                chosen.pop(row, None)
        owner.change(selection=tuple(chosen))

    return store


def render_points_table(table: pd.DataFrame, selection: list[int]) -> None:
    """The points the map shows (table index = row id), with ONE selection column: the look's
    selection, ticked; ticking rows here selects them on the map too."""
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
    rows = np.asarray(frame.index, dtype=np.int64)
    # Drawn again (a new key) whenever the ticks it shows change elsewhere: it never shows old ones.
    key = f"{state.TABLE}:{hashlib.sha1(rows.tobytes() + frame[SELECTED].to_numpy().tobytes()).hexdigest()[:16]}"
    st.data_editor(
        frame, key=key, on_change=_store_ticks(key, rows, selection), num_rows="fixed",
        disabled=[c for c in frame.columns if c != SELECTED], width="stretch", height=360,
        column_config={SELECTED: st.column_config.CheckboxColumn(SELECTED, help="Selected on the map; tick to select")},
    )
    st.caption(f"{len(frame):,} rows{note}. Click a column to sort; tick rows to select them on the map; "
               "a click, box or lasso on the map ticks its rows here.")
