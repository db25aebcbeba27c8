"""The Compare models tab: the same texts through 2-4 models, measured and seen side by side.

Figures and layouts come from `embeddings.compare`; this module only lays out widgets, keeps the
encoded vectors of the last run in the session, and links the panels (a search or a selection in
one highlights the same rows in all).
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
import streamlit as st

from app import state
from app.components.map import point_map
from app.sections import error_line, show_error, texts_needed
from embeddings.choices import METHOD_NAMES, METHODS
from embeddings.compare import compared_rows
from embeddings.data import Dataset

from app.sections.tokens import token_chips_html, tokenize_cached

MIN_MODELS, MAX_MODELS = 2, 4
METHOD_LABELS = {METHOD_NAMES[m]: m for m in METHODS}  # "PCA" -> "pca"
MOST_CHANGED = 20
PANELS_HEIGHT = 520
OVERLAP = "neighbour overlap"
OVERLAP_COLUMN = OVERLAP
ROW_COLUMN = "row"



def model_suggestions(default_model: str) -> list[str]:
    """The offline comparisons that mean something: the model, its static token table, an early layer."""
    return [default_model, f"{default_model}@static", f"{default_model}@layer3"]


def texts_digest(dataset: Dataset, rows: np.ndarray) -> str:
    """A short digest of the texts being compared (the cache key for their vectors)."""
    digest = hashlib.sha1()
    digest.update(str(dataset.source).encode("utf-8", "replace"))
    for i in rows:
        digest.update(b"\x1f")
        digest.update(dataset.texts[int(i)].encode("utf-8", "replace"))
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- cached library calls
# Vectors are passed with a leading underscore (not hashed); the run's id (its texts' digest and when) names them.


@st.cache_data(show_spinner=False, max_entries=16)
def comparison_for(run_id: str, specs: tuple[str, ...], k: int, metric: str, _vectors: dict):
    from embeddings.compare import compare_embeddings

    return compare_embeddings({s: _vectors[s] for s in specs}, k=k, metric=metric, most_changed=MOST_CHANGED)


@st.cache_data(show_spinner=False, max_entries=16)
def layouts_for(run_id: str, specs: tuple[str, ...], method: str, dims: int, seed: int, _vectors: dict):
    from embeddings.compare import aligned_projections

    projections = aligned_projections({s: _vectors[s] for s in specs}, method, dims, seed)
    return {s: (p.coords, p.rows, p.note) for s, p in projections.items()}


# ---------------------------------------------------------------- encoding (the slow part)


def encode_models(dataset: Dataset, specs: list[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Vectors per model spec, and a one-line error per spec that failed (the others go on)."""
    from embeddings.pipeline import embed_points

    vectors: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    bar = st.progress(0.0, text="Encoding...")
    for number, spec in enumerate(specs):

        def progress(done: int, total: int, number: int = number, spec: str = spec) -> None:
            share = (number + (done / total if total else 1.0)) / len(specs)
            bar.progress(min(1.0, share), text=f"Encoding with {spec}: {done:,} of {total:,} texts")

        try:
            vectors[spec] = embed_points(dataset, spec, progress=progress).vectors
        except Exception as exc:  # one model failing leaves the others to compare
            errors[spec] = error_line(exc, subject=spec)
    bar.empty()
    return vectors, errors


# ---------------------------------------------------------------- handing a comparison over


def open_comparison(dataset: Dataset, vectors: dict[str, np.ndarray]) -> None:
    """Ask this tab to show these models' vectors of `dataset` (all its rows) on the next run.

    Another tab (fine-tuning) calls this and reruns; the models go into the multiselect before
    it is drawn, the only time Streamlit lets a widget's value be set.
    """
    st.session_state[state.COMPARE_OPEN] = {"source": dataset.source, "vectors": dict(vectors)}


def _apply_opened(dataset: Dataset) -> None:
    opened = st.session_state.pop(state.COMPARE_OPEN, None)
    if opened is None or opened["source"] != dataset.source:
        return
    rows = compared_rows(len(dataset))
    specs = tuple(opened["vectors"])
    digest = texts_digest(dataset, rows)
    vectors = {spec: np.asarray(v, dtype=np.float32)[rows] for spec, v in opened["vectors"].items()}
    st.session_state[state.COMPARE_MODELS] = list(specs)
    st.session_state[state.COMPARE_RUN] = {"wanted": (specs, digest), "specs": specs, "digest": digest,
                                           "id": f"{digest}-{time.time_ns()}", "rows": rows, "vectors": vectors,
                                           "errors": {}}


