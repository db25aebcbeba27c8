"""Views that last and travel: save the current view under a name, list and reopen saved views
(and the bookmarks a projector config came with), and keep the page URL on the current view.

A view is ``embeddings.views.View`` (small JSON). Reopening one sets the widgets' session state
before they are drawn, so the page then computes the same projection (cached), and hands its
look to the look's one owner (app/look.py). The page URL is written here alone, on every run,
from the view on screen: the URL always equals what the page shows.
"""

from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from app import look as owner
from app import state
from app.sections import show_error
from app.sections.data import LEVEL_LABELS
from embeddings.data import SAMPLES
from embeddings.errors import InputError
from embeddings.choices import LOOK_KEYS, METHOD_NAMES
from embeddings.look import Look
from embeddings.views import QUERY_KEYS, PARAMS, View, delete_view, load_views, save_view

LEARNING_RATES = ("auto", 10, 50, 100, 200, 500, 1000)
PARAM_KEYS = tuple(key for params in PARAMS.values() for _, key in params.values())
URL_KEYS = QUERY_KEYS + PARAM_KEYS + LOOK_KEYS  # every URL parameter of a view: written here alone


def current_view(data: str | None, tensor: str | None, model: str | None, level: str, layer: int,
                 method: str, dims: int, seed: int, params: Mapping[str, Any], bookmark: int | None,
                 look: Look, *, metadata: str | None = None, text_column: str | None = None,
                 image_column: str | None = None) -> View:
    """The view on screen, from plain values (data reference, recipe) and the look."""
    keep = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if k in PARAMS[method]}
    return View(data=data, tensor=tensor, metadata=metadata, text_column=text_column, image_column=image_column,
                model=model or None, level=level, layer=layer, method=method, dims=dims,
                seed=seed, params=keep, bookmark=bookmark, look=look)


def view_on_screen(choice: Any, params: Any, look: Look) -> View | None:
    """The page's current view (data choice, projection parameters, look), or None when it
    cannot be named (no data choice)."""
    if choice is None:
        return None
    return current_view(
        choice.data_ref, choice.tensor, choice.model or None if not choice.precomputed else None,
        choice.level, choice.layer, params.method, params.dims, params.seed, params.params, params.bookmark,
        look, metadata=choice.metadata, text_column=choice.text_column, image_column=choice.image_column,
    )


# ------------------------------------------------------------------ reopening


def widget_values(view: View) -> tuple[dict[str, Any], list[str]]:
    """Session-state values that make the widgets show `view`, and notes for what cannot be restored."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    data = view.data or ""
    if data.startswith("sample:") and data.removeprefix("sample:") in SAMPLES:
        values[state.SOURCE], values[state.SAMPLE] = "Sample", data.removeprefix("sample:")
    elif data.startswith("sample:"):
        notes.append(f"This view was made from a sample this version does not have ({data}).")
    elif data.startswith(("upload:", "paste:")):
        notes.append(f"This view was made from {'an uploaded file' if data.startswith('upload:') else 'pasted texts'}"
                     f" ({data.split(':', 1)[1]}): give the same data again to see it.")
    elif data:  # a path on this machine, with the tensor, metadata file or image column that goes with it
        values[state.SOURCE], values[state.DATA_PATH] = state.PATH_SOURCE, data
        values[state.PATH_METADATA] = view.metadata or ""
        values[state.IMAGE_COLUMN] = view.image_column or ""
        if view.tensor:
            values[state.TENSOR] = view.tensor
    values[state.TEXT_COLUMN] = view.text_column  # None: the reader's own (the picker starts from it)
    if view.model:
        values[state.MODEL] = view.model
    values[state.LEVEL] = LEVEL_LABELS[view.level]
    if view.level == "token" and view.layer >= 0:
        values[state.LAYER] = view.layer
    values[state.BOOKMARK] = bookmark_option(view.bookmark, view.name) if view.bookmark is not None else COMPUTE
    if view.method in METHOD_NAMES:
        values[state.METHOD] = METHOD_NAMES[view.method]
    values[state.DIMS], values[state.SEED] = view.dims, view.seed
    values.update(_param_values(view))
    return values, notes


def _param_values(view: View) -> dict[str, Any]:
    params, values = view.params, {}
    for axis, component in zip("xyz", params.get("components") or ()):
        values[f"{state.PCA_AXES}_{axis}"] = int(component)
    if view.method == "umap":
        for name, key in (("n_neighbors", state.UMAP_NEIGHBORS), ("min_dist", state.UMAP_MIN_DIST),
                          ("metric", state.UMAP_METRIC)):
            if name in params:
                values[key] = params[name]
    if view.method == "tsne":
        if "perplexity" in params:
            values[state.TSNE_PERPLEXITY] = int(round(min(100, max(2, params["perplexity"]))))
        rate = params.get("learning_rate", "auto")
        values[state.TSNE_LEARNING_RATE] = rate if rate == "auto" or rate not in LEARNING_RATES else int(rate)
        if "n_iter" in params:
            values[state.TSNE_ITERATIONS] = int(params["n_iter"])
    return values


def apply_view(view: View) -> None:
    """Put `view` into the widgets' state (drawn next) and its look to the look's owner; say what
    cannot be restored. The URL follows at the end of the run."""
    values, notes = widget_values(view)
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state[state.VIEW_NOTES] = notes
    owner.reopen(view.look)


def reopen_from_url() -> None:
    """On a session's first run, reopen the view the page URL names (a reload or a shared link)."""
    if st.session_state.get(state.URL_READ):
        return
    st.session_state[state.URL_READ] = True
    if not any(key in st.query_params for key in ("data", "method")):
        return
    try:
        view = View.from_query({key: st.query_params.get_all(key) for key in st.query_params})
    except InputError as error:
        show_error(error)
        return
    values, notes = widget_values(view)
    for key, value in values.items():
        st.session_state[key] = value
    st.session_state[state.VIEW_NOTES] = notes
    # a link that names no colour (one typed by hand) is coloured as a fresh page would be;
    # the page itself writes `color=` (empty) when the colour was turned off
    owner.reopen(view.look, default_color="color" not in st.query_params)


