"""The Layers tab: the same texts (or tokens) after every layer of the model, as one animation.

One model pass gives every layer (``embeddings.layers``); each layer's layout is aligned to the
next one's, so a slider (or Play) moves the points from the input embeddings to the last layer
in the browser, with no rerun per step. Beside it, per layer: neighbour overlap with the last
layer and, with a label column, k-NN label accuracy and a linear probe. At token level, pick a
word to follow its occurrences as their contexts pull them apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from embeddings.choices import METHOD_NAMES, METHODS
from embeddings.data import Dataset

from app import state
from app.look import default_color_column
from app.sections import show_error, texts_needed
from embeddings.mapdata import OTHER, OTHER_SLOT, PALETTE, category_slots

# A layer walk holds (layers x points x width) floats and lays out every layer: keep it interactive.
MAX_TEXTS = {"text": 3000, "token": 300}
HOVER_CHARS = 120
METHOD_LABELS = {METHOD_NAMES[m]: m for m in METHODS if m != "tsne"}  # "PCA" -> "pca"; t-SNE: too slow per layer
NO_LABELS = "(none)"



def colour_groups(groups: list[str] | None) -> list[tuple[str, str, np.ndarray]]:
    """(name, colour, rows) per legend entry, as the Explore map colours the same column: the 19
    largest values each in its own colour of the same palette (slot for slot), the rest as one
    grey "other"; no groups: one plain group."""
    if groups is None:
        return [("points", PALETTE[0], None)]
    values = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    slots, grouped = category_slots(values)
    slot = values.map(slots).fillna(OTHER_SLOT).to_numpy(dtype=int)
    names = {s: name for name, s in slots.items()}
    out = []
    for s in sorted(set(slot.tolist())):
        name = names.get(s) if s in names else (OTHER if grouped else values[slot == s].iloc[0])
        out.append((name, PALETTE[s], np.flatnonzero(slot == s)))
    return out


def layer_animation(coords: list[np.ndarray], hover: list[str], groups: list[str] | None,
                    highlight: np.ndarray | None = None, title: str = "") -> go.Figure:
    """A scatter with one frame per layer and a slider; points keep their identity between frames."""
    # "other" is drawn first (under the named values, as the Explore map draws it) and listed last.
    legend = sorted(colour_groups(groups), key=lambda entry: entry[0] != OTHER or groups is None)
    members = [rows if rows is not None else np.arange(len(hover)) for _, _, rows in legend]
    if highlight is not None and highlight.any():
        members.append(np.flatnonzero(highlight))
    hover = np.asarray(hover, dtype=object)

    def traces(layer: int, look: bool) -> list[go.Scatter]:
        # A frame carries only positions: plotly merges it into the drawn traces, so the hover
        # texts and the look are sent once, not once per layer.
        out = []
        for number, rows in enumerate(members):
            trace = go.Scatter(x=coords[layer][rows, 0], y=coords[layer][rows, 1], ids=[str(r) for r in rows])
            if look:
                marked = number == len(legend)
                trace.update(
                    mode="markers", name="the word" if marked else legend[number][0], text=hover[rows],
                    legendrank=1000 + number if not marked and legend[number][0] == OTHER else 500 + number,
                    hovertemplate="%{text}<extra></extra>",
                    marker={"size": 13 if marked else 7, "symbol": "diamond" if marked else "circle",
                            "color": "#111111" if marked else legend[number][1],
                            "line": {"width": 1.5 if marked else 0, "color": "black"}},
                )
            out.append(trace)
        return out

    every = np.concatenate(coords)
    low, high = every.min(axis=0), every.max(axis=0)
    pad = (high - low) * 0.05 + 1e-6
    frames = [go.Frame(data=traces(layer, False), name=str(layer)) for layer in range(len(coords))]
    figure = go.Figure(data=traces(len(coords) - 1, True), frames=frames)
    step = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}, "transition": {"duration": 400}}
    figure.update_layout(
        title=title, height=560, showlegend=groups is not None or len(members) > len(legend),
        xaxis={"range": [low[0] - pad[0], high[0] + pad[0]], "title": ""},
        yaxis={"range": [low[1] - pad[1], high[1] + pad[1]], "title": ""},
        sliders=[{"active": len(coords) - 1, "currentvalue": {"prefix": "layer "},
                  "steps": [{"label": str(layer), "method": "animate", "args": [[str(layer)], step]}
                            for layer in range(len(coords))]}],
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.12, "xanchor": "left",
                      "buttons": [{"label": "Play from layer 0", "method": "animate",
                                   "args": [[str(layer) for layer in range(len(coords))],
                                            {**step, "frame": {"duration": 700, "redraw": False},
                                             "fromcurrent": False}]}]}],
    )
    return figure


def _controls(dataset: Dataset) -> tuple[str, str | None, str]:
    columns = [c for c in dataset.metadata.columns if c != dataset.text_column]
    left, middle, right = st.columns(3)
    level = left.radio("Level", ["text", "token"], horizontal=True, key=state.LAYERS_LEVEL,
                       format_func=lambda v: {"text": "texts (mean-pooled)", "token": "tokens in context"}[v])
    options = [NO_LABELS] + columns
    default = default_color_column(dataset.metadata, dataset.text_column)  # the sample's "topic", say
    label = middle.selectbox("Label column (k-NN accuracy and probe per layer)", options,
                             index=options.index(default) if default in options else 0, key=state.LAYERS_LABEL)
    method = right.selectbox("Layout", list(METHOD_LABELS), key=state.LAYERS_METHOD)
    return level, (None if label == NO_LABELS else label), METHOD_LABELS[method]


def _walk(dataset: Dataset, model: str, level: str, labels_column: str | None, method: str) -> dict | None:
    """Run the walk with a progress bar and a Stop button; None when stopped or failed."""
    from embeddings.layers import layer_vectors, walk_layers

    rows = np.arange(min(len(dataset), MAX_TEXTS[level]))
    texts = [dataset.texts[i] for i in rows]
    panel = st.empty()
    failure: Exception | None = None
    with panel.container():
        # A press reruns the page, which interrupts the walk at its next progress update.
        st.button("Stop", key=state.LAYERS_STOP)
        bar = st.progress(0.0, text=f"Every layer of {len(texts):,} texts with {model}...")

        def progress(done: int, total: int) -> None:
            bar.progress(min(1.0, done / total if total else 1.0), text=f"Every layer: {done:,} of {total:,} texts")

        try:
            walk = layer_vectors(texts, model, level=level, progress=progress)
            labels = None
            if labels_column is not None:
                values = dataset.metadata[labels_column].astype(str).to_numpy()[rows]
                labels = list(values if walk.rows is None else values[walk.rows["text_index"].to_numpy()])
            bar.progress(1.0, text="Laying out every layer...")
            report = walk_layers(walk, labels, method=method, probe=labels is not None)
        except Exception as error:
            failure = error
    panel.empty()
    if failure is not None:
        show_error(failure, "Walking the layers")
        return None
    return {"walk": walk, "report": report, "rows": rows, "labels": labels}


def _hover(dataset: Dataset, run: dict) -> list[str]:
    walk = run["walk"]
    texts = [dataset.texts[i] for i in run["rows"]]
    if walk.rows is None:
        return [t if len(t) <= HOVER_CHARS else t[:HOVER_CHARS] + "..." for t in texts]
    out = []
    for token, text_index, start, end in walk.rows[["token", "text_index", "start", "end"]].itertuples(index=False):
        text = texts[int(text_index)]
        context = text[max(0, start - 40): start] + "[" + text[start:end] + "]" + text[end: end + 40]
        out.append(f"<b>{token}</b><br>{context}")
    return out


def _figures_chart(run: dict) -> None:
    report = run["report"].to_dict()
    table = pd.DataFrame(report["layers"]).set_index("layer")
    wanted = {"knn_overlap_with_last": f"{report['k']}-NN overlap with the last layer",
              "knn_accuracy": f"{report['k']}-NN label accuracy", "probe_accuracy": "linear probe accuracy (5-fold)",
              "word_spread": "spread of the word's occurrences (mean cosine distance)"}
    shown = table[[c for c in wanted if c in table.columns and table[c].notna().any()]].rename(columns=wanted)
    st.line_chart(shown, x_label="layer", height=260)
    st.dataframe(shown.round(3), width="stretch")


def _word_choices(walk) -> list[str]:
    """Words that occur at least twice: the ones whose occurrences can separate."""
    from embeddings.layers import _token_text

    words = walk.rows["token"].map(_token_text)
    counts = words[words.str.len() > 1].value_counts()
    return sorted(counts[counts >= 2].index.tolist())


def render_layers(dataset: Dataset, model: str) -> None:
    """The Layers tab over `dataset`'s texts with `model`."""
    st.caption("The same points after every layer, from the input embeddings (layer 0) to the last. Each layer's "
               "layout is aligned to the next, so press Play or drag the slider and watch the points travel.")
    if texts_needed(dataset, "Walking the layers"):
        return
    level, label_column, method = _controls(dataset)
    if len(dataset) > MAX_TEXTS[level]:
        st.caption(f"Walks the first {MAX_TEXTS[level]:,} of {len(dataset):,} texts at {level} level.")
    wanted = (model, dataset.source, len(dataset), level, label_column, method)
    run = st.session_state.get(state.LAYERS_RUN)
    if st.button("Walk the layers", type="primary", key=state.LAYERS_START):
        result = _walk(dataset, model, level, label_column, method)
        if result is not None:
            run = st.session_state[state.LAYERS_RUN] = {**result, "wanted": wanted}
    if run is None:
        return
    if run["wanted"] != wanted:
        st.caption("The settings changed since this walk: press the button to walk again.")
    _render_walk(dataset, run)