# ---------------------------------------------------------------- selections


# ---------------------------------------------------------------- the tab


def render_compare(dataset: Dataset, default_model: str) -> None:
    """The Compare models tab over `dataset` (its texts), starting from `default_model`."""
    st.caption(
        "Encode the same texts with 2 to 4 models and see how their neighbourhoods agree. "
        f"Offline, compare **{default_model}** with its own static token table (`@static`) or an "
        "earlier layer (`@layer3`); type any local model folder or hub id too."
    )
    if texts_needed(dataset, "Comparing models"):
        return
    if len(dataset) < 3:
        st.info("Comparing models needs at least 3 texts.")
        return
    _apply_opened(dataset)
    specs, options = _render_options(default_model)
    run = _run_when_asked(dataset, specs)
    if len(specs) < MIN_MODELS:
        st.info("Choose at least two models to compare.")
    if run is None or run["digest"] != texts_digest(dataset, compared_rows(len(dataset))):
        return  # nothing run yet, or the data changed under a stored run: wait for the next Compare

    for message in run["errors"].values():
        st.error(message)
    ok = [s for s in run["specs"] if s in run["vectors"]]
    if len(run["rows"]) < len(dataset):
        st.caption(f"Compared a seeded sample of {len(run['rows']):,} of {len(dataset):,} texts.")
    subset = dataset if len(run["rows"]) == len(dataset) else dataset.subset(run["rows"])
    if len(ok) < MIN_MODELS:
        st.info("Fewer than two models could encode the data, so there is nothing to compare.")
        if ok:
            _render_tokens_side_by_side(subset, ok)
        return
    _render_results(subset, run, ok, *options)


def _render_options(default_model: str) -> tuple[list[str], tuple[int, str, str, int, int]]:
    """The models picked, and (k, metric, method, dims, seed)."""
    suggestions = model_suggestions(default_model)
    specs = st.multiselect(
        "Models (2-4): pick or type a model spec, a hub id or a local folder, then Enter",
        suggestions,
        default=suggestions[:2],
        max_selections=MAX_MODELS,
        accept_new_options=True,
        key=state.COMPARE_MODELS,
    )
    specs = list(dict.fromkeys(s.strip() for s in specs if s and s.strip()))
    cols = st.columns([1, 1, 1, 1, 1])
    k = cols[0].number_input("Neighbours k", min_value=1, max_value=100, value=10, key=state.COMPARE_K)
    metric = cols[1].selectbox("Metric", ["cosine", "euclidean"], key=state.COMPARE_METRIC)
    method_label = cols[2].selectbox("Layout", list(METHOD_LABELS), key=state.COMPARE_METHOD)
    dims = cols[3].radio("Dimensions", [2, 3], horizontal=True, key=state.COMPARE_DIMS)
    seed = cols[4].number_input("Seed", min_value=0, value=0, step=1, key=state.COMPARE_SEED)
    return specs, (int(k), metric, METHOD_LABELS[method_label], int(dims), int(seed))


def _run_when_asked(dataset: Dataset, specs: list[str]) -> dict | None:
    """The stored run; a press of Compare encodes the data with every model and stores a new one."""
    rows = compared_rows(len(dataset))
    digest = texts_digest(dataset, rows)
    wanted = (tuple(specs), digest)
    run = st.session_state.get(state.COMPARE_RUN)
    if run is not None and run["wanted"] != wanted:
        st.caption("The models or the data changed since the last comparison: press Compare to update.")
    if st.button("Compare", type="primary", disabled=not (MIN_MODELS <= len(specs) <= MAX_MODELS)):
        subset = dataset if len(rows) == len(dataset) else dataset.subset(rows)
        vectors, errors = encode_models(subset, specs)
        run = {
            "wanted": wanted,
            "specs": tuple(specs),
            "digest": digest,
            # Names these vectors in the figure caches: a new press may re-encode a changed folder.
            "id": f"{digest}-{time.time_ns()}",
            "rows": rows,
            "vectors": vectors,
            "errors": errors,
        }
        st.session_state[state.COMPARE_RUN] = run
    return run


