"""The data panel's "File on this machine": a path read through the library's `load_input`.

Offered when the server was started by `embeddings view DATA`, which names the file (and its
metadata, model, text column and level) in a `ServeRequest`; the fields come filled in with it.
Large files open here without an upload (a 1M x 384 vectors TSV is 5 GB; uploads stop at 1 GB).
Only a server started that way offers it: a page on 127.0.0.1 can still be opened by other
users of this machine, who should not get to read this user's files through it.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app import state
from embeddings.data import Dataset
from embeddings.errors import InputError
from embeddings.serve import ServeRequest

LOCAL_SOURCE = "File on this machine"


def serve_request() -> ServeRequest | None:
    """What `embeddings view` asked this server to open, or None when it was started otherwise."""
    return ServeRequest.from_env()


def _stamp(path: str) -> tuple[int, int] | None:
    """(size, modification time) of a file, so that a file changed on disk is read again."""
    try:
        info = os.stat(path)
    except OSError:
        return None  # load_input says what is wrong with the path
    return info.st_size, info.st_mtime_ns


@st.cache_resource(show_spinner="Reading the file...", max_entries=2)
def _read_local(path: str, metadata: str | None, text_column: str | None, stamps: tuple,
                image_column: str | None = None) -> Dataset:
    from embeddings.pipeline import load_input

    return load_input(path, text_column=text_column, metadata=metadata, image_column=image_column)


def read_local_file(path: str, metadata: str | None, text_column: str | None,
                    image_column: str | None = None) -> tuple[Dataset, str]:
    """The file as a Dataset and its data digest (the path, what it holds now, and the options)."""
    if not path:
        raise InputError("name a file: its full path on this machine")
    full = str(Path(path).expanduser())
    extra = str(Path(metadata).expanduser()) if metadata else None
    stamps = (_stamp(full), _stamp(extra) if extra else None)
    dataset = _read_local(full, extra, text_column, stamps, image_column)
    return dataset, f"local:{full}:{extra}:{stamps}:{text_column}:{image_column}"


def render_local_file(request: ServeRequest) -> tuple[str, str | None]:
    """The path fields, filled in from the request: (path, metadata path or None)."""
    path = st.text_input("Path of a file on this machine", value=request.data, key=state.LOCAL_PATH,
                         help="Texts (CSV, TSV, JSONL, Parquet, TXT) or vectors (.npy, projector vectors TSV), "
                         "as `embeddings view` takes them.").strip()
    metadata = st.text_input("Metadata TSV for vectors (optional)", value=request.metadata or "",
                             key=state.LOCAL_METADATA).strip()
    return path, metadata or None
