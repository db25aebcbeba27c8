"""A Plotly scatter of projected points: the one place in the library that imports plotly.

``scatter_figure`` draws 2D coordinates as WebGL (``Scattergl``) and 3D ones as ``Scatter3d``,
coloured by a metadata column (one trace per category with a legend, or a colour scale for
numbers), with hover text built from the metadata, optional text labels, a highlight mask that
dims everything else, and rings around chosen rows. Every point's ``customdata`` is its source
row (the metadata frame's index), so a selection maps back with ``point_indices_from_selection``
whatever traces the points were split into.

Everything is built column-wise with numpy/pandas: 100k points cost well under a second.
Point traces carry ``meta="points"`` and overlay traces (rings) ``meta="overlay"``, so a reader of
the figure (a browser test, say) can count the points: the sum of ``x`` lengths over traces whose
meta is "points".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from embeddings.clusters import NOISE_NAME
from embeddings.errors import InputError

MAX_CATEGORIES = 20  # legend entries; rarer categories share one "other" trace
HOVER_CHARS = 300  # a value longer than this is cut, with an ellipsis
HOVER_WRAP = 80  # hover lines are broken at a space near this width
MAX_LABELS = 1_000  # text labels on more points than this are unreadable and slow
MISSING = "(missing)"
OTHER = "other"
POINTS_META = "points"
OVERLAY_META = "overlay"

# Plotly's default qualitative colours, then more distinct ones (Dark24 / Alphabet order).
PALETTE = (
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880",
    "#FF97FF", "#FECB52", "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#B68100",
    "#750D86", "#EB663B", "#511CFB", "#00A08B",
)
OTHER_COLOR = "#9A9A9A"
# Drawn grey: the rest of many categories, missing values, and points no cluster took (noise).
GREY_CATEGORIES = (OTHER, MISSING, NOISE_NAME)
DIMMED_COLOR = "#C8C8C8"
RING_COLOR = "#111111"
COLOR_SCALE = "Viridis"


# ------------------------------------------------------------------ hover and labels


def _as_text(values: pd.Series) -> pd.Series:
    """Cells as display strings; missing values as MISSING."""
    if pd.api.types.is_float_dtype(values.dtype):
        text = values.round(6).astype(str)
        return text.where(values.notna(), MISSING)
    text = values.astype(str)
    return text.where(values.notna(), MISSING) if values.hasnans else text


def clean_for_html(values: pd.Series, max_chars: int = HOVER_CHARS, wrap: int | None = HOVER_WRAP) -> pd.Series:
    """Strings safe inside Plotly's pseudo-HTML: cut to max_chars, escaped, long lines wrapped."""
    text = _as_text(values)
    long = text.str.len() > max_chars
    if long.any():
        text = text.where(~long, text.str.slice(0, max_chars - 1) + "\u2026")
    text = text.str.replace(r"[\r\n\t]+", " ", regex=True)
    wide = text.str.len() > wrap if wrap else None
    if wide is not None and wide.any():
        # Only the long values pay for a Python-level wrap; "\n" becomes <br> after escaping.
        wrapped = text.to_numpy(dtype=object)
        wrapped[wide.to_numpy()] = [_wrap(value, wrap) for value in wrapped[wide.to_numpy()]]
        text = pd.Series(wrapped, index=text.index, dtype=str)
    if text.str.contains("[&<>]", regex=True).any():
        text = text.str.replace("&", "&amp;", regex=False)
        text = text.str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
    if wide is not None and wide.any():
        text = text.str.replace("\n", "<br>", regex=False)
    return text


