"""The Tokens tab: how a model's tokenizer splits text, its tokens' contextual vectors per layer,
and the model's input embedding table (the vocabulary map, like the projector's word2vec demo).

Only widgets and layout live here; tokenizing, encoding and projecting are library calls
(`embeddings.encode`, `embeddings.reduce`), cached on plain values.
"""

from __future__ import annotations

import hashlib
import html
import re

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.components.map import peek_event, point_map
from app.sections import counted, error_line, show_error
from embeddings.choices import METHOD_NAMES, METHODS

# Texts where context matters: "bank" with two meanings, rare words split into pieces, a
# number, punctuation and a contraction.
DEFAULT_TEXT = (
    "I sat on the river bank and watched the boats drift by.\n"
    "The bank raised its interest rates unexpectedly in 2024, didn't it?\n"
    "Tokenizers split unbelievably rare words like hyperparameterization."
)
MIN_TOKENS_TO_PROJECT = 3
VOCAB_METHODS = {METHOD_NAMES[m]: m for m in METHODS if m != "tsne"}  # "PCA" -> "pca"; t-SNE: too slow here
VOCAB_SIZES = (500, 1000, 2000, 5000)
VOCAB_TAB_SIZE = 1000  # this tab's own default: a quick first picture
NEIGHBOURS_SHOWN = 10
MODEL_FACTS_TTL_S = 300  # a model folder created or fixed meanwhile is seen within minutes


# Pale, distinct backgrounds for neighbouring tokens (the text stays readable on all of them).
CHIP_COLOURS = ("#ffd8a8", "#c3fae8", "#d0bfff", "#ffc9c9", "#a5d8ff", "#d8f5a2", "#fcc2d7", "#ffec99")


# ---------------------------------------------------------------- cached library calls


@st.cache_data(show_spinner=False, max_entries=64, ttl=MODEL_FACTS_TTL_S)
def model_facts(model: str) -> dict:
    """Plain facts about a model, or {"error": one line} (loads it once per process).

    A failure is returned rather than raised so that it is cached too: an unknown hub id can
    take seconds to refuse, and every rerun of the page would otherwise wait for it again.
    """
    from embeddings.models import load_model

    try:
        loaded = load_model(model)
    except Exception as exc:
        return {"error": error_line(exc, subject=model)}
    return {
        "name": loaded.spec.name,
        "dim": int(loaded.dim),
        "num_layers": int(loaded.num_layers),
        "max_seq_length": loaded.max_seq_length,
    }


@st.cache_data(show_spinner=False, max_entries=256)
def tokenize_cached(text: str, model: str):
    from embeddings.encode import tokenize

    return tokenize(text, model)


@st.cache_data(show_spinner=False, max_entries=32)
def token_layout(texts: tuple[str, ...], model: str, layer: int, include_special: bool):
    """(coords (n, 2) or None, rows DataFrame, variance explained) for the tokens of `texts` at `layer`."""
    from embeddings.encode import token_embeddings
    from embeddings.reduce import project

    emb = token_embeddings(list(texts), model, layer=layer, include_special=include_special)
    rows = emb.rows.reset_index(drop=True) if emb.rows is not None else pd.DataFrame()
    if len(emb.vectors) < MIN_TOKENS_TO_PROJECT:
        return None, rows, None
    projection = project(emb.vectors, "pca", 2, seed=0)
    return projection.coords, rows, projection.variance_explained


@st.cache_data(show_spinner=False, max_entries=8)
def vocabulary_vectors(model: str, top_n: int, words: tuple[str, ...] | None):
    """(vectors, rows) of the input embedding table: the top_n most useful tokens, or `words`."""
    from embeddings.pipeline import embed_points

    points = embed_points(None, model, level="vocab", vocab_size=top_n, vocab_tokens=list(words) if words else None)
    return points.vectors, points.table


@st.cache_data(show_spinner=False, max_entries=8)
def vocabulary_layout(model: str, top_n: int, words: tuple[str, ...] | None, method: str, dims: int, seed: int = 0):
    from embeddings.reduce import project

    vectors, _ = vocabulary_vectors(model, top_n, words)
    projection = project(vectors, method, dims, seed=seed)
    return projection.coords, projection.rows, projection.note


# ---------------------------------------------------------------- pure helpers (tested directly)


def nearest_tokens(vectors: np.ndarray, tokens: list[str], row: int, k: int = NEIGHBOURS_SHOWN) -> tuple[pd.DataFrame, list[int]]:
    """The k tokens nearest to token `row` (cosine; the token itself is never one): table and rows."""
    from embeddings.neighbors import nearest

    found = nearest(vectors, row, min(k, len(tokens) - 1) or 1, "cosine")
    near = [int(i) for i in found.rows]
    table = pd.DataFrame({"token": [tokens[i] for i in near],
                          "cosine distance": [round(float(d), 4) for d in found.distances]})
    return table, near


def _visible(piece: str) -> str:
    """Whitespace a reader can see inside a chip (a leading space would vanish otherwise)."""
    return piece.replace(" ", "\u00b7").replace("\t", "\u21e5").replace("\n", "\u21b5")