def _render_results(
    dataset: Dataset, run: dict, specs: list[str], k: int, metric: str, method: str, dims: int, seed: int
) -> None:
    n = len(dataset)
    k = min(k, n - 1)
    try:
        comparison = comparison_for(run["id"], tuple(specs), k, metric, run["vectors"])
    except Exception as exc:
        show_error(exc)
        return
    _render_agreement(comparison, k)
    metadata, text_column = panel_table(dataset, comparison.overlap_per_point)
    try:
        with st.spinner("Laying out the panels..."):
            layouts = layouts_for(run["id"], tuple(specs), method, dims, seed, run["vectors"])
    except Exception as exc:
        show_error(exc)
        return
    choices = _changed_choices(comparison)
    choice = st.session_state.get(state.COMPARE_PAIR, 0) or 0
    choice = choice if choice < len(choices) else 0
    picked = _picked_point(comparison, choices[choice][1], choice)
    _render_panels(run, specs, layouts, metadata, text_column, picked, f"{method}|{dims}|{seed}")
    _render_most_changed(choices, choice, picked, specs, metadata, text_column)
    _render_tokens_side_by_side(dataset, specs)


def panel_table(dataset: Dataset, overlap_per_point) -> tuple[pd.DataFrame, str | None]:
    """The data's table with each point's neighbour overlap as one more column, and the text column."""
    metadata = dataset.metadata.reset_index(drop=True).copy()
    # The index is the row id (the map's events speak in row ids); the overlap is one more column.
    metadata = metadata.drop(columns=[OVERLAP_COLUMN], errors="ignore")
    metadata[OVERLAP_COLUMN] = np.round(np.asarray(overlap_per_point, dtype=np.float64), 3)
    text_column = dataset.text_column if dataset.text_column in metadata.columns else None
    return metadata, text_column


def _render_agreement(comparison, k: int) -> None:
    st.markdown("#### Agreement between the models")
    for pair in comparison.pairs:
        st.markdown(f"**{pair.a}** vs **{pair.b}**")
        a, b, c = st.columns(3)
        a.metric(f"Mean {k}-NN overlap", _figure_text(pair.mean_knn_overlap),
                 help="Jaccard overlap of each point's k nearest neighbours in the two spaces, averaged")
        b.metric("Linear CKA", _figure_text(pair.cka), help="Centered kernel alignment of the two vector sets")
        c.metric("Distance rank correlation", _figure_text(pair.distance_spearman),
                 help="Spearman correlation of pairwise distances in the two spaces")
    for note in comparison.notes:
        st.caption(note)


def _picked_point(comparison, ranked: list[dict], choice: int) -> dict | None:
    """The row picked in the most-changed table, with its neighbours in every model."""
    changed_state = st.session_state.get(state.COMPARE_CHANGED.format(pair=choice))
    try:
        picked_rows = list(changed_state["selection"]["rows"]) if changed_state is not None else []
    except (KeyError, TypeError):
        picked_rows = []
    if not picked_rows or picked_rows[0] >= len(ranked):
        return None
    row = int(ranked[picked_rows[0]]["row"])
    return {"row": row, "neighbors": comparison.neighbors_of(row)}


def _render_panels(run: dict, specs: list[str], layouts: dict, metadata: pd.DataFrame, text_column: str | None,
                  picked: dict | None, layout: str) -> None:
    """One map with a panel per model: hover, selection and search light up the same texts in all."""
    st.markdown("#### The panels")
    st.caption("Colour, search, hover, click or drag a box (Box or Lasso) in any panel: "
               "the same texts light up in every panel.")
    kept = np.asarray(layouts[specs[0]][1])  # every model keeps the same (seeded) rows
    highlight: list[int] = []
    if picked is not None:
        near = {int(r) for spec in specs for r in picked["neighbors"].get(spec, [])}
        highlight = sorted(near | {int(picked["row"])})
    point_map(
        None, metadata.iloc[kept], key=state.COMPARE_MAP, data_id=f"{run['id']}|{layout}",
        panels=[(spec, layouts[spec][0]) for spec in specs], color_by=OVERLAP_COLUMN, text_column=text_column,
        highlight=highlight, focus=None if picked is None else int(picked["row"]),
        height=PANELS_HEIGHT if len(specs) <= 3 else 2 * PANELS_HEIGHT - 120,  # four go two by two
    )
    for spec in specs:
        if layouts[spec][2]:
            st.caption(f"{spec}: {layouts[spec][2]}")


