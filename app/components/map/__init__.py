"""The point map: a bidirectional Streamlit component that draws points with WebGL in the browser.

Its files are the map core's (``embeddings/map/static``: index.html, the ES modules of the core
and of its Streamlit host), package data of ``embeddings``; they load nothing else.
The projection goes to the browser once per ``data_id`` as one binary payload
(``embeddings.mapdata.pack_map_data``); later reruns send only the id and small JSON. Colour,
labels, search, hover, zoom, rotate, selection and isolate then happen in the browser; Python
hears a clicked point, a changed selection, an action, or ``need`` (the browser lacks the data
of an id, e.g. its iframe was re-created, so it is sent again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from app import state
from embeddings.map import STATIC
from embeddings.mapdata import pack_map_data

_component = components.declare_component("point_map", path=str(STATIC))
SENT, HANDLED, PAYLOADS = state.MAP_SENT, state.MAP_HANDLED, state.MAP_PAYLOADS  # session_state keys


@dataclass(frozen=True)
class MapEvent:
    """What the browser reported last: a click, a selection, an action; and the look it shows."""

    clicked: int | None = None  # row id clicked (its neighbours are wanted)
    selection: list[int] = field(default_factory=list)  # row ids selected (box, lasso, clicks)
    action: str | None = None  # "isolate", "show_all", "need" or None
    look: dict = field(default_factory=dict)  # color, label, search, regex, case, sel, cam
    type: str | None = None  # "click", "select", "action", "need"
    new: bool = False  # True on the first rerun that carries this event


def event_from_value(value: Any, handled_seq: int) -> MapEvent | None:
    """The MapEvent in a component value (a dict from the browser), or None."""
    if not isinstance(value, dict):
        return None
    clicked = value.get("clicked")
    return MapEvent(
        clicked=int(clicked) if isinstance(clicked, (int, float)) else None,
        selection=[int(r) for r in value.get("selection") or []],
        action=value.get("action"),
        look=dict(value.get("look") or {}),
        type=value.get("type"),
        new=int(value.get("seq") or 0) > handled_seq,
    )


def peek_event(key: str) -> MapEvent | None:
    """The event the map under `key` reported for this rerun, read before the map is drawn again
    (so a page can act on a click before drawing what depends on it). ``new`` is True until
    point_map(key=...) has run once after it."""
    return event_from_value(st.session_state.get(key), st.session_state.get(HANDLED, {}).get(key, 0))


def _payload(key: str, data_id: str, coords: Any, table: pd.DataFrame, **options: Any) -> bytes:
    """The packed data of `data_id`, packed once per key and id."""
    store = st.session_state.setdefault(PAYLOADS, {})
    cached = store.get(key)
    if cached is not None and cached[0] == data_id:
        return cached[1]
    payload = pack_map_data(coords, table, **options)
    store[key] = (data_id, payload)
    return payload


def point_map(
    coords: np.ndarray,
    table: pd.DataFrame,
    *,
    key: str,
    data_id: str,
    color_by: str | None = None,
    label_by: str | None = None,
    text_column: str | None = None,
    highlight: Sequence[int] = (),
    selection: Sequence[int] = (),
    focus: int | None = None,
    annotations: Sequence[dict] = (),
    look: dict | None = None,
    panels: Sequence[tuple[str, np.ndarray]] | None = None,
    categories_from: pd.DataFrame | None = None,
    axis_titles: Sequence[str] = (),
    mirror_url: bool = False,
    height: int = 620,
    images: Any = None,
) -> MapEvent | None:
    """Draw `coords` (n, 2|3) with one `table` row per point (table index = row id).

    data_id names this projection (same id, same coords and table): the browser is sent the data
    only when it does not hold that id. highlight / selection / focus are row ids (neighbours
    to keep bright, rows to ring, the inspected point); they change the browser's state only when
    they change here. look: the initial look (color, label, search, regex, case, sel, cam).
    panels: 2-4 (title, coords) drawn side by side with linked hover and selection (coords is
    then ignored). categories_from: the whole table when `table` is part of it, so category
    colours keep their meaning. mirror_url: write the look into the page's query string.
    images: the points' images (embeddings.images.Images), numbered as `table`'s index numbers its
    rows; the rows shown are sent once as an atlas with the data: hover shows a point's image, and
    zoomed in the points are drawn as their images.
    """
    sent = st.session_state.setdefault(SENT, {})
    handled = st.session_state.setdefault(HANDLED, {})
    previous = st.session_state.get(key)
    event = event_from_value(previous, handled.get(key, 0))
    if event is not None and event.new and event.type == "need" and previous.get("need") == data_id:
        sent.pop(key, None)  # the browser lost it (its iframe was re-created)
    args: dict[str, Any] = dict(
        data_id=data_id, color_by=color_by, label_by=label_by, text_column=text_column,
        highlight=[int(r) for r in highlight], selection=_selection_arg(selection, event),
        focus=None if focus is None else int(focus), annotations=[_annotation(a) for a in annotations],
        look=look, mirror_url=mirror_url, height=int(height),
    )
    if sent.get(key) != data_id:
        coords_arg = [c for _, c in panels] if panels else coords
        titles = [t for t, _ in panels] if panels else ()
        args["payload"] = _payload(key, data_id, coords_arg, table, categories_from=categories_from,
                                   panel_titles=titles, axis_titles=axis_titles,
                                   images=None if images is None else images.subset(table.index.to_numpy()))
        sent[key] = data_id
    value = _component(key=key, default=None, **args)
    event = event_from_value(value, handled.get(key, 0))
    if event is not None and event.new:
        handled[key] = int(value.get("seq") or 0)
    return event


def _selection_arg(selection: Sequence[int], event: MapEvent | None) -> list[int] | None:
    """The selection to send, or None when the browser reported exactly this one itself (a large
    selection then never travels back on every rerun)."""
    rows = [int(r) for r in selection]
    return None if event is not None and event.selection == rows and rows else rows


def _annotation(a: dict) -> dict:
    out = {"x": float(a["x"]), "y": float(a["y"]), "text": str(a["text"])}
    if a.get("z") is not None:
        out["z"] = float(a["z"])
    return out