def _wrap(text: str, width: int) -> str:
    """Break a line at the last space before `width` (or hard, when a word is longer)."""
    lines: list[str] = []
    start = 0
    while len(text) - start > width:
        cut = text.rfind(" ", start + width // 2, start + width + 1)
        if cut < 0:
            lines.append(text[start : start + width])
            start += width
        else:
            lines.append(text[start:cut])
            start = cut + 1
    lines.append(text[start:])
    return "\n".join(lines)


def hover_texts(
    metadata: pd.DataFrame, columns: Sequence[str] | None = None, *, first_plain: bool = True
) -> np.ndarray:
    """One hover string per row: the first column as is, the others as "column: value" lines."""
    return Hover.build(metadata, columns).joined(np.ones(len(metadata), dtype=bool))


@dataclass(frozen=True)
class Hover:
    """Hover content of every row: the first column, and the other columns' "name: value" lines.

    Traces carry the first part as ``hovertext`` and the rest as ``text`` (shown through a
    hovertemplate, not drawn, while the trace has no text labels), and customdata stays the
    numeric row: Plotly ships numeric arrays compactly, escapes every "<" and ">" of markup in
    strings as six characters, and re-validates object arrays element by element.
    """

    first: np.ndarray  # (n,) object: the first column, escaped, wrapped
    rest: np.ndarray | None  # (n,) object: "name: value<br>name: value", escaped

    @classmethod
    def build(cls, metadata: pd.DataFrame, columns: Sequence[str] | None = None) -> "Hover":
        columns = list(metadata.columns if columns is None else columns)
        if not columns:
            return cls(np.asarray([f"row {i}" for i in metadata.index], dtype=object), None)
        first = clean_for_html(metadata[columns[0]]).to_numpy(dtype=object)
        if len(columns) == 1:
            return cls(first, None)
        rest: pd.Series | None = None
        for column in columns[1:]:
            line = f"{_escape(str(column))}: " + clean_for_html(metadata[column], max_chars=HOVER_CHARS // 3, wrap=None)
            rest = line if rest is None else rest + "<br>" + line
        assert rest is not None
        return cls(first, rest.to_numpy(dtype=object))

    def joined(self, mask: np.ndarray) -> np.ndarray:
        if self.rest is None:
            return self.first[mask]
        return (pd.Series(self.first[mask], dtype=object) + "<br>" + pd.Series(self.rest[mask], dtype=object)).to_numpy(
            dtype=object
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------ search


def search_mask(values: pd.Series, query: str, *, regex: bool = False, case: bool = False) -> np.ndarray:
    """Bool mask of the cells that contain `query` (a substring, or a regular expression).

    An invalid regular expression is one InputError line.
    """
    if regex:
        try:
            re.compile(query)
        except re.error as exc:
            raise InputError(f"invalid regular expression {query!r}: {exc}") from None
    text = _as_text(values)
    return text.str.contains(query, case=case, regex=regex).to_numpy(dtype=bool)


# ------------------------------------------------------------------ colour


def is_numeric(values: pd.Series) -> bool:
    """True when a column is coloured with a scale (numbers), False for categories."""
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def categories(values: pd.Series, limit: int = MAX_CATEGORIES) -> tuple[np.ndarray, list[str]]:
    """(category per row, legend order): the limit-1 most common values by name, the rest OTHER.

    With at most `limit` distinct values every value keeps its own entry.
    """
    text = _as_text(values)
    counts = text.value_counts(sort=True)
    if len(counts) <= limit:
        order = sorted(counts.index, key=_natural_key)
        return text.to_numpy(dtype=object), order
    kept = list(counts.index[: limit - 1])
    labels = text.where(text.isin(kept), OTHER).to_numpy(dtype=object)
    return labels, sorted(kept, key=_natural_key) + [OTHER]


def _natural_key(value: str) -> tuple:
    return (value == MISSING, [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", value)])


def category_colors(order: Sequence[str]) -> dict[str, str]:
    """A palette colour per category; grey for "other", missing values and cluster noise."""
    colors: dict[str, str] = {}
    for i, name in enumerate(order):
        colors[name] = OTHER_COLOR if name in GREY_CATEGORIES else PALETTE[i % len(PALETTE)]
    return colors


# ------------------------------------------------------------------ the figure


def _marker_size(n: int) -> float:
    if n <= 500:
        return 8
    if n <= 5_000:
        return 5
    if n <= 50_000:
        return 3
    return 2


def _overlay(
    coords: np.ndarray, rows: np.ndarray, hover: Hover, mask: np.ndarray, labels: np.ndarray | None,
    name: str, symbol: str, size: float, width: float,
) -> Any:
    """Open symbols drawn over marked points (selection rings, the inspected point): not points."""
    marker = {"color": RING_COLOR, "size": size, "symbol": symbol, "line": {"color": RING_COLOR, "width": width}}
    return _trace(coords, rows, hover, mask, labels, name=name, marker=marker, meta=OVERLAY_META)


def _trace(
    coords: np.ndarray,
    rows: np.ndarray,
    hover: Hover,
    mask: np.ndarray,
    labels: np.ndarray | None,
    *,
    name: str,
    marker: dict[str, Any],
    meta: str = POINTS_META,
    showlegend: bool = True,
) -> dict[str, Any]:
    """The masked points as one trace, a plain dict: go.Figure validates dicts once, where
    trace objects would be deep-copied."""
    kwargs: dict[str, Any] = dict(
        x=coords[mask, 0],
        y=coords[mask, 1],
        customdata=rows[mask],
        name=name,
        marker=marker,
        meta=meta,
        showlegend=showlegend,
        legendgroup=name,
    )
    if labels is not None:
        kwargs.update(
            mode="markers+text", text=labels[mask], textposition="top center", textfont={"size": 10},
            hovertext=hover.joined(mask), hovertemplate="%{hovertext}<extra></extra>",
        )
    elif hover.rest is not None:
        kwargs.update(
            mode="markers", hovertext=hover.first[mask], text=hover.rest[mask],
            hovertemplate="%{hovertext}<br>%{text}<extra></extra>",
        )
    else:
        kwargs.update(mode="markers", hovertext=hover.first[mask], hovertemplate="%{hovertext}<extra></extra>")
    if coords.shape[1] == 3:
        return {"type": "scatter3d", "z": coords[mask, 2], **kwargs}
    return {"type": "scattergl", **kwargs}


def scatter_figure(
    coords: np.ndarray,
    metadata: pd.DataFrame,
    *,
    color_by: str | None = None,
    label_by: str | None = None,
    hover_columns: Sequence[str] | None = None,
    highlight: np.ndarray | None = None,
    selected: Iterable[int] | None = None,
    focus: int | None = None,
    title: str | None = None,
    axis_titles: Sequence[str] | None = None,
    uirevision: str | None = None,
    annotations: Sequence[Mapping[str, Any]] | None = None,
) -> go.Figure:
    """A scatter of `coords` (n, 2|3), one metadata row per point, in the same order.

    color_by: a metadata column; categories get one trace each (legend), numbers a colour scale.
    label_by: a column written beside the points (only when at most MAX_LABELS points would
    carry one: all points, else the highlighted ones). hover_columns: what hovering shows
    (default: every column). highlight: bool mask, True points stay bright, others are dimmed
    (grey, in the background). selected: source rows (values of metadata.index) drawn with a
    ring on top. focus: one source row drawn with a larger diamond (e.g. the point whose
    neighbours are shown). annotations: texts drawn on the map, {"x", "y"[, "z"], "text"} each
    (cluster names at their clusters). customdata of every point is its source row, metadata.index.
    """
    coords = np.asarray(coords, dtype=np.float32)
    _check_figure_input(coords, metadata, color_by, label_by, hover_columns)
    n = coords.shape[0]
    rows = np.asarray(metadata.index, dtype=np.int64)
    hover = Hover.build(metadata, hover_columns)
    if highlight is not None:
        highlight = np.asarray(highlight, dtype=bool).reshape(-1)
        if highlight.shape != (n,):
            raise InputError(f"highlight mask has {highlight.shape[0]} values but there are {n} points")
    bright = np.ones(n, dtype=bool) if highlight is None else highlight

    labels: np.ndarray | None = None
    if label_by is not None:
        carriers = n if highlight is None else int(bright.sum())
        if carriers <= MAX_LABELS:
            labels = clean_for_html(metadata[label_by], max_chars=40, wrap=None).to_numpy(dtype=object)

    size = _marker_size(n) if coords.shape[1] == 2 else max(2, round(_marker_size(n) * 0.6))  # 3D markers read larger
    traces: list[Any] = []
    if highlight is not None and (~bright).any():
        traces.append(
            _trace(
                coords, rows, hover, ~bright, None,
                name="other points", marker={"color": DIMMED_COLOR, "size": size, "opacity": 0.35},
            )
        )
    traces += _colour_traces(coords, rows, hover, labels, metadata, color_by, bright, size)
    traces += _overlay_traces(coords, rows, hover, labels, metadata, label_by, selected, focus, size)
    figure = go.Figure(data=traces)
    layout = _figure_layout(coords.shape[1], color_by, title, axis_titles, uirevision)
    if annotations:
        notes = [_annotation(note, coords.shape[1]) for note in annotations]
        (layout if coords.shape[1] == 2 else layout["scene"])["annotations"] = notes
    figure.update_layout(**layout)
    return figure


def _check_figure_input(
    coords: np.ndarray, metadata: pd.DataFrame, color_by: str | None, label_by: str | None,
    hover_columns: Sequence[str] | None,
) -> None:
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise InputError(f"coordinates must have shape (n, 2) or (n, 3), got {coords.shape}")
    if len(metadata) != coords.shape[0]:
        raise InputError(f"metadata has {len(metadata)} rows but there are {coords.shape[0]} points")
    for column in (color_by, label_by, *(hover_columns or ())):
        if column is not None and column not in metadata.columns:
            raise InputError(f"no column {column!r}; columns: {', '.join(map(str, metadata.columns))}")


def _colour_traces(
    coords: np.ndarray, rows: np.ndarray, hover: "Hover", labels: np.ndarray | None, metadata: pd.DataFrame,
    color_by: str | None, bright: np.ndarray, size: int,
) -> list[Any]:
    """The bright points: one trace, one per category (legend), or one on a colour scale."""
    def part(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, Hover, np.ndarray, np.ndarray | None]:
        return coords, rows, hover, mask, labels

    if color_by is None:
        return [_trace(*part(bright), name="points", marker={"color": PALETTE[0], "size": size}, showlegend=False)]
    traces: list[Any] = []
    if is_numeric(metadata[color_by]):
        values = metadata[color_by].to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        low, high = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 1.0)
        shown = bright & finite
        marker = {
            "color": values[shown],
            "colorscale": COLOR_SCALE,
            "cmin": low,
            "cmax": high,
            "size": size,
            "showscale": True,
            "colorbar": {"title": {"text": str(color_by)}, "thickness": 12},
        }
        traces.append(_trace(*part(shown), name=str(color_by), marker=marker, showlegend=False))
        if (bright & ~finite).any():
            traces.append(
                _trace(*part(bright & ~finite), name=MISSING, marker={"color": OTHER_COLOR, "size": size})
            )
        return traces
    per_row, order = categories(metadata[color_by])
    colors = category_colors(order)
    for name in order:
        mask = bright & (per_row == name)
        if mask.any():
            traces.append(_trace(*part(mask), name=name, marker={"color": colors[name], "size": size}))
    return traces


def _overlay_traces(
    coords: np.ndarray, rows: np.ndarray, hover: "Hover", labels: np.ndarray | None, metadata: pd.DataFrame,
    label_by: str | None, selected: Iterable[int] | None, focus: int | None, size: int,
) -> list[Any]:
    """Rings on the selected rows (labelled when the points are not) and a diamond on the focus."""
    traces: list[Any] = []
    if selected is not None:
        wanted = np.fromiter((int(i) for i in selected), dtype=np.int64)
        ring = np.isin(rows, wanted)
        if ring.any():
            ring_labels = None
            if label_by is not None and labels is None and ring.sum() <= MAX_LABELS:
                ring_labels = np.full(len(rows), "", dtype=object)
                ring_labels[ring] = clean_for_html(metadata[label_by][ring], max_chars=40, wrap=None).to_numpy(dtype=object)
            traces.append(_overlay(coords, rows, hover, ring, ring_labels, "marked", "circle-open", size + 8, 2))
    if focus is not None:
        spot = rows == int(focus)
        if spot.any():
            traces.append(_overlay(coords, rows, hover, spot, None, "inspected", "diamond-open", size + 14, 3))
    return traces


def _figure_layout(
    dims: int, color_by: str | None, title: str | None, axis_titles: Sequence[str] | None, uirevision: str | None
) -> dict[str, Any]:
    names = list(axis_titles) if axis_titles else []
    layout: dict[str, Any] = dict(
        title={"text": title} if title else None,
        margin={"l": 10, "r": 10, "t": 60 if title else 36, "b": 10},  # room for the mode bar
        legend={"itemsizing": "constant", "title": {"text": str(color_by)} if color_by else None},
        hovermode="closest",
        hoverlabel={"align": "left"},
        uirevision=uirevision or "points",
        height=620,
    )
    if dims == 2:
        layout.update(
            xaxis={"title": {"text": names[0] if names else ""}, "zeroline": False, "showgrid": False},
            yaxis={"title": {"text": names[1] if len(names) > 1 else ""}, "zeroline": False, "showgrid": False},
        )
    else:
        scene_axes = {f"{a}axis": {"title": {"text": names[i] if len(names) > i else a}} for i, a in enumerate("xyz")}
        layout.update(scene=scene_axes)
    return layout


def _annotation(note: Mapping[str, Any], dims: int) -> dict[str, Any]:
    """A plotly annotation: the text on a pale box at the point, no arrow."""
    try:
        place = {axis: float(note[axis]) for axis in "xyz"[:dims]}
    except (KeyError, TypeError, ValueError):
        raise InputError(f"an annotation needs numeric {', '.join('xyz'[:dims])} and a text, not {dict(note)!r}") from None
    return {
        **place, "text": _escape(str(note.get("text", ""))[:60]), "showarrow": False,
        "font": {"size": 12, "color": "#111111"}, "bgcolor": "rgba(255,255,255,0.75)", "borderpad": 2,
    }


def point_count(figure: go.Figure) -> int:
    """Points drawn (rings and other overlays not counted)."""
    return sum(len(trace.x) for trace in figure.data if trace.meta == POINTS_META and trace.x is not None)


def point_indices_from_selection(event: Any) -> list[int]:
    """Source rows of the points in a Streamlit plotly selection event, in first-seen order.

    Accepts the object st.plotly_chart returns (or its "selection" part, or None); reads each
    point's customdata, which scatter_figure sets to the source row.
    """
    if event is None:
        return []
    selection = _get(event, "selection", event)
    points = _get(selection, "points", None) or []
    seen: dict[int, None] = {}
    for point in points:
        data = _get(point, "customdata", None)
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is None:
            continue
        try:
            seen.setdefault(int(data), None)
        except (TypeError, ValueError):
            continue
    return list(seen)


def _get(obj: Any, key: str, default: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)