def token_chips_html(tok) -> str:
    """The text as coloured inline spans, one per token; special tokens outlined; hover shows id and span."""
    parts: list[str] = []
    cursor = 0
    colour = 0
    # A slow (non-"fast") tokenizer gives no character spans: show the token strings alone.
    spans = any(end > start for (start, end), special in zip(tok.offsets, tok.special) if not special)
    for position, (token, token_id, (start, end), special) in enumerate(
        zip(tok.tokens, tok.ids, tok.offsets, tok.special)
    ):
        title = html.escape(f"#{position} {token!r} id {token_id} span {start}:{end}", quote=True)
        if special:
            parts.append(
                f'<span title="{title}" style="border:1px dashed #868e96;color:#495057;border-radius:4px;'
                f'padding:1px 4px;margin:0 2px;font-size:0.8em;font-family:monospace">{html.escape(token)}</span>'
            )
            continue
        if spans and start > cursor:  # text the tokenizer skipped (usually spaces) stays plain
            parts.append(html.escape(tok.text[cursor:start]))
        piece = tok.text[start:end] if spans and end > start else token
        if start < cursor:  # several tokens for one span (byte pieces of one character)
            piece = token
        parts.append(
            f'<span title="{title}" style="background:{CHIP_COLOURS[colour % len(CHIP_COLOURS)]};'
            f'border-radius:4px;padding:1px 2px;margin:0 1px;color:#212529">{html.escape(_visible(piece))}</span>'
        )
        colour += 1
        cursor = max(cursor, end)
    if spans and cursor < len(tok.text):
        parts.append(html.escape(tok.text[cursor:]))
    return '<div style="line-height:2.1;font-size:1.05em;white-space:pre-wrap">' + "".join(parts) + "</div>"


# ---------------------------------------------------------------- the tab


def render_tokens(model: str) -> None:
    """The Tokens tab for `model` (a model spec string)."""
    facts = model_facts(model)
    if "error" in facts:  # an unknown model must not take the page down
        st.error(facts["error"])
        return
    st.caption(
        f"Model **{facts['name']}**: {facts['num_layers']} layers, {facts['dim']} dimensions. "
        "Hover a token to see its id and character span."
    )
    _render_text_tokens(model, facts)
    st.divider()
    _render_vocabulary(model)


def _render_text_tokens(model: str, facts: dict) -> None:
    st.markdown("#### Tokenization")
    raw = st.text_area(
        "Text to tokenize (one text per line to compare the tokens of several texts)",
        value=DEFAULT_TEXT,
        key=state.TOKENS_TEXT,
        height=120,
    )
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if not texts:
        st.error("Type some text to tokenize.")
        return

    tokenizations = []
    for number, text in enumerate(texts, start=1):
        try:
            tok = tokenize_cached(text, model)
        except Exception as exc:
            show_error(exc, subject=model)
            return
        tokenizations.append(tok)
        label = f"Text {number}: " if len(texts) > 1 else ""
        st.markdown(f"{label}**{len(tok.tokens)} tokens**, {sum(tok.special)} special")
        st.html(token_chips_html(tok))
    with st.expander("Token table", expanded=len(texts) == 1):
        for number, tok in enumerate(tokenizations, start=1):
            if len(texts) > 1:
                st.caption(f"Text {number}")
            st.dataframe(tok.table(), hide_index=True, width="stretch")
    _render_layer_vectors(model, facts, texts)


def _render_layer_vectors(model: str, facts: dict, texts: list[str]) -> None:
    """The texts' token vectors at a chosen layer, projected with PCA."""
    st.markdown("#### Contextual token vectors")
    num_layers = facts["num_layers"]
    controls = st.columns([3, 1])
    if num_layers > 0:
        layer = controls[0].slider(
            "Layer (0 = input embeddings, then the output of each layer)",
            min_value=0,
            max_value=num_layers,
            value=num_layers,
            key=state.TOKENS_LAYER,
        )
    else:
        layer = 0
        controls[0].caption("This model has one layer of vectors: its input embedding table.")
    include_special = controls[1].checkbox("Special tokens", value=False, key=state.TOKENS_SPECIAL)
    try:
        with st.spinner("Encoding tokens..."):
            coords, rows, variance = token_layout(tuple(texts), model, int(layer), include_special)
    except Exception as exc:
        show_error(exc, subject=model)
        return
    if coords is None:
        st.info(
            f"Only {len(rows)} token{'s' if len(rows) != 1 else ''} at this layer: a projection needs at least "
            f"{MIN_TOKENS_TO_PROJECT}. Type a longer text or add a line."
        )
        return
    metadata = rows.copy()
    metadata["text"] = [
        f"{i + 1}: {texts[i][:40]}{'…' if len(texts[i]) > 40 else ''}" for i in metadata["text_index"]
    ]
    title = f"Tokens at layer {layer} (PCA"
    if variance:
        title += f", {sum(variance):.0%} of variance"
    title += ")"
    texts_digest = hashlib.sha1("\0".join(texts).encode("utf-8")).hexdigest()[:16]
    point_map(
        None, metadata[["token", "position", "token_id", "text"]], key=state.TOKENS_LAYER_CHART,
        data_id=f"tokens|{model}|{layer}|{include_special}|{texts_digest}", panels=[(title, coords)],
        color_by="text" if len(texts) > 1 else None, label_by="token", text_column="token", height=520,
    )


