"""The jobs the CLI and the app share: a Dataset in, ``Points`` out, for every level.

Each step is a library call of its own (data, encode, points); this module only joins them so
the two front ends do the same thing for the same input: ``embed_points`` is the one entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embeddings.checks import ProgressFn, StopFn, report
from embeddings.choices import PIXELS_MODEL, TEXT_LEVELS
from embeddings.data import Dataset, read_data, read_image_folder, read_projector
from embeddings.encode import Embeddings, encode_texts, token_embeddings
from embeddings.errors import InputError
from embeddings.images import holds_images
from embeddings.models import ModelSpec
from embeddings.options import EncodeOptions
from embeddings.points import Points, token_table
from embeddings.projector_config import is_projector_config, read_projector_config
from embeddings.shards import SHARD_SUFFIXES, is_sharded, read_shards

VECTOR_SUFFIXES = (".npy",)


def looks_like_vectors_tsv(path: Path) -> bool:
    """True when a .tsv file's first line is all numbers: a projector vectors file."""
    if path.suffix.lower() != ".tsv" or not path.is_file():
        return False
    with open(path, "rb") as handle:
        first = handle.readline(1 << 20).decode("utf-8", errors="replace").strip("\r\n")
    cells = first.split("\t")
    try:
        [float(cell) for cell in cells]
    except ValueError:
        return False
    return bool(first)


def is_vectors_file(path: str | Path) -> bool:
    """A file of precomputed vectors (.npy, or a projector vectors TSV): one that takes a metadata TSV."""
    path = Path(path)
    return path.suffix.lower() in VECTOR_SUFFIXES or looks_like_vectors_tsv(path)


def load_input(
    path: str | Path,
    *,
    text_column: str | None = None,
    metadata: str | Path | None = None,
    tensor: str | None = None,
    image_column: str | None = None,
) -> Dataset:
    """Read DATA as the CLI names it: texts (CSV/TSV/JSONL/Parquet/TXT), vectors (.npy, projector
    TSV), or a projector config (projector_config.json, a .pbtxt, or a folder holding one, such as
    a TensorBoard log folder or an export of ours); `tensor` picks one of a config's tensors.
    A folder or a glob of CSV/JSONL/Parquet shards (with no projector config in it) is one
    input, read in sorted path order. A folder of images (with no config and no table shards at
    its top) is one point per image; `image_column` makes a table's rows images (paths relative
    to the table).
    """
    path_text = path
    path = Path(path)
    if is_projector_config(path):
        if metadata is not None:
            raise InputError(f"{path.name}: a metadata file goes with a vectors file; a projector config names its own")
        if text_column is not None:
            raise InputError(f"{path.name}: a text column goes with a file of texts; a projector config holds vectors")
        if image_column is not None:
            raise InputError(f"{path.name}: an image column goes with a table; a projector config names its sprite")
        return read_projector_config(path, tensor)
    if _is_image_folder(path):
        for option, value in (("a metadata file", metadata), ("a text column", text_column), ("a tensor", tensor),
                              ("an image column", image_column)):
            if value is not None:
                raise InputError(f"{path}: a folder of images is read as it is; {option} goes with a file")
        return read_image_folder(path)
    if is_sharded(path_text):
        if image_column is not None:
            raise InputError(f"{path}: an image column goes with one table file, not a folder or glob of shards")
        if metadata is not None:
            raise InputError(f"{path}: a metadata file goes with a vectors file, not a folder of shards")
        return read_shards(path_text, text_column=text_column)
    if tensor is not None:
        raise InputError(f"{path.name}: a tensor is picked from a projector config (.json, .pbtxt or a log folder), not from this file")
    if is_vectors_file(path):
        if image_column is not None:
            raise InputError(f"{path.name}: an image column goes with a table of image paths, not a vectors file")
        return read_projector(path, metadata)
    if metadata is not None:
        raise InputError(f"{path.name}: a metadata file goes with a vectors file (.npy or projector vectors TSV)")
    return read_data(path, text_column=text_column, image_column=image_column)


