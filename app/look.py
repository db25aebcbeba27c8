"""The one owner of the Explore tab's look: what a person set, held in one place.

The look (``embeddings.look.Look``: colour, label, search, selection, isolation, filters,
clusters, density, camera) lives here, in one session-state value, and nowhere else:

- the map (in the browser) shows it and reports every change made there (``take_map_event``:
  only the keys that changed); the page's own controls (filters, clusters, the points table,
  a reopened view) change it with ``change``, which bumps its revision so the map takes it;
- the page URL, saved views, the points table and the exports read it (``current``).

It is bound to the points it was made for (``for_points``): its row ids (selection, isolation)
belong to those points. A new projection of the same points (another method, dimensions or
parameters) keeps it whole; other points keep what still applies (their columns) and clear the
rest visibly, with a note saying so. A look from a link or a saved view waits, unbound, for the
first points that load.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from app import state
from embeddings.clusters import CLUSTER_COLUMN, LABEL_COLUMN
from embeddings.errors import InputError
from embeddings.look import Look
from embeddings.mapdata import is_numeric

# The look's keys the map shows and changes itself (core/look.js LOOK_KEYS); filters and clusters are the page's.
MAP_KEYS = ("color", "label", "search", "search_in", "regex", "case", "sel", "iso", "reproject", "density", "cam")


def default_color_column(table: pd.DataFrame, text_column: str | None) -> str | None:
    """The first column of a few categories (2 to 20), e.g. a sample's "topic"; else None."""
    for column in table.columns:
        if column == text_column or is_numeric(table[column]):
            continue
        if 2 <= table[column].nunique(dropna=False) <= 20:
            return str(column)
    return None


def current() -> Look:
    """The look on screen."""
    return st.session_state.get(state.LOOK) or Look()


def revision() -> int:
    """Grows whenever the page changed the look itself (the map then takes it)."""
    return int(st.session_state.get(state.LOOK_REV, 0))


def heard() -> int:
    """The number of the last map event taken into the look."""
    return int(st.session_state.get(state.LOOK_HEARD, 0))


def change(**values: Any) -> Look:
    """A change the page makes (a table tick, a filter, clusters): the look, and the map, take it."""
    look = replace(current(), **values)
    st.session_state[state.LOOK] = look
    st.session_state[state.LOOK_REV] = revision() + 1
    return look


def reopen(look: Look, default_color: bool = False) -> None:
    """A link's or a saved view's look: the page's from now on, for the first points that load.
    `default_color`: the link named no colour; the points' default colour column applies."""
    st.session_state[state.LOOK] = look
    st.session_state[state.LOOK_DEFAULT_COLOR] = default_color and look.color is None
    st.session_state[state.LOOK_FOR] = None
    st.session_state[state.LOOK_FRAME] = None
    st.session_state[state.LOOK_REV] = revision() + 1


def notes() -> list[str]:
    """What the last change of points cleared, said once on the page."""
    return list(st.session_state.pop(state.LOOK_NOTES, None) or [])


def for_points(digest: str, table: pd.DataFrame, text_column: str | None) -> Look:
    """The look for these points (Points.digest, their table): bound to them on first sight.

    A fresh session starts coloured by the default column. A reopened look keeps what these
    points have (columns, row ids). A look made for other points keeps its columns where these
    points have them and drops its row ids (selection, isolation), with a note.
    """
    bound = st.session_state.get(state.LOOK_FOR, "")
    if bound == digest and state.LOOK in st.session_state:
        return current()
    columns = [str(c) for c in table.columns]
    if current().clusters is not None:  # cluster columns join the table once clusters are found
        columns += [CLUSTER_COLUMN, LABEL_COLUMN]
    if state.LOOK not in st.session_state:
        look, said = Look(color=default_color_column(table, text_column)), []
    else:
        look, said = current().for_columns(columns)
        if bound is None:  # a link or a saved view: its rows, where these points have them
            look = look.for_rows(len(table))
            if st.session_state.pop(state.LOOK_DEFAULT_COLOR, False) and look.color is None:
                look = replace(look, color=default_color_column(table, text_column))
        elif look.selection or look.isolated:
            said.append("Other points loaded: the selection and the isolation were cleared.")
            look = replace(look, selection=(), isolated=(), reproject=False)
        if look.color is None and bound and current().color is not None:
            look = replace(look, color=default_color_column(table, text_column))
    st.session_state[state.LOOK] = look
    st.session_state[state.LOOK_FOR] = digest
    st.session_state[state.LOOK_REV] = revision() + 1
    if said:
        st.session_state[state.LOOK_NOTES] = said
    return look


def for_frame(frame: str) -> None:
    """A new projection (another method, dimensions, parameters or isolation) starts with its own
    camera: the map resets it, and the look forgets the old one. A reopened look keeps its camera
    for the first frame it is drawn in (a link's camera is for the layout it names)."""
    if st.session_state.get(state.LOOK_FRAME) not in (None, frame) and current().camera is not None:
        st.session_state[state.LOOK] = replace(current(), camera=None)
    st.session_state[state.LOOK_FRAME] = frame


def take_map_event(event: Any, digest: str) -> None:
    """What the map changed (a MapEvent's `changes`), into the look, once per event. Row ids
    reported by a map that showed other points are left out (they name other rows)."""
    if event is None or not event.new or event.seq <= heard():
        return
    changes = dict(event.changes or {})
    if not str(event.data_id or "").startswith(f"{digest}|"):
        changes = {k: v for k, v in changes.items() if k not in ("sel", "iso")}
    if changes:
        try:
            st.session_state[state.LOOK] = current().updated(changes, "the map")
        except InputError:
            pass  # a value the map cannot have sent; the look stays as it was
    st.session_state[state.LOOK_HEARD] = event.seq


def for_map(look: Look) -> dict[str, Any]:
    """The look as the map takes it (every key the map shows, "" or [] for none)."""
    return {"color": look.color or "", "label": look.label or "", "search": look.search,
            "search_in": look.search_in or "", "regex": look.regex, "case": look.case,
            "sel": list(look.selection), "iso": list(look.isolated), "reproject": look.reproject,
            "density": look.density, "cam": look.camera or ""}