def _chart_selection(tokens: list[str]) -> list[int]:
    """Rows selected in the vocabulary map. A click on one token also picks it in "Nearest tokens
    to" (once per click, so the select box stays the user's to change)."""
    event = peek_event(state.VOCAB_CHART)
    if event is None:
        return []
    if event.new and event.type == "click" and event.clicked is not None and 0 <= event.clicked < len(tokens):
        st.session_state[state.VOCAB_FOCUS] = tokens[event.clicked]
    return [r for r in event.selection if 0 <= r < len(tokens)]


def _render_vocabulary_options() -> tuple[tuple[str, ...] | None, int, str, int] | None:
    """(words or None, how many tokens, projection label, dims); None when the word list is empty."""
    st.markdown("#### Vocabulary: the input embedding table")
    st.caption(
        "Each point is one token's row of the model's input embedding table, before any context, "
        "as in the projector's word2vec demo. Search in the map or box-select to highlight tokens; "
        "click one (or pick it) to see its nearest tokens."
    )
    left, middle, right = st.columns([2, 1, 1])
    source = left.radio(
        "Tokens", ["Most frequent tokens", "My word list"], horizontal=True, key=state.VOCAB_SOURCE
    )
    method_label = middle.selectbox("Projection", list(VOCAB_METHODS), key=state.VOCAB_METHOD)
    dims = right.radio("Dimensions", [2, 3], horizontal=True, key=state.VOCAB_DIMS)
    if source != "My word list":
        top_n = st.select_slider("How many tokens", VOCAB_SIZES, value=VOCAB_TAB_SIZE, key=state.VOCAB_TOP_N)
        return None, int(top_n), method_label, int(dims)
    raw_words = st.text_area(
        "Words (one per line or comma-separated)",
        value="king, queen, man, woman, paris, france, berlin, germany, cat, dog, apple, banana",
        key=state.VOCAB_WORDS,
    )
    words = tuple(dict.fromkeys(w.strip() for w in re.split(r"[,\n]", raw_words) if w.strip()))
    if not words:
        st.error("Type at least one word for the vocabulary map.")
        return None
    return words, VOCAB_TAB_SIZE, method_label, int(dims)


def _render_vocabulary(model: str) -> None:
    options = _render_vocabulary_options()
    if options is None:
        return
    words, top_n, method_label, dims = options
    method = VOCAB_METHODS[method_label]
    try:
        with st.spinner("Projecting the vocabulary..."):
            vectors, rows = vocabulary_vectors(model, int(top_n), words)
            coords, kept, note = vocabulary_layout(model, int(top_n), words, method, int(dims))
    except Exception as exc:
        show_error(exc, subject=model)
        return
    if note:
        st.caption(note)

    tokens = rows["token"].astype(str).tolist()
    chosen = _chart_selection(tokens)
    focus = st.selectbox(
        "Nearest tokens to",
        [None] + tokens,
        format_func=lambda t: "(pick a token)" if t is None else t,
        key=state.VOCAB_FOCUS,
    )
    neighbours, highlight = None, []
    if focus is not None:
        focus_row = tokens.index(focus)
        neighbours, near_rows = nearest_tokens(vectors, tokens, focus_row)
        highlight = [focus_row, *near_rows]
    if len(chosen) > 1:
        names = ", ".join(tokens[r] for r in chosen[:12]) + (", …" if len(chosen) > 12 else "")
        st.caption(f"{counted(len(chosen), 'token')} selected in the map: {names}")
    data_id = f"vocab|{model}|{top_n}|{hashlib.sha1(repr(words).encode()).hexdigest()[:16]}|{method}|{dims}"
    _render_vocabulary_map(coords, kept, rows, data_id, highlight, chosen, focus, neighbours, f"{method_label} {dims}D")


def _render_vocabulary_map(coords: np.ndarray, kept, rows: pd.DataFrame, data_id: str, highlight: list[int],
                           chosen: list[int], focus: str | None, neighbours: pd.DataFrame | None, layout: str) -> None:
    tokens = rows["token"].astype(str).tolist()
    shown = rows.iloc[np.asarray(kept)]  # index = row id, so highlights and rings use row ids
    plot_col, list_col = st.columns([3, 1])  # the same layout with or without neighbours: the map stays put
    with plot_col:
        point_map(
            None, shown[[c for c in ("token", "token_id", "pieces") if c in shown.columns]], key=state.VOCAB_CHART,
            data_id=data_id, panels=[(f"{len(shown):,} tokens, {layout}", coords)], text_column="token",
            label_by="token", highlight=highlight,  # labels where they have room, as on every map
            selection=chosen, focus=None if focus is None else tokens.index(focus), height=560,
        )
    if neighbours is not None:
        list_col.markdown(f"Nearest to **{focus}**")
        list_col.dataframe(neighbours, hide_index=True, width="stretch")
