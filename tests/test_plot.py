"""embeddings.plot: traces, colours, hover text, highlight, rings, selections, search."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from embeddings.errors import InputError
from embeddings.plot import (
    MAX_CATEGORIES,
    OTHER,
    OVERLAY_META,
    POINTS_META,
    hover_texts,
    point_count,
    point_indices_from_selection,
    scatter_figure,
    search_mask,
)


def _data(n: int = 12, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    metadata = pd.DataFrame(
        {
            "text": [f"text number {i}" for i in range(n)],
            "topic": ["a", "b", "c"] * (n // 3) + ["a"] * (n % 3),
            "score": np.linspace(0.0, 1.0, n),
        }
    )
    return coords, metadata


def _rows(figure: go.Figure, meta: str = POINTS_META) -> list[int]:
    return sorted(int(r) for t in figure.data if t.meta == meta for r in t.customdata)


def test_2d_is_webgl_and_every_point_is_drawn_once():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata)
    assert {t.type for t in figure.data} == {"scattergl"}
    assert point_count(figure) == 12
    assert _rows(figure) == list(range(12))


def test_3d_uses_scatter3d():
    coords = np.random.default_rng(1).normal(size=(9, 3))
    figure = scatter_figure(coords, _data(9)[1], color_by="topic")
    assert {t.type for t in figure.data} == {"scatter3d"}
    assert point_count(figure) == 9
    assert all(t.z is not None for t in figure.data)


def test_categories_get_one_trace_each_with_legend():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata, color_by="topic")
    names = [t.name for t in figure.data]
    assert names == ["a", "b", "c"]
    assert all(t.showlegend for t in figure.data)
    colors = {t.marker.color for t in figure.data}
    assert len(colors) == 3
    by_name = {t.name: sorted(int(r) for r in t.customdata) for t in figure.data}
    assert by_name["b"] == [1, 4, 7, 10]


def test_many_categories_are_capped_with_other():
    n = 200
    coords = np.zeros((n, 2))
    metadata = pd.DataFrame({"cat": [f"c{i % 50}" for i in range(n)]})
    figure = scatter_figure(coords, metadata, color_by="cat")
    assert len(figure.data) == MAX_CATEGORIES
    assert figure.data[-1].name == OTHER
    assert point_count(figure) == n


def test_numbers_get_a_colour_scale():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata, color_by="score")
    (trace,) = figure.data
    assert trace.marker.showscale
    assert trace.marker.cmin == 0.0 and trace.marker.cmax == 1.0
    assert len(trace.marker.color) == 12


def test_customdata_is_the_metadata_index():
    coords, metadata = _data()
    shown = metadata.iloc[[5, 2, 9]]
    figure = scatter_figure(coords[[5, 2, 9]], shown, color_by="topic")
    assert _rows(figure) == [2, 5, 9]


def test_highlight_dims_the_rest_and_keeps_all_points():
    coords, metadata = _data()
    mask = np.zeros(12, dtype=bool)
    mask[[0, 3]] = True
    figure = scatter_figure(coords, metadata, color_by="topic", highlight=mask)
    dimmed = figure.data[0]
    assert dimmed.name == "other points" and dimmed.marker.opacity < 1
    assert sorted(int(r) for r in dimmed.customdata) == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11]
    bright = [int(r) for t in figure.data[1:] for r in t.customdata]
    assert sorted(bright) == [0, 3]
    assert point_count(figure) == 12


def test_selected_rows_get_a_ring_overlay_not_counted_as_points():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata, selected=[4, 7])
    assert _rows(figure, OVERLAY_META) == [4, 7]
    assert point_count(figure) == 12
    assert figure.data[-1].marker.symbol == "circle-open"


def test_labels_written_when_few_points():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata, label_by="topic")
    assert figure.data[0].mode == "markers+text"
    assert list(figure.data[0].text[:3]) == ["a", "b", "c"]


def test_hover_text_is_escaped_truncated_and_names_columns():
    metadata = pd.DataFrame(
        {"text": ["<script>alert(1)</script> & co", "x" * 1000, "line\nbreak\ttab"], "n": [1, 2, 3]}
    )
    hover = hover_texts(metadata)
    assert "<script>" not in hover[0] and "&lt;script&gt;" in hover[0] and "&amp; co" in hover[0]
    assert hover[0].endswith("<br>n: 1")
    first_line = hover[1].split("<br>n: ")[0].replace("<br>", "")
    assert len(first_line) == 300 and first_line.endswith("\u2026")
    assert "\n" not in hover[2] and "\t" not in hover[2]


def test_long_texts_are_wrapped_at_spaces():
    words = " ".join(["word"] * 60)
    hover = hover_texts(pd.DataFrame({"text": [words]}))
    lines = hover[0].split("<br>")
    assert len(lines) > 2 and all(len(line) <= 80 for line in lines)


def test_missing_values_show_as_missing():
    metadata = pd.DataFrame({"text": ["a", None], "v": [1.5, np.nan]})
    hover = hover_texts(metadata)
    assert "(missing)" in hover[1]
    figure = scatter_figure(np.zeros((2, 2)), metadata, color_by="v")
    assert point_count(figure) == 2


def test_bad_inputs_are_input_errors():
    coords, metadata = _data()
    with pytest.raises(InputError, match="rows"):
        scatter_figure(coords[:3], metadata)
    with pytest.raises(InputError, match="no column"):
        scatter_figure(coords, metadata, color_by="nope")
    with pytest.raises(InputError, match="shape"):
        scatter_figure(np.zeros((12, 4)), metadata)
    with pytest.raises(InputError, match="highlight"):
        scatter_figure(coords, metadata, highlight=np.ones(3, dtype=bool))


def test_point_indices_from_selection_reads_customdata():
    event = {
        "selection": {
            "points": [
                {"curve_number": 1, "point_index": 0, "customdata": 7},
                {"curve_number": 0, "point_index": 3, "customdata": [2]},
                {"curve_number": 4, "point_index": 0, "customdata": 7},  # a ring over row 7
                {"curve_number": 0, "point_index": 5},
            ],
            "point_indices": [0, 3, 0, 5],
        }
    }
    assert point_indices_from_selection(event) == [7, 2]
    assert point_indices_from_selection(None) == []
    assert point_indices_from_selection({"selection": {"points": []}}) == []


def test_search_mask_substring_and_regex():
    values = pd.Series(["Apple pie", "banana", "apple", None])
    assert search_mask(values, "apple").tolist() == [True, False, True, False]
    assert search_mask(values, "^a", regex=True).tolist() == [True, False, True, False]
    assert search_mask(values, "a.p", regex=False).tolist() == [False, False, False, False]
    with pytest.raises(InputError, match="invalid regular expression"):
        search_mask(values, "(", regex=True)


@pytest.mark.slow
def test_100k_points_build_fast():
    n = 100_000
    rng = np.random.default_rng(0)
    metadata = pd.DataFrame(
        {
            "text": pd.Series([f"sentence {i} " + "word " * (i % 40) for i in range(n)]),
            "topic": rng.choice(list("abcdefghij"), n),
        }
    )
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    started = time.perf_counter()
    figure = scatter_figure(coords, metadata, color_by="topic")
    seconds = time.perf_counter() - started
    assert point_count(figure) == n
    assert seconds < 5.0  # ~0.6 s on an idle core; generous for shared CI machines


def test_focus_row_gets_its_own_marker():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata, selected=[1, 2], focus=1)
    focus = [t for t in figure.data if t.name == "inspected"]
    assert len(focus) == 1 and list(focus[0].customdata) == [1]
    assert focus[0].meta == OVERLAY_META and point_count(figure) == 12


def test_hover_other_columns_ride_in_text_through_a_template():
    coords, metadata = _data()
    figure = scatter_figure(coords, metadata, color_by="topic")
    trace = figure.data[0]
    assert trace.hovertemplate == "%{hovertext}<br>%{text}<extra></extra>"
    assert trace.hovertext[0] == "text number 0"
    assert trace.text[0] == "topic: a<br>score: 0.0"
    assert trace.mode == "markers"  # text is hover content here, not drawn
    labelled = scatter_figure(coords, metadata, label_by="topic").data[0]
    assert labelled.text[0] == "a" and labelled.hovertext[0].startswith("text number 0<br>topic: a")
