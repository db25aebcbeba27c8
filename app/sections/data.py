"""The data panel: where the points come from, which model encodes them, and at which level.

``render_data_panel`` draws the sidebar widgets and returns a ``DataChoice`` (or None when the
input cannot be read; the reason is shown with st.error). ``load_points`` turns a choice into
the library's ``Points`` (``embeddings.pipeline.embed_points``), encoded with a progress bar
(and a Stop button) the first time, from memory afterwards.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import streamlit as st

from app import state
from app.sections import show_error
from app.sections.local_file import PathInput, read_path, render_path_fields, serve_request
from embeddings.choices import BACKENDS, DEFAULT_MODEL, DEFAULT_VOCAB_SIZE, LEVELS, PIXELS_MODEL
from embeddings.data import SAMPLES, Dataset, check_upload_size, load_sample, parse_pasted, read_data, read_projector
from embeddings.errors import InputError
from embeddings.options import EncodeOptions
from embeddings.points import Points
from embeddings.serve import ServeRequest

SOURCES = ("Sample", "Upload a file", "Paste texts", "Projector files", state.PATH_SOURCE)
LEVEL_LABELS = dict(zip(LEVELS, ("texts", "tokens", "vocabulary")))  # "text" -> "texts", as the page says it
UPLOAD_TYPES = ("csv", "tsv", "jsonl", "parquet", "txt")
VOCAB_SIZES = (1_000, 2_000, DEFAULT_VOCAB_SIZE, 10_000, 20_000, 30_000)
KEEP_ENCODED = 4  # encoded point sets kept in memory across reruns and sessions


@dataclass(frozen=True)
class DataChoice:
    """What the sidebar asks for: a dataset and how to turn it into vectors."""

    dataset: Dataset
    data_digest: str  # names the input: its source and a content hash (+ how it is read)
    model: str
    level: str  # "text" | "token" | "vocab"
    layer: int = -1
    vocab_size: int = DEFAULT_VOCAB_SIZE
    trust_remote_code: bool = False  # run code shipped with the model (off unless the user ticks it)
    backend: str = "auto"  # what runs the model (embeddings.backends)
    quantize: str = "none"  # "int8": faster, not exact vectors
    data_ref: str | None = None  # what a saved view or the URL names: "sample:NAME", a path, "upload:NAME"
    tensor: str | None = None  # the tensor of a projector config
    metadata: str | None = None  # the metadata TSV of a vectors file named by path
    image_column: str | None = None  # a table's column of image paths named by path
    text_column: str | None = None  # the text column picked, when it is not the one the reader picks itself

    @property
    def precomputed(self) -> bool:
        return self.dataset.vectors is not None

    def encode_options(self) -> EncodeOptions:
        """How the sidebar asks for the texts to be encoded (a bad choice is one InputError line)."""
        return EncodeOptions.of(self.model or None, level=self.level, layer=self.layer, vocab_size=self.vocab_size,
                                trust_remote_code=self.trust_remote_code, backend=self.backend,
                                quantize=self.quantize)

    @property
    def job_digest(self) -> str:
        """Names the encoding job: the input and every encoding option the sidebar sets."""
        if self.precomputed:
            return f"{self.data_digest}|vectors"
        if self.level == "vocab":
            return f"vocab|{self.model}|{self.vocab_size}|{self.trust_remote_code}"
        return (f"{self.data_digest}|{self.model}|{self.level}|{self.layer}|{self.trust_remote_code}"
                f"|{self.backend}|{self.quantize}")


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ reading (cached)


@st.cache_resource(show_spinner=False, max_entries=8)
def _read_sample(name: str, text_column: str | None) -> Dataset:
    if text_column is None:
        return load_sample(name)
    dataset = read_data(SAMPLES[name], text_column=text_column)
    return Dataset(dataset.texts, dataset.metadata, dataset.text_column, f"sample:{name}")


@st.cache_resource(show_spinner=False, max_entries=4)
def _read_upload(content: bytes, filename: str, text_column: str | None) -> Dataset:
    return read_data(content, filename=filename, text_column=text_column)


@st.cache_resource(show_spinner=False, max_entries=8)
def _read_paste(text: str) -> Dataset:
    return parse_pasted(text)


@st.cache_resource(show_spinner=False, max_entries=4)
def _read_projector_files(
    vectors: bytes, vectors_name: str, metadata: bytes | None, metadata_name: str | None
) -> Dataset:
    return read_projector(vectors, metadata, vectors_name=vectors_name, metadata_name=metadata_name)


def read_uploaded(content: bytes, filename: str, text_column: str | None = None) -> tuple[Dataset, str]:
    """An uploaded file as a Dataset and its data digest (also the entry point tests use)."""
    return _read_upload(content, filename, text_column), f"upload:{_digest(content, filename)}:{text_column}"


# ------------------------------------------------------------------ the panel


def render_data_panel() -> DataChoice | None:
    """Sidebar widgets for the data, text column, model and level."""
    st.header("Data")
    _start_from_request(serve_request())
    source = st.radio("Points from", SOURCES, key=state.SOURCE, label_visibility="collapsed")
    read: _Read | None = None
    try:
        read = _render_source(source)
    except InputError as error:
        show_error(error)
    except Exception as error:  # a reader bug must not take the page down
        show_error(error, "Reading the data")
    if read is None:
        return None

    dataset = read.dataset
    data_ref, tensor, metadata = _data_ref(source, dataset, read.named)
    named = dict(data_ref=data_ref, tensor=tensor, metadata=metadata, text_column=read.text_column,
                 image_column=read.named.image_column if read.named is not None else None)
    if dataset.images is not None and dataset.vectors is None:  # images: their own model box, no level
        return _image_choice(dataset, read.digest, named)
    if dataset.vectors is not None:
        st.caption(f"{len(dataset):,} precomputed vectors of width {dataset.vectors.shape[1]} from {dataset.source}"
                   + (f", {len(dataset.bookmarks)} projector bookmark(s)" if dataset.bookmarks else ""))
        return DataChoice(dataset, read.digest, model="", level="text", **named)

    st.caption(f"{len(dataset):,} texts from {dataset.source}")
    st.header("Model")
    if state.get(state.MODEL) == PIXELS_MODEL:
        st.session_state[state.MODEL] = DEFAULT_MODEL  # from images to texts: pixels do not read texts
    model = st.text_input(
        "Model",
        value=DEFAULT_MODEL,
        key=state.MODEL,
        help="The bundled all-MiniLM-L6-v2, a Hugging Face id, or a local folder. "
        "Variants: SPEC@static (input embedding table), SPEC@layerN (mean of layer N).",
    ).strip() or DEFAULT_MODEL
    trust, backend, quantize = _how_to_run()
    level_label = st.radio(
        "Level",
        list(LEVEL_LABELS.values()),
        key=state.LEVEL,
        horizontal=True,
        help="texts: one vector per text. tokens: one contextual vector per token. "
        "vocabulary: rows of the model's input embedding table.",
    )
    level = {label: level for level, label in LEVEL_LABELS.items()}[level_label]
    layer, vocab_size = -1, DEFAULT_VOCAB_SIZE
    if level == "token":
        layer = _layer_slider(model, trust)
    elif level == "vocab":
        vocab_size = st.select_slider("Vocabulary tokens", VOCAB_SIZES, value=DEFAULT_VOCAB_SIZE, key=state.VOCAB_SIZE)
        st.caption("Rows of the model's input embedding table, one per whole-word token; the data above is not used.")
    return DataChoice(dataset, read.digest, model=model, level=level, layer=layer, vocab_size=int(vocab_size),
                      trust_remote_code=trust, backend=backend, quantize=quantize, **named)


def _how_to_run() -> tuple[bool, str, str]:
    """(trust the model's code, backend, quantize): how the model runs."""
    trust = _trust_box()
    backend = st.selectbox(
        "Backend", BACKENDS, key=state.BACKEND,
        help="What runs the model. auto: the fastest runtime that gives torch's vectors on this machine "
        "(the model is converted once for ONNX Runtime / OpenVINO and checked against torch).",
    )
    int8 = st.checkbox(
        "int8 (faster, not exact)", value=False, key=state.QUANTIZE_INT8,
        help="A quantised model on ONNX Runtime: faster again; vectors close to (not equal to) the exact "
        "ones, cached apart from them.",
    )
    return trust, str(backend), "int8" if int8 and backend in ("auto", "onnx") else "none"


def _image_choice(dataset: Dataset, data_digest: str, named: dict) -> DataChoice:
    """Images: the model that reads them (a CLIP model, or pixels); they are one vector each."""
    st.caption(f"{len(dataset):,} images from {dataset.source}")
    for note in dataset.images.notes():
        st.caption(f"Note: {note}.")
    st.header("Model")
    if state.get(state.MODEL) in (None, "", DEFAULT_MODEL):
        st.session_state[state.MODEL] = PIXELS_MODEL  # a text model does not read images
    model = st.text_input(
        "Image model", key=state.MODEL,
        help=f"`{PIXELS_MODEL}`: each image's raw pixels, as the projector's MNIST demo. Or a CLIP model "
        "(a Hugging Face id or a local folder): its text tower then places typed queries among the images.",
    ).strip() or PIXELS_MODEL
    return DataChoice(dataset, data_digest, model=model, level="text", trust_remote_code=_trust_box(), **named)


def _trust_box() -> bool:
    return st.checkbox(
        "Trust the model's own code",
        value=False,
        key=state.TRUST_REMOTE_CODE,
        help="Some hub models ship Python code that must run to load them (trust_remote_code). "
        "It runs on this machine with your rights: tick only for models whose code you trust.",
    )


@dataclass(frozen=True)
class _Read:
    """What a source read: the dataset, its data digest, the text column picked (None: the reader's
    own) and, for a path, what the path fields name."""

    dataset: Dataset
    digest: str
    text_column: str | None = None
    named: PathInput | None = None


def _start_from_request(request: ServeRequest | None) -> None:
    """Once per session: the path, metadata, text column, model and level `embeddings view` was
    given become the panel's starting values (unless a link or saved view already named its data)."""
    if request is None or state.get(state.SERVE_READ):
        return
    st.session_state[state.SERVE_READ] = True
    if state.get(state.SOURCE) is not None:
        return
    values = {state.SOURCE: state.PATH_SOURCE, state.DATA_PATH: request.data, state.PATH_METADATA: request.metadata,
              state.TEXT_COLUMN: request.text_column, state.IMAGE_COLUMN: request.image_column,
              state.MODEL: request.model,
              state.LEVEL: LEVEL_LABELS.get(request.level)}
    for key, value in values.items():
        if value:
            st.session_state[key] = value


def _data_ref(source: str, dataset: Dataset, named: PathInput | None) -> tuple[str | None, str | None, str | None]:
    """How a saved view or the page URL names this data: (data, tensor, metadata). A path reopens;
    an upload or pasted texts cannot (their name is kept to say what they were)."""
    if source == "Sample":
        return f"sample:{state.get(state.SAMPLE)}", None, None
    if named is not None:
        return named.path, named.tensor, named.metadata
    if source == "Paste texts":
        return f"paste:{len(dataset)} texts", None, None
    return f"upload:{dataset.source}", None, None


def _render_source(source: str) -> _Read | None:
    if source == state.PATH_SOURCE:
        named = render_path_fields()
        if named is None:
            return None
        return _with_text_column(lambda column: read_path(named, column), named)
    if source == "Sample":
        name = st.selectbox("Sample set", list(SAMPLES), key=state.SAMPLE)
        return _with_text_column(lambda column: (_read_sample(name, column), f"sample:{name}:{column}"))
    if source == "Upload a file":
        upload = st.file_uploader(
            "CSV, TSV, JSONL, Parquet or TXT (one text per line)",
            key=state.UPLOAD,
            help="Tables: the text column is `text` when there is one, else the first text column. "
            "Every other column is kept for colour, labels, hover and search.",
        )
        if upload is None:
            st.info("Choose a file to upload.")
            return None
        check_upload_size(upload.name, upload.size)
        content = upload.getvalue()
        return _with_text_column(lambda column: read_uploaded(content, upload.name, column))
    if source == "Paste texts":
        text = st.text_area("One text per line", key=state.PASTE, height=180)
        if not text.strip():
            st.info("Paste some texts, one per line.")
            return None
        return _Read(_read_paste(text), f"paste:{_digest(text)}")
    return _render_projector_files()


def _with_text_column(read: Callable[[str | None], tuple[Dataset, str]], named: PathInput | None = None) -> _Read:
    """Read with the reader's own text column, then again with the one picked (when there is a choice)."""
    dataset, digest = read(None)
    if dataset.vectors is not None:  # precomputed vectors: their first metadata column labels them
        return _Read(dataset, digest, None, named)
    column = _text_column_picker(dataset)
    if column == dataset.text_column:
        return _Read(dataset, digest, None, named)
    dataset, digest = read(column)
    return _Read(dataset, digest, column, named)


def _render_projector_files() -> _Read | None:
    vectors = st.file_uploader(
        "Vectors: a projector vectors TSV or a .npy", key=state.VECTORS_UPLOAD,
        help="One row per point, tab-separated numbers, no header (as projector.tensorflow.org loads).",
    )
    metadata = st.file_uploader(
        "Metadata TSV (optional)", key=state.METADATA_UPLOAD,
        help="One row per point; with two or more columns the first line is the header.",
    )
    if vectors is None:
        st.info("Choose a vectors file (and optionally its metadata).")
        return None
    for upload in (vectors, metadata):
        if upload is not None:
            check_upload_size(upload.name, upload.size)
    v_bytes = vectors.getvalue()
    m_bytes = metadata.getvalue() if metadata is not None else None
    dataset = _read_projector_files(v_bytes, vectors.name, m_bytes, metadata.name if metadata else None)
    digest = f"projector:{_digest(v_bytes, vectors.name, m_bytes or b'', metadata.name if metadata else '')}"
    return _Read(dataset, digest)


def _text_column_picker(dataset: Dataset) -> str | None:
    """A select box of the columns that hold text (shown only when there is a choice; images are
    named by their paths)."""
    if dataset.images is not None:
        return dataset.text_column
    columns = [
        str(c) for c in dataset.metadata.columns
        if not pd.api.types.is_numeric_dtype(dataset.metadata[c].dtype)
    ]
    if len(columns) <= 1 or dataset.text_column not in columns:
        return dataset.text_column
    if st.session_state.get(state.TEXT_COLUMN) not in columns:
        st.session_state.pop(state.TEXT_COLUMN, None)  # a new file: start from its own text column
    return st.selectbox("Text column", columns, index=columns.index(dataset.text_column), key=state.TEXT_COLUMN)


@st.cache_resource(show_spinner=False, max_entries=16)
def _model_layers(model: str, trust_remote_code: bool = False) -> int:
    from embeddings.models import load_model

    return int(load_model(model, trust_remote_code=trust_remote_code).num_layers)


def _layer_slider(model: str, trust_remote_code: bool = False) -> int:
    try:
        with st.spinner(f"Loading {model}..."):
            layers = _model_layers(model, trust_remote_code)
    except Exception as error:
        show_error(error, f"Loading {model}")
        return -1
    return int(st.slider("Layer", 0, layers, layers, key=state.LAYER, help="0 is the input embeddings; the last is the output."))


# ------------------------------------------------------------------ encoding


@st.cache_resource(show_spinner=False)
def _encoded() -> tuple[OrderedDict, threading.Lock]:
    """Points already encoded, by job digest, shared by every session of this server (LRU)."""
    return OrderedDict(), threading.Lock()


def _remember(job: str, points: Points) -> None:
    store, lock = _encoded()
    with lock:
        store[job] = points
        store.move_to_end(job)
        while len(store) > KEEP_ENCODED:
            store.popitem(last=False)


def _recall(job: str) -> Points | None:
    store, lock = _encoded()
    with lock:
        points = store.get(job)
        if points is not None:
            store.move_to_end(job)
        return points


def load_points(choice: DataChoice) -> Points | None:
    """The choice's points: from memory, or encoded now with a progress bar and a Stop button."""
    job = choice.job_digest
    points = _recall(job)
    if points is None and choice.precomputed:
        from embeddings.pipeline import embed_points

        points = embed_points(choice.dataset, None)
        _remember(job, points)
    if points is None:
        points = _encode_now(choice)
    if points is not None:
        st.session_state[state.LAST_JOB] = job
        st.session_state[state.POINTS_DIGEST] = points.digest
        if points.backend_note:  # asked for a faster backend, got torch: say why, under the model box
            st.sidebar.caption(f"Note: {points.backend_note}.")
    return points


def last_points() -> Points | None:
    """The points that loaded last in this session (kept on screen while a new input fails)."""
    job = st.session_state.get(state.LAST_JOB)
    points = _recall(job) if job else None
    if points is not None:
        st.session_state[state.POINTS_DIGEST] = points.digest
        st.caption(f"Still showing the last data that loaded: {points.source}"
                   + (f", {points.model}" if points.model else "") + ".")
    return points


def _encode_now(choice: DataChoice) -> Points | None:
    job = choice.job_digest
    if st.session_state.get(state.STOPPED) == job:
        st.info("Encoding was stopped. Vectors finished so far are cached, so resuming continues from there.")
        if not st.button("Resume encoding", key=state.RESUME_ENCODING):
            return None
        st.session_state.pop(state.STOPPED, None)

    panel = st.empty()
    failure: Exception | None = None
    with panel.container():
        if st.button("Stop encoding", key=state.STOP_ENCODING):
            st.session_state[state.STOPPED] = job
            st.rerun()
        what = {"text": "texts", "token": "texts (token vectors)", "vocab": "vocabulary entries"}[choice.level]
        what = "images" if choice.dataset.images is not None else what
        total = choice.vocab_size if choice.level == "vocab" else len(choice.dataset)
        bar = st.progress(0.0, text=f"Encoding {total:,} {what} with {choice.model}...")
        progress = _progress_fn(bar, what, choice.model)
        try:
            points = encode_choice(choice, progress)
        except Exception as error:
            failure = error
    panel.empty()
    if failure is not None:
        show_error(failure, f"Encoding with {choice.model}")
        return None
    _remember(job, points)
    return points


def _progress_fn(bar, what: str, model: str) -> Callable[[int, int], None]:
    def progress(done: int, total: int) -> None:
        # Every update is a Streamlit call: a rerun or Stop interrupts the encoding right here.
        fraction = min(max(done / total, 0.0), 1.0) if total else 1.0
        bar.progress(fraction, text=f"Encoding {what} with {model}: {done:,} of {total:,}")

    return progress


def encode_choice(choice: DataChoice, progress: Callable[[int, int], None]) -> Points:
    """The choice's points from the library (embed_points): what the page shows and exports."""
    from embeddings.pipeline import embed_points

    return embed_points(choice.dataset, choice.encode_options(), progress=progress)
