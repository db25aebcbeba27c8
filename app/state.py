"""Names of everything the explorer keeps in ``st.session_state``, in one place.

Widget keys double as the handles tests use (``at.text_input(key=state.QUERY)``). Values the
page stores itself are documented where they are defined.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

# ---- data panel (sidebar) widgets
SOURCE = "data_source"  # radio: sample / upload / paste / projector files / a path on this machine
SAMPLE = "sample_name"
UPLOAD = "upload_file"
PASTE = "paste_texts"
VECTORS_UPLOAD = "projector_vectors"
METADATA_UPLOAD = "projector_metadata"
TEXT_COLUMN = "text_column"
MODEL = "model"
TRUST_REMOTE_CODE = "trust_remote_code"
BACKEND = "backend"
QUANTIZE_INT8 = "quantize_int8"
LEVEL = "level"
LAYER = "layer"
VOCAB_SIZE = "vocab_size"
STOP_ENCODING = "stop_encoding"
RESUME_ENCODING = "resume_encoding"
DATA_PATH = "data_path"  # text input: a file, folder of shards, projector config or log folder on this machine
TENSOR = "data_tensor"  # which tensor of a projector config
PATH_METADATA = "data_path_metadata"  # text input: the metadata TSV of a vectors file named by DATA_PATH
IMAGE_COLUMN = "image_column"  # select box: a table's column of image paths (the points are images)
PATH_SOURCE = "A path on this machine"  # the SOURCE option DATA_PATH belongs to
SERVE_READ = "serve_read"  # True once this session took its starting values from `embeddings view`

# ---- projection panel (sidebar) widgets
METHOD = "method"
DIMS = "dims"
SEED = "seed"
PCA_AXES = "pca_axis"  # + "_x", "_y", "_z"
UMAP_NEIGHBORS = "umap_n_neighbors"
UMAP_MIN_DIST = "umap_min_dist"
UMAP_METRIC = "umap_metric"
TSNE_PERPLEXITY = "tsne_perplexity"
TSNE_LEARNING_RATE = "tsne_learning_rate"
TSNE_ITERATIONS = "tsne_n_iter"
USE_ALL_POINTS = "use_all_points"  # run UMAP/t-SNE above its interactive limit
BOOKMARK = "layout_bookmark"  # select box: compute, or a projector bookmark's coordinates

# ---- saved views (sidebar)
VIEW_NAME = "view_name"
SAVE_VIEW = "save_view_button"
SAVED_VIEW = "saved_view"  # select box of saved views and bookmarks
OPEN_VIEW = "open_view_button"
DELETE_VIEW = "delete_view_button"

# ---- custom axes (projection panel, method "Custom")
AXES_MODE = "axes_mode"  # radio: typed texts / search matches
AXIS_X_START = "axis_x_start"
AXIS_X_END = "axis_x_end"
AXIS_Y_START = "axis_y_start"
AXIS_Y_END = "axis_y_end"

# ---- clusters widgets (the look's clusters, app/look.py, hold what they set)
CLUSTER_MIN_SIZE = "cluster_min_size"  # number input; 0 = grows with the points
CLUSTER_SPACE = "cluster_space"
CLUSTER_NAMES_ON_MAP = "cluster_names_on_map"
CLUSTER_REFINE = "cluster_refine_names"  # checkbox: re-rank names' words with the points' model
FIND_CLUSTERS = "find_clusters_button"
CLEAR_CLUSTERS = "clear_clusters_button"

# ---- filters and the points table (the look's filters and selection hold what they set)
FILTER_COLUMNS = "filter_columns"  # multiselect of columns; each gets a widget keyed FILTER_PREFIX + column
FILTER_PREFIX = "filter__"
TABLE = "points_table"  # st.data_editor of the shown points (+ ":" and a digest of the ticks it was drawn with)
TABLE_ONLY_SELECTED = "table_only_selected"

# ---- explore
CHART = "explore_chart"  # the Explore tab's point map (its value: the last event from the browser)
# The look (embeddings.look.Look): ONE value, owned by app/look.py; the map, the URL, saved views,
# the table and the exports read it.
LOOK = "look"
LOOK_FOR = "look_for"  # Points.digest the look's row ids belong to (None: a reopened look, not bound yet)
LOOK_REV = "look_rev"  # int: grows when the page changes the look itself (the map then takes it)
LOOK_HEARD = "look_heard"  # int: the number of the last map event taken into the look
LOOK_FRAME = "look_frame"  # the projection the look's camera belongs to (explore.frame_id)
LOOK_NOTES = "look_notes"  # list[str]: what a change of points cleared, said once
LOOK_DEFAULT_COLOR = "look_default_color"  # True: a link named no colour, the data's default colour applies
LAST_LAYOUT = "last_layout"  # (Points.digest, Layout): the last good layout, drawn while new parameters fail

# ---- inspector widgets
INSPECT_POINT = "inspect_point"
QUERY = "query"
NEIGHBORS_K = "neighbors_k"
NEIGHBORS_METRIC = "neighbors_metric"

# ---- export widgets
EXPORT_SCOPE = "export_scope"
DOWNLOAD_PROJECTOR = "download_projector"
DOWNLOAD_COORDS = "download_coords"
DOWNLOAD_MAP_HTML = "download_map_html"

# ---- tokens tab
TOKENS_TEXT = "tokens.text"
TOKENS_LAYER = "tokens.layer"
TOKENS_SPECIAL = "tokens.include_special"
TOKENS_LAYER_CHART = "tokens.layer_chart"
VOCAB_SOURCE = "tokens.vocab.source"
VOCAB_TOP_N = "tokens.vocab.top_n"
VOCAB_WORDS = "tokens.vocab.words"
VOCAB_METHOD = "tokens.vocab.method"
VOCAB_DIMS = "tokens.vocab.dims"
VOCAB_FOCUS = "tokens.vocab.focus"
VOCAB_CHART = "tokens.vocab.chart"

# ---- compare tab (COMPARE_CHANGED is a template: .format(...))
COMPARE_MODELS = "compare.models"
COMPARE_K = "compare.k"
COMPARE_METRIC = "compare.metric"
COMPARE_METHOD = "compare.method"
COMPARE_DIMS = "compare.dims"
COMPARE_SEED = "compare.seed"
COMPARE_RUN = "compare.run"  # the last run: specs, texts digest, vectors and errors per model
COMPARE_MAP = "compare.map"  # the point map with one panel per model
COMPARE_PAIR = "compare.pair"
COMPARE_CHANGED = "compare.most_changed.{pair}"
COMPARE_TOKEN_TEXT = "compare.token_text"
COMPARE_OPEN = "compare.open"  # a comparison another tab hands over; applied before this tab's widgets

# ---- page tabs
TAB = "tab"  # st.tabs: the open tab
OPEN_TAB = "open_tab"  # a tab another tab asks to open on the next run (set before st.tabs exists)

# ---- layers tab
LAYERS_LEVEL = "layers.level"
LAYERS_LABEL = "layers.label_column"
LAYERS_METHOD = "layers.method"
LAYERS_START = "layers.start"
LAYERS_STOP = "layers.stop"
LAYERS_WORD = "layers.word"
LAYERS_CHART = "layers.chart"
LAYERS_RUN = "layers.run"  # the last walk: {"wanted", "walk", "report", "rows", "labels"}

# ---- fine-tune tab
FINETUNE_LABEL = "finetune.label_column"
FINETUNE_EPOCHS = "finetune.epochs"
FINETUNE_SEED = "finetune.seed"
FINETUNE_OUT = "finetune.out"
FINETUNE_OVERWRITE = "finetune.overwrite"
FINETUNE_LOSS = "finetune.loss"  # "auto" or one loss
FINETUNE_KEEP_TUNED = "finetune.keep_tuned"  # write the tuned model even without a gain on validation
FINETUNE_START = "finetune.start"
FINETUNE_STOP = "finetune.stop"
FINETUNE_RESULT = "finetune.result"  # the last run: {"folder", "report", "base", "source"}
FINETUNE_STOPPED = "finetune.stopped"  # after Stop, until said: what it stopped at (FINETUNE_REACHED) or True
FINETUNE_REACHED = "finetune.reached"  # (stage, done, total): the last progress of the training under way

# ---- what the point maps (app/components/map) keep between reruns
MAP_SENT = "_point_map_sent"  # {map key: data id the browser was sent}
MAP_HANDLED = "_point_map_seq"  # {map key: number of the last browser event acted on}
MAP_PAYLOADS = "_point_map_payloads"  # {map key: (data id, packed bytes)}
MAP_HELD = "_point_map_held"  # {map key: digest of the points the browser holds (a new layout of them: coordinates only)}
LIVE_RUN = "_live_run"  # (projection key, LiveProjection, its frames' address): this session's layout forming

# ---- values the page stores (not widgets)
STOPPED = "stopped_job"  # digest of the encoding job the user stopped
LAST_JOB = "last_job"  # job digest of the last points that loaded (shown while new input fails)
POINTS_DIGEST = "points_digest"  # Points.digest of the points on the page (what selections belong to)
URL_READ = "url_read"  # True once this session has reopened the view its page URL names
VIEW_NOTES = "view_notes"  # list[str]: what a reopened view could not restore (e.g. an upload)
LAST_TEXTS = "last_texts"  # (Dataset, model spec) of the last input with texts: Compare keeps it while new input fails


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def keep_widgets(prefixes: tuple[str, ...]) -> None:
    """Keep the values of the widgets under these key prefixes through a run that does not draw
    them (a tab left undrawn while a layout forms): Streamlit forgets a widget's value after a run
    without it, unless the value is set again from the script, as here."""
    from streamlit.errors import StreamlitAPIException

    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(prefixes):
            try:
                st.session_state[key] = st.session_state[key]
            except StreamlitAPIException:  # a button's or an uploader's: nothing to keep
                pass