def _render_most_changed(
    choices: list, choice: int, picked: dict | None, specs: list[str], metadata: pd.DataFrame,
    text_column: str | None,
) -> None:
    """The ranked table, and the picked point's neighbours in every model."""
    st.markdown("#### Points whose neighbourhoods changed most")
    if len(choices) > 1:
        st.selectbox("Rank by", range(len(choices)), format_func=lambda i: choices[i][0], key=state.COMPARE_PAIR)
    st.dataframe(
        _most_changed_table(choices[choice][1], metadata, text_column),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=state.COMPARE_CHANGED.format(pair=choice),
    )
    if picked is None:
        st.caption("Pick a row to see its neighbours in every model, highlighted in the panels.")
    else:
        _render_neighbours(picked, specs, metadata, text_column)


def _figure_text(value: float) -> str:
    """Three decimals; a figure that is undefined (a constant space) reads as n/a."""
    return f"{value:.3f}" if np.isfinite(value) else "n/a"


def _changed_choices(comparison) -> list[tuple[str, list[dict]]]:
    """(label, ranked most-changed points) per way of ranking: over all pairs, then each pair."""
    choices = [(f"{p.a} vs {p.b}", p.most_changed) for p in comparison.pairs]
    if len(comparison.pairs) > 1:
        choices.insert(0, ("all models (mean overlap over the pairs)", comparison.most_changed(MOST_CHANGED)))
    return choices


def _most_changed_table(ranked: list[dict], metadata: pd.DataFrame, text_column: str | None) -> pd.DataFrame:
    rows = [int(item["row"]) for item in ranked]
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(rows) + 1),
            ROW_COLUMN: rows,
            "overlap": [round(float(item["overlap"]), 3) for item in ranked],
        }
    )
    if text_column:
        table[text_column] = metadata[text_column].iloc[rows].astype(str).to_numpy()
    return table


def _label(metadata: pd.DataFrame, text_column: str | None, row: int) -> str:
    if text_column:
        return str(metadata[text_column].iloc[row])
    return f"row {row}"


def _render_neighbours(picked: dict, specs: list[str], metadata: pd.DataFrame, text_column: str | None) -> None:
    row = int(picked["row"])
    st.markdown(f"Neighbours of row {row}: *{_label(metadata, text_column, row)}*")
    columns = st.columns(len(specs))
    others = {spec: set(picked["neighbors"].get(spec, [])) for spec in specs}
    for column, spec in zip(columns, specs):
        neighbours = [int(r) for r in picked["neighbors"].get(spec, [])]
        shared = set.intersection(*others.values()) if others else set()
        table = pd.DataFrame(
            {
                ROW_COLUMN: neighbours,
                "in every model": [r in shared for r in neighbours],
                "text": [_label(metadata, text_column, r) for r in neighbours],
            }
        )
        column.markdown(f"**{spec}**")
        column.dataframe(table, hide_index=True, width="stretch")


def _render_tokens_side_by_side(dataset: Dataset, specs: list[str]) -> None:
    st.markdown("#### One text, tokenized by each model")
    default = dataset.texts[0] if dataset.texts else ""
    text = st.text_input("Text", value=default, key=state.COMPARE_TOKEN_TEXT)
    if not text.strip():
        st.error("Type some text to tokenize.")
        return
    columns = st.columns(len(specs))
    for column, spec in zip(columns, specs):
        with column:
            st.markdown(f"**{spec}**")
            try:
                tok = tokenize_cached(text, spec)
            except Exception as exc:
                show_error(exc, subject=spec)
                continue
            st.caption(f"{len(tok.tokens)} tokens")
            st.html(token_chips_html(tok))
