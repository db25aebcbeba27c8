"""The data panel's one source for a path on this machine: "A path on this machine".

One path names any input the CLI reads (``embeddings.pipeline.load_input``, so the app and every
command read a path the same way): a file of texts (CSV, TSV, JSONL, Parquet, TXT), a folder or
glob of shards, precomputed vectors (.npy or a projector vectors TSV, with an optional metadata
TSV), or a projector config (projector_config.json, a .pbtxt, a TensorBoard log folder, an
export of ours) with the tensor to show. The panel then offers the text column, model and level
as for any texts. Large files open here without an upload (a 1M x 384 vectors TSV is 5 GB;
uploads stop at 1 GB).

Offered however the app was started. `embeddings view DATA [--metadata --text-column --model
--level]` fills the fields in (a ``ServeRequest``); a page URL or saved view names the same
fields, so a link reopens the same file. Only the person who started the server reaches it: every
start asks for an access token (``embeddings.access``), since other users of this machine can
open 127.0.0.1 too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app import state
from embeddings.data import Dataset
from embeddings.serve import ServeRequest

PATH_HELP = ("A CSV, TSV, JSONL, Parquet or TXT file of texts; a folder (or glob) of CSV/JSONL/Parquet shards; "
             "vectors as .npy or a projector vectors TSV; a projector_config.json or .pbtxt, or a folder holding "
             "one (a TensorBoard log folder, an export of ours); a folder of images.")
ASK_FOR_PATH = ("Type the path of a data file, a folder of shards, a vectors file, a projector config or a "
                "TensorBoard log folder.")


@dataclass(frozen=True)
class PathInput:
    """What the path fields name: the path, and the tensor or metadata file that goes with it."""

    path: str
    tensor: str | None = None  # which tensor of a projector config
    metadata: str | None = None  # the metadata TSV of a vectors file
    image_column: str | None = None  # a table's column of image paths: the points are those images


def serve_request() -> ServeRequest | None:
    """What `embeddings view` asked this server to open, or None when it was started otherwise."""
    return ServeRequest.from_env()


def _stamp(path: str | None) -> tuple[int, int] | None:
    """(size, modification time) of a file or folder, so that one changed on disk is read again."""
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None  # load_input says what is wrong with the path
    return info.st_size, info.st_mtime_ns


@st.cache_resource(show_spinner="Reading the file...", max_entries=4)
def _read_path(path: str, tensor: str | None, metadata: str | None, text_column: str | None,
               stamps: tuple, image_column: str | None = None) -> Dataset:
    from embeddings.pipeline import load_input

    return load_input(path, text_column=text_column, metadata=metadata, tensor=tensor, image_column=image_column)


def read_path(named: PathInput, text_column: str | None = None) -> tuple[Dataset, str]:
    """The input as a Dataset and its data digest (the path, what it holds now, and how it is read)."""
    stamps = (_stamp(named.path), _stamp(named.metadata))
    dataset = _read_path(named.path, named.tensor, named.metadata, text_column, stamps, named.image_column)
    return dataset, f"path:{named.path}:{named.tensor}:{named.metadata}:{text_column}:{stamps}:{named.image_column}"


def render_path_fields() -> PathInput | None:
    """The path, and the tensor (a projector config) or metadata TSV (a vectors file) it needs."""
    path = st.text_input("Path", key=state.DATA_PATH, placeholder="/data/docs.csv, /data/logs or projector_config.json",
                         help=PATH_HELP).strip()
    if not path:
        st.info(ASK_FOR_PATH)
        return None
    target = str(Path(path).expanduser())
    return PathInput(target, tensor=_tensor_picker(target), metadata=_metadata_field(target),
                     image_column=_image_column_field(target))


def _tensor_picker(path: str) -> str | None:
    from embeddings.projector_config import is_projector_config, read_entries

    if not is_projector_config(path):
        return None
    names = [entry.name for entry in read_entries(path)]
    if state.get(state.TENSOR) not in names:
        st.session_state[state.TENSOR] = names[0]
    return st.selectbox("Tensor", names, key=state.TENSOR) if len(names) > 1 else names[0]


def _image_column_field(path: str) -> str | None:
    """A table's column of image paths, offered only where a column's first values name image
    files (or a link or saved view already names one): other tables show no such field."""
    if Path(path).suffix.lower() not in TABLE_SUFFIXES:
        return None
    named = (state.get(state.IMAGE_COLUMN) or "").strip()
    columns = image_like_columns(path, _stamp(path))
    if not columns and not named:
        return None
    options = ["", *columns] + ([named] if named and named not in columns else [])
    if state.get(state.IMAGE_COLUMN) not in options:
        st.session_state[state.IMAGE_COLUMN] = named
    return st.selectbox("Image column", options, key=state.IMAGE_COLUMN,
                        format_func=lambda c: c or "none: the points are the texts",
                        help="A column naming an image per row, as a path relative to the table: "
                        "the points are then those images.") or None


TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
PEEK_ROWS = 50


@st.cache_data(show_spinner=False, max_entries=16)
def image_like_columns(path: str, stamp: tuple | None) -> list[str]:
    """The columns of a table whose first non-empty values (of its first rows) mostly end in an
    image suffix. A table that cannot be read names none: reading it says what is wrong."""
    import pandas as pd

    from embeddings.images import IMAGE_SUFFIXES

    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            batch = next(pq.ParquetFile(path).iter_batches(batch_size=PEEK_ROWS), None)
            frame = batch.to_pandas() if batch is not None else pd.DataFrame()
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, nrows=PEEK_ROWS, dtype=False)
        else:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", nrows=PEEK_ROWS, dtype=str,
                                keep_default_na=False)
    except Exception:  # noqa: BLE001 - a peek only; load_input reports the problem in one line
        return []
    found = []
    for column in frame.columns:
        values = [str(v).strip().lower() for v in frame[column].tolist() if isinstance(v, str) and v.strip()]
        if values and sum(v.endswith(IMAGE_SUFFIXES) for v in values) * 2 > len(values):
            found.append(str(column))
    return found


def _metadata_field(path: str) -> str | None:
    """A metadata TSV path, asked for when the path holds vectors (only they take one)."""
    from embeddings.pipeline import is_vectors_file

    if not is_vectors_file(path):
        return None
    metadata = st.text_input("Metadata TSV (optional)", key=state.PATH_METADATA,
                             help="One row per vector, as the projector reads it: with two or more columns "
                             "the first line is the header.").strip()
    return str(Path(metadata).expanduser()) if metadata else None
