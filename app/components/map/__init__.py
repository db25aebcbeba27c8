"""The point map: a bidirectional Streamlit component that draws points with WebGL in the browser.

Its files are the map core's (``embeddings/map/static``: index.html, the ES modules of the core
and of its Streamlit host), package data of ``embeddings``; they load nothing else.
The projection goes to the browser once per ``data_id`` as one binary payload
(``embeddings.mapdata.pack_map_data``); later reruns send only the id and small JSON, and a new
layout of the same points (same rows, columns and colours) only its coordinates
(``pack_coords``). A layout still forming (``live``) sends its frames another way (``app.live``). Colour,
labels, search, hover, zoom, rotate, selection and isolate then happen in the browser at once;
Python hears what changed: the look's keys changed in the map (``MapEvent.changes``, a moment
after the last change), a clicked point, a selection, an action, or ``need`` (the browser lacks
the data of an id, e.g. its iframe was re-created, so it is sent again).

A map whose look has an owner (the Explore tab's: app/look.py) is given that look with a
revision number: the browser takes it when the revision grows, so a rerun never undoes what a
person just did in the map.
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
from embeddings.mapdata import pack_coords, pack_map_data, table_digest

_component = components.declare_component("point_map", path=str(STATIC))
SENT, HANDLED, PAYLOADS = state.MAP_SENT, state.MAP_HANDLED, state.MAP_PAYLOADS  # session_state keys
HELD = state.MAP_HELD


@dataclass(frozen=True)
class MapEvent:
    """What the browser reported last: the look's keys it changed, a click, a selection, an action."""

    clicked: int | None = None  # row id clicked (its neighbours are wanted)
    selection: list[int] = field(default_factory=list)  # row ids selected (with click, select, action)
    action: str | None = None  # "isolate", "show_all", "reproject", "need"; a "layout" event's state; or None
    changes: dict = field(default_factory=dict)  # look keys changed in the map (LOOK_KEYS' spelling)
    type: str | None = None  # "look", "click", "select", "action", "need", "layout" (a layout forming is done or stopped)
    data_id: str | None = None  # the data the map showed when it reported
    seq: int = 0  # the event's number (grows)
    new: bool = False  # True on the first rerun that carries this event


def event_from_value(value: Any, handled_seq: int) -> MapEvent | None:
    """The MapEvent in a component value (a dict from the browser), or None."""
    if not isinstance(value, dict):
        return None
    clicked = value.get("clicked")
    seq = int(value.get("seq") or 0)
    return MapEvent(
        clicked=int(clicked) if isinstance(clicked, (int, float)) else None,
        selection=[int(r) for r in value.get("selection") or []],
        action=value.get("action"),
        changes=dict(value.get("changes") or {}),
        type=value.get("type"),
        data_id=value.get("data_id"),
        seq=seq,
        new=seq > handled_seq,
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


def _data_args(key: str, data_id: str, coords: Any, table: pd.DataFrame, **options: Any) -> dict:
    """The data of `data_id` for the browser: the whole payload, or only the coordinates when the
    browser holds these points already (another layout of them: PCA to UMAP, other parameters)."""
    sent, held = st.session_state.setdefault(SENT, {}), st.session_state.setdefault(HELD, {})
    payload = _payload(key, data_id, coords, table, **options)
    points_digest = table_digest(payload)
    if key in sent and held.get(key) == points_digest:
        args = {"coords": pack_coords(coords, panel_titles=options.get("panel_titles", ()),
                                      axis_titles=options.get("axis_titles", ())), "base_id": sent[key]}
    else:
        args = {"payload": payload}
    sent[key], held[key] = data_id, points_digest
    return args


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
    selection: Sequence[int] | None = None,
    focus: int | None = None,
    annotations: Sequence[dict] = (),
    look: dict | None = None,
    look_rev: int | None = None,
    look_seq: int = 0,
    frame_id: str | None = None,
    can_reproject: bool = False,
    panels: Sequence[tuple[str, np.ndarray]] | None = None,
    categories_from: pd.DataFrame | None = None,
    muted: dict[str, Sequence[str]] | None = None,
    axis_titles: Sequence[str] = (),
    live: dict | None = None,
    height: int = 620,
    images: Any = None,
) -> MapEvent | None:
    """Draw `coords` (n, 2|3) with one `table` row per point (table index = row id).

    data_id names this projection: the browser is sent the data only when it lacks that id.
    highlight / selection / focus: row ids (lit, ringed: None leaves the map's own, inspected).
    look: the look (LOOK_KEYS), taken by a new map and, when `look_rev` grows, by the map on screen
    (look_seq: the last event its owner took). frame_id: a new data id in the same frame keeps the
    camera. can_reproject: "re-project" beside Isolate. panels: 2-4 (title, coords), linked.
    categories_from: the whole table when `table` is part of it. muted: column -> values drawn grey,
    under, last (noise). images: the points' images (by row id), sent once as an atlas. live: a
    layout forming (``LiveProjection.status()`` and its frames' ``url``): the map follows it."""
    sent, handled = st.session_state.setdefault(SENT, {}), st.session_state.setdefault(HANDLED, {})
    previous = st.session_state.get(key)
    event = event_from_value(previous, handled.get(key, 0))
    if event is not None and event.new and event.type == "need" and previous.get("need") == data_id:
        sent.pop(key, None)  # the browser lost it (its iframe was re-created): all of it goes again
    args: dict[str, Any] = dict(
        data_id=data_id, color_by=color_by, label_by=label_by, text_column=text_column,
        highlight=[int(r) for r in highlight],
        selection=None if selection is None else _selection_arg(selection, event),
        focus=None if focus is None else int(focus), annotations=[_annotation(a) for a in annotations],
        look=look, look_rev=look_rev, look_seq=int(look_seq), frame_id=frame_id, can_reproject=can_reproject,
        live=live, height=int(height),
    )
    if sent.get(key) != data_id:
        coords_arg = [c for _, c in panels] if panels else coords
        titles = [t for t, _ in panels] if panels else ()
        args.update(_data_args(key, data_id, coords_arg, table, categories_from=categories_from, panel_titles=titles,
                               axis_titles=axis_titles, muted=muted,
                               images=None if images is None else images.subset(table.index.to_numpy())))
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
