"""The embedding explorer's page. Served by app/server.py, behind its access token (`make run`,
`embeddings view DATA`).

Sidebar: where the points come from and how they are projected. Tabs: explore the points
(plot, search, neighbours, export), look at tokens, walk through the layers, compare models,
fine-tune a model on labelled texts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Streamlit puts app/ on sys.path (the folder of the script it runs), not the repository root.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app import state  # noqa: E402
from app.sections import guarded, show_error, texts_needed  # noqa: E402

from app.sections.compare import render_compare  # noqa: E402
from app.sections.data import last_points, load_points, render_data_panel  # noqa: E402
from app.sections.explore import render_explore  # noqa: E402
from app.sections.export import render_export  # noqa: E402
from app.sections.finetune import render_finetune  # noqa: E402
from app.sections.layers import render_layers  # noqa: E402
from app.sections.projection import render_projection_panel  # noqa: E402
from app.sections.saved_views import (  # noqa: E402
    render_saved_views, reopen_from_url, view_on_screen, write_url,
)
from app.sections.tokens import render_tokens  # noqa: E402
from embeddings.access import UNGATED, started_without_gate  # noqa: E402
from embeddings.choices import DEFAULT_MODEL  # noqa: E402
from embeddings.errors import InputError  # noqa: E402
from embeddings.pipeline import takes_queries  # noqa: E402

st.set_page_config(page_title="Embedding explorer", page_icon=":material/scatter_plot:", layout="wide")
st.title("Embedding explorer")
if started_without_gate(os.environ, served_over_http=bool(st.context.headers)):
    show_error(InputError(UNGATED))  # app/server.py is the way in: its token gate answers before any script runs
    st.stop()
reopen_from_url()  # a reload or a shared link: put its view into the widgets before they are drawn

with st.sidebar:
    choice = render_data_panel()
with st.container():  # the encoding progress and its notes live here, so the tabs below keep their place
    points = load_points(choice) if choice is not None else None
    if points is None:
        points = last_points()  # keep exploring what loaded last; the message above says what failed
bookmarks = choice.dataset.bookmarks if choice is not None and choice.precomputed else ()
if points is not None:
    with st.sidebar:
        params = render_projection_panel(len(points), points.vectors.shape[1], bookmarks,
                                         can_encode=takes_queries(points))

if state.OPEN_TAB in st.session_state:  # a tab asked to open another: set before the tabs exist
    st.session_state[state.TAB] = st.session_state.pop(state.OPEN_TAB)
explore_tab, tokens_tab, layers_tab, compare_tab, finetune_tab = st.tabs(
    ["Explore", "Tokens", "Layers", "Compare models", "Fine-tune"], key=state.TAB
)
shown = None
with explore_tab, guarded("Exploring"):
    shown = render_explore(points, params, bookmarks) if points is not None else None
    if shown is not None:
        render_export(shown.points, shown.layout, shown.look, shown.shown)
    elif choice is None:
        st.info("Choose some data in the sidebar.")
with st.sidebar, guarded("Saved views"):
    # Custom axes (their ends are typed in widgets) are not a savable view method yet.
    savable = shown is not None and params.method != "custom"
    current = view_on_screen(choice, params, shown.look) if savable else None
    if shown is not None:
        write_url(current, shown.look)  # the URL equals the view on screen, the look included
    render_saved_views(current, bookmarks)
# While a UMAP or t-SNE layout forms on the map, the other tabs wait for it, as they did behind
# its spinner before the map could show it forming: their models and encodings would take the
# cores it computes on (at 10k points the Tokens tab's model alone made the t-SNE take twice as
# long). The map reruns the page when the layout is done or stopped, and the tabs come then.
forming = shown is not None and shown.layout.live is not None and shown.layout.live["state"] in ("preparing", "running")
if forming:
    state.keep_widgets(("tokens.", "layers.", "compare.", "finetune."))  # what was typed there stays
    for tab in (tokens_tab, layers_tab, compare_tab, finetune_tab):
        tab.caption("This tab is drawn once the layout on the Explore tab is done or stopped (it would slow it down).")
with tokens_tab, guarded("The Tokens tab"):
    # An image model (raw pixels, CLIP) is not what the Tokens tab reads: it shows the default model's.
    text_model = choice is not None and choice.model and choice.dataset.images is None
    if not forming:
        render_tokens(choice.model if text_model else DEFAULT_MODEL)
dataset = choice.dataset if choice is not None else None
with layers_tab, guarded("The Layers tab"):
    if not forming and not texts_needed(dataset, "Walking the layers"):
        render_layers(dataset, choice.model or DEFAULT_MODEL)
# Fine-tune is drawn before Compare: a finished run hands its models over before Compare's widgets exist.
with finetune_tab, guarded("Fine-tuning"):
    if not forming and not texts_needed(dataset, "Fine-tuning"):
        tuned = render_finetune(dataset, choice.model or DEFAULT_MODEL)
        if tuned is not None and tuned.pop("opened", False):
            st.session_state[state.OPEN_TAB] = "Compare models"
            st.rerun()
with compare_tab, guarded("Comparing models"):
    if not forming:
        if dataset is not None and dataset.has_texts:
            st.session_state[state.LAST_TEXTS] = (dataset, choice.model or DEFAULT_MODEL)
        # New input that failed keeps the last texts that loaded; new input without texts says so.
        compared = state.get(state.LAST_TEXTS) if dataset is None or dataset.has_texts else None
        if dataset is None and compared is not None:
            st.caption(f"Comparing the last texts that loaded ({compared[0].source}).")
        if compared is not None:
            render_compare(*compared)
        else:
            texts_needed(dataset, "Comparing models")
