"""Custom axes in the projection panel (method "Custom"), as in the projector's Custom tab.

Each axis runs from one end to another: two typed texts encoded with the points' model, or the
mean of the points two searches match. Without a y axis, y is the main variation left after x.
"""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from app import state
from embeddings.axes import custom_projection, mean_of_matches
from embeddings.errors import InputError
from embeddings.filters import search_mask
from embeddings.reduce import Projection

TYPED = "Typed texts"
SEARCH = "Search matches"


def render_axes_inputs(can_encode: bool) -> dict:
    """The ends of the axes; returns {"mode", "x": [start, end], "y": [start, end] | None}."""
    modes = [TYPED, SEARCH] if can_encode else [SEARCH]
    mode = st.radio("Axis ends", modes, key=state.AXES_MODE, horizontal=True,
                    help="Typed texts are encoded with the same model. A search stands for the mean of "
                    "the points whose text contains it.")
    hint = "a text" if mode == TYPED else "a search"
    left, right = st.columns(2)
    x_start = left.text_input("x from", key=state.AXIS_X_START, placeholder=hint).strip()
    x_end = right.text_input("x to", key=state.AXIS_X_END, placeholder=hint).strip()
    left, right = st.columns(2)
    y_start = left.text_input("y from", key=state.AXIS_Y_START, placeholder="(empty: main variation left)").strip()
    y_end = right.text_input("y to", key=state.AXIS_Y_END, placeholder="(empty)").strip()
    y = [y_start, y_end] if y_start or y_end else None
    return {"mode": "typed" if mode == TYPED else "search", "x": [x_start, x_end], "y": y}


def axis_titles(projection: Projection) -> list[str]:
    x = projection.params.get("x") or ["", ""]
    y = projection.params.get("y")
    return [f"{x[0]} \u2192 {x[1]}", f"{y[0]} \u2192 {y[1]}" if isinstance(y, list) else "main variation left"]


class AxesNeeded(InputError):
    """The Custom method is chosen but an axis end is still empty: a prompt, not a failure."""


def custom_for(points, rows: np.ndarray, digest: str, params: dict, seed: int) -> Projection:
    """The custom projection of `rows`; the ends come from all points (searches) or the model (texts)."""
    for axis in ("x",) + (("y",) if params.get("y") else ()):
        if not all(params[axis]):
            raise AxesNeeded(f"Custom axes: type both ends of the {axis} axis in the sidebar")
    return _custom_cached(points, rows, digest, json.dumps(params, sort_keys=True), seed)


@st.cache_data(show_spinner=False, max_entries=16)
def _custom_cached(_points, _rows: np.ndarray, digest: str, params_json: str, seed: int) -> Projection:
    params = json.loads(params_json)
    ends = {axis: tuple(_end(_points, text, params["mode"], f"{axis} axis end {text!r}") for text in params[axis])
            for axis in ("x", "y") if params.get(axis)}
    return custom_projection(_points.vectors[_rows], ends["x"], ends.get("y"), x_names=tuple(params["x"]),
                             y_names=tuple(params["y"]) if params.get("y") else None, seed=seed)


def _end(points, text: str, mode: str, what: str) -> np.ndarray:
    if mode == "search":
        column = points.label_column
        if column is None:
            raise InputError("Custom axes: these points have no text column to search")
        return mean_of_matches(points.vectors, search_mask(points.table[column], text), what)
    return _encoded(points, points.model, points.level, text)


@st.cache_data(show_spinner=False, max_entries=64)
def _encoded(_points, model: str, level: str, text: str) -> np.ndarray:
    """The library's embed_query (same model, same level), cached on plain values."""
    from embeddings.pipeline import embed_query

    return embed_query(_points, text)