def write_url(view: View | None, look: Look | None = None) -> None:
    """Keep the page URL on the view on screen (every parameter, the look's included); with no
    view to name (custom axes), on the look alone. Row lists of more than MAX_URL_ROWS stay out
    of a link (a saved view keeps them). No colour is written as `color=` (empty): a link without
    `color` takes the data's default colour column."""
    query = view.to_query() if view is not None else (look or Look()).to_query()
    if "color" not in query:
        query["color"] = ""
    keys = URL_KEYS if view is not None else LOOK_KEYS
    for key in keys:
        if key in query:
            if st.query_params.get(key) != query[key]:
                st.query_params[key] = query[key]
        elif key in st.query_params:
            del st.query_params[key]


# ------------------------------------------------------------------ bookmarks as layouts

COMPUTE = "Compute"


def bookmark_option(index: int, name: str) -> str:
    return f"{index + 1}. {name}"


def chosen_bookmark(bookmarks: tuple[View, ...]) -> int | None:
    """A select box of the projector bookmarks the data came with; the chosen one's index."""
    if not bookmarks:
        return None
    options = [COMPUTE] + [bookmark_option(i, v.name) for i, v in enumerate(bookmarks)]
    if st.session_state.get(state.BOOKMARK) not in options:
        st.session_state[state.BOOKMARK] = COMPUTE
    choice = st.selectbox("Layout", options, key=state.BOOKMARK,
                          help="Compute a projection here, or show a projector bookmark's own coordinates.")
    return None if choice == COMPUTE else options.index(choice) - 1


# ------------------------------------------------------------------ the panel


def render_saved_views(current: View | None, bookmarks: tuple[View, ...] = ()) -> None:
    """Save the current view under a name; reopen or delete saved views and the data's bookmarks."""
    with st.expander("Saved views", expanded=bool(st.session_state.get(state.VIEW_NOTES))):
        for note in st.session_state.get(state.VIEW_NOTES) or []:
            st.info(note)
        name = st.text_input("Name", key=state.VIEW_NAME, placeholder="e.g. topics in UMAP")
        if st.button("Save view", key=state.SAVE_VIEW, disabled=current is None):
            try:
                path = save_view(View.from_dict({**current.to_dict(), "name": name.strip()}))
                st.success(f"Saved “{name.strip()}” ({path.name}).")
            except InputError as error:
                show_error(error)
        saved, problems = load_views()
        for problem in problems:
            st.caption(f"Skipped: {problem}")
        choices = {f"{v.name}": v for v in saved}
        choices.update({f"bookmark: {v.name}": v for v in bookmarks})
        if not choices:
            st.caption("No saved views yet. The page address also holds the view on screen: "
                       "reload it or send the link to reopen it.")
            return
        picked = st.selectbox("Saved views", list(choices), key=state.SAVED_VIEW)
        open_col, delete_col = st.columns(2)
        # Callbacks: they run before the widgets are drawn again, so they may set their state.
        open_col.button("Open", key=state.OPEN_VIEW, on_click=apply_view, args=(choices[picked],))
        delete_col.button("Delete", key=state.DELETE_VIEW, disabled=picked not in {v.name for v in saved},
                          on_click=delete_view, args=(choices[picked].name,))
