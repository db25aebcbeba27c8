"""The embedding explorer: `streamlit run app/main.py`.

Sidebar: where the points come from and how they are projected. Tabs: explore the points
(plot, search, neighbours, export), look at tokens, walk through the layers, compare models,
fine-tune a model on labelled texts.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/main.py` puts app/ on sys.path, not the repository root.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app import state  # noqa: E402
from app.sections import guarded  # noqa: E402

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
from embeddings.choices import DEFAULT_MODEL  # noqa: E402

st.set_page_config(page_title="Embedding explorer", page_icon=":material/scatter_plot:", layout="wide")
st.title("Embedding explorer")
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
                                         can_encode=points.model is not None and points.level in ("text", "vocab"))

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
with tokens_tab, guarded("The Tokens tab"):
    render_tokens(choice.model if choice is not None and choice.model else DEFAULT_MODEL)
with layers_tab, guarded("The Layers tab"):
    if choice is not None and choice.dataset.texts is not None:
        render_layers(choice.dataset, choice.model or DEFAULT_MODEL)
    else:
        st.info("Walking the layers needs texts: choose a sample, a file or pasted texts in the sidebar.")
# Fine-tune is drawn before Compare: a finished run hands its models over before Compare's widgets exist.
with finetune_tab, guarded("Fine-tuning"):
    if choice is not None and choice.dataset.texts is not None:
        tuned = render_finetune(choice.dataset, choice.model or DEFAULT_MODEL)
        if tuned is not None and tuned.pop("opened", False):
            st.session_state[state.OPEN_TAB] = "Compare models"
            st.rerun()
    else:
        st.info("Fine-tuning needs labelled texts: choose a sample or a file with a label column in the sidebar.")
with compare_tab, guarded("Comparing models"):
    if choice is not None and choice.dataset.texts is not None:
        st.session_state[state.LAST_TEXTS] = (choice.dataset, choice.model or DEFAULT_MODEL)
    compared = state.get(state.LAST_TEXTS) if choice is None or choice.dataset.texts is not None else None
    if choice is None and compared is not None:  # new input failed: keep comparing what loaded last
        st.caption(f"Comparing the last texts that loaded ({compared[0].source}).")
    if compared is not None:
        render_compare(*compared)
    else:
        st.info("Comparing models needs texts: choose a sample, a file or pasted texts in the sidebar.")