def _render_walk(dataset: Dataset, run: dict) -> None:
    walk, report = run["walk"], run["report"]
    highlight = None
    word = None
    if walk.level == "token":
        choices = _word_choices(walk)
        default = choices.index("bank") if "bank" in choices else None
        word = st.selectbox("Follow a word (occurs in several contexts)", choices, index=default,
                            key=state.LAYERS_WORD, placeholder="pick a word") if choices else None
        if word:
            from embeddings.layers import occurrence_spread, occurrences

            highlight = np.zeros(len(walk), dtype=bool)
            highlight[occurrences(walk, word)] = True
            run["report"] = report = _with_spread(report, occurrence_spread(walk, word), word)
    coords = [p.coords for p in report.projections]
    title = f"{walk.model}: {len(walk):,} {'texts' if walk.level == 'text' else 'tokens'}, layer by layer"
    st.plotly_chart(layer_animation(coords, _hover(dataset, run), run["labels"], highlight, title),
                    width="stretch", key=state.LAYERS_CHART)
    st.caption(f"{report.method.upper()} per layer, aligned to the next layer; "
               f"{walk.cached:,} of {len(run['rows']):,} texts came from the cache.")
    _figures_chart(run)


def _with_spread(report, spread: list[float], word: str):
    import dataclasses

    return dataclasses.replace(report, word=word, word_spread=spread)