def _is_image_folder(path: Path) -> bool:
    """A folder with images in it (or its sub-folders) and no table shards at its top."""
    if not path.is_dir():
        return False
    try:
        tops = [p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
    except OSError:
        return False
    return not any(p.suffix.lower() in SHARD_SUFFIXES for p in tops) and holds_images(path)


def embed(
    dataset: Dataset,
    options: EncodeOptions | ModelSpec | str | None = None,
    *,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    **option_overrides: Any,
) -> Embeddings:
    """Vectors for a dataset: its precomputed vectors, or its texts encoded as `options` say.

    `options`: EncodeOptions, or a model spec (default: the bundled model) with keyword options.
    Images (``dataset.images``) are encoded by an image model or as their pixels
    (``embeddings.image_vectors``). ``engine="ray"`` encodes the texts on a Ray Data actor pool (``embeddings.distributed``):
    a private Ray on this machine, or the cluster at ``ray_address``; text level only.
    """
    options = EncodeOptions.of(options, **option_overrides)
    level, engine = options.level, options.engine
    if dataset.images is not None and dataset.vectors is None:
        from embeddings.image_vectors import check_image_options, encode_images

        check_image_options(options, dataset.source)
        return encode_images(dataset.images, options, progress=progress, stop=stop)
    if level == "image":
        raise InputError(f"{dataset.source}: level 'image' needs images: a folder of images, or a table with "
                         "an image column")
    if level not in TEXT_LEVELS:
        raise InputError(f"level must be one of {', '.join(TEXT_LEVELS)}, not {level!r}")
    if dataset.vectors is not None:
        if level != "text":
            raise InputError(f"{dataset.source}: holds precomputed vectors, so only level 'text' applies")
        return Embeddings(
            vectors=np.asarray(dataset.vectors, dtype=np.float32),
            model=f"precomputed:{dataset.source}",
            fingerprint="",
            level="text",
        )
    if dataset.texts is None:
        raise InputError(f"{dataset.source}: has neither texts nor vectors")
    if level == "token":
        if engine != "local":
            raise InputError(f"engine {engine!r} encodes one vector per text; token level runs on the local engine")
        return token_embeddings(dataset.texts, options, progress=progress, stop=stop)
    if engine == "ray":
        from embeddings.distributed import encode_on_ray

        return encode_on_ray(dataset.texts, options, progress=progress, stop=stop)
    return encode_texts(dataset.texts, options, progress=progress, stop=stop)


def embed_points(
    dataset: Dataset | None,
    options: EncodeOptions | ModelSpec | str | None = None,
    *,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    **option_overrides: Any,
) -> Points:
    """Points for a dataset (or, at level "vocab", for a model's vocabulary): vectors and table.

    `options`: EncodeOptions (what the CLI and the app pass), or a model spec (default: the
    bundled model) with keyword options, as a notebook writes it:
    ``embed_points(data, "all-MiniLM-L6-v2", level="token")``.
    text: the dataset's precomputed vectors, or one vector per text; the table is its columns.
    token: one vector per token of every text (``token_table``). vocab: `vocab_size` rows of the
    model's input embedding table (or the rows of `vocab_tokens`); the dataset is not used.
    """
    options = EncodeOptions.of(options, **option_overrides)
    level = options.level
    if level == "vocab":
        return _vocabulary_points(options, progress)
    if dataset is None:
        raise InputError(f"level {level!r} needs data: texts or vectors")
    if dataset.vectors is not None:
        if level not in ("text", "image"):
            raise InputError(f"{dataset.source}: holds precomputed vectors, so only level 'text' applies")
        return Points(np.asarray(dataset.vectors, dtype=np.float32), dataset.metadata, source=dataset.source,
                      level="image" if dataset.images is not None else "text", text_column=dataset.text_column,
                      bookmarks=dataset.bookmarks, images=dataset.images)
    embeddings = embed(dataset, options, progress=progress, stop=stop)
    if level == "token":
        table, label = token_table(embeddings.rows, dataset.metadata, dataset.text_column), "token"
    else:
        table, label = dataset.metadata, dataset.text_column
    return Points(embeddings.vectors, table, level=embeddings.level, model=options.model_name,
                  fingerprint=embeddings.fingerprint, layer=embeddings.layer if level == "token" else None,
                  source=dataset.source, text_column=label, cached=embeddings.cached, images=dataset.images,
                  backend=embeddings.backend, backend_note=embeddings.backend_note)


def _vocabulary_points(options: EncodeOptions, progress: ProgressFn | None) -> Points:
    from embeddings.encode import vocabulary_embeddings

    report(progress, 0, 1)
    embeddings = vocabulary_embeddings(options)
    report(progress, 1, 1)
    name = options.model_name
    return Points(embeddings.vectors, embeddings.rows, level="vocab", model=name, fingerprint=embeddings.fingerprint,
                  source=f"vocabulary of {name}", text_column="token")


def takes_queries(points: Points) -> bool:
    """Whether a typed text has a vector among these points (``embed_query``): texts and the
    vocabulary through their model, images through an image model's text tower (not raw pixels)."""
    if points.model is None:
        return False
    return points.level in ("text", "vocab") or (points.level == "image" and points.model != PIXELS_MODEL)


def embed_query(points: Points, text: str, *, trust_remote_code: bool = False) -> np.ndarray:
    """A typed query as one vector in the points' own space (their model, their level).

    Text level: the text encoded like the points' texts. Vocabulary: the word's row of the input
    table (the mean of its pieces). Images: the text through the image model's text tower (CLIP).
    Token level, raw pixels and precomputed vectors have no such vector.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("the query is empty; type a text to search for")
    if points.model is None:
        raise InputError(f"{points.source}: precomputed vectors have no model to encode a query with")
    if points.level == "image":
        # An image model's text tower puts the text in the images' space (CLIP was trained for it).
        from embeddings.image_vectors import image_model

        if points.model == PIXELS_MODEL:
            raise InputError(f"{PIXELS_MODEL}: raw pixels have no text to place a query with; pick a point instead, "
                             "or encode the images with a CLIP model")
        model = image_model(EncodeOptions.of(points.model, trust_remote_code=trust_remote_code))
        return encode_texts([text], model.spec, backend="torch").vectors[0]  # as the images were: on torch
    if points.level == "vocab":
        from embeddings.encode import vocabulary_embeddings

        return vocabulary_embeddings(points.model, tokens=[text], trust_remote_code=trust_remote_code).vectors[0]
    if points.level != "text":
        raise InputError(f"a typed query has no vector at {points.level} level; pick a point instead")
    return encode_texts([text], points.model, trust_remote_code=trust_remote_code).vectors[0]


def export_rows(dataset: Dataset, embeddings: Embeddings) -> pd.DataFrame | None:
    """The metadata table beside `embeddings` of `dataset`: the table ``embed_points`` makes."""
    if embeddings.level == "text":
        if dataset.metadata is None or dataset.metadata.shape[1] == 0:
            return None
        return dataset.metadata.reset_index(drop=True)
    if embeddings.rows is None:
        raise InputError(f"{embeddings.model}: {embeddings.level}-level vectors came without their rows")
    if embeddings.level == "token":
        return token_table(embeddings.rows, dataset.metadata, dataset.text_column)
    return embeddings.rows.reset_index(drop=True)
