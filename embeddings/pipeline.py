"""The jobs the CLI and the app share: a Dataset in, vectors and export rows out.

Each step is a library call of its own (data, encode, projector); this module only joins them
so the two front ends do the same thing for the same input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from embeddings.data import Dataset, read_data, read_projector
from embeddings.encode import Embeddings, ProgressFn, StopFn, encode_texts, token_embeddings
from embeddings.errors import InputError
from embeddings.models import DEFAULT_MODEL, ModelSpec
from embeddings.shards import is_sharded, read_shards

LEVELS = ("text", "token")
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


def load_input(
    path: str | Path,
    *,
    text_column: str | None = None,
    metadata: str | Path | None = None,
) -> Dataset:
    """Read DATA as the CLI names it: texts (CSV/TSV/JSONL/Parquet/TXT) or vectors (.npy, projector TSV).

    A folder or a glob of CSV/JSONL/Parquet shards is one input, read in sorted path order.
    """
    if is_sharded(path):
        if metadata is not None:
            raise InputError(f"{path}: --metadata goes with a vectors file, not a folder of shards")
        return read_shards(path, text_column=text_column)
    path = Path(path)
    if path.suffix.lower() in VECTOR_SUFFIXES or looks_like_vectors_tsv(path):
        return read_projector(path, metadata)
    if metadata is not None:
        raise InputError(f"{path.name}: --metadata goes with a vectors file (.npy or projector vectors TSV)")
    return read_data(path, text_column=text_column)


def embed(
    dataset: Dataset,
    model: str | ModelSpec = DEFAULT_MODEL,
    *,
    level: str = "text",
    layer: int = -1,
    batch_size: int = 32,
    normalize: bool = False,
    cache: bool = True,
    progress: ProgressFn | None = None,
    processes: int | str = 1,
    stop: StopFn | None = None,
    trust_remote_code: bool = False,
) -> Embeddings:
    """Vectors for a dataset: its precomputed vectors, or its texts encoded at `level`."""
    if level not in LEVELS:
        raise InputError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
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
        return token_embeddings(dataset.texts, model, layer=layer, cache=cache, progress=progress, stop=stop,
                                trust_remote_code=trust_remote_code)
    return encode_texts(
        dataset.texts, model, batch_size=batch_size, normalize=normalize, cache=cache, progress=progress,
        processes=processes, stop=stop, trust_remote_code=trust_remote_code,
    )


def export_rows(dataset: Dataset, embeddings: Embeddings) -> pd.DataFrame | None:
    """The metadata table that goes beside the vectors: one row per vector, in order.

    Text level: every source column. Token level: one row per token with its token, its
    position in the text, which text it came from and that text.
    """
    if embeddings.level == "text":
        if dataset.metadata is None or dataset.metadata.shape[1] == 0:
            return None
        return dataset.metadata.reset_index(drop=True)
    rows = embeddings.rows
    if rows is None:
        raise InputError(f"{embeddings.model}: {embeddings.level}-level vectors came without their rows")
    table = pd.DataFrame(
        {
            "token": rows["token"].astype(str).to_numpy(),
            "position": rows["position"].to_numpy() if "position" in rows else np.arange(len(rows)),
        }
    )
    if "text_index" in rows and dataset.texts is not None:
        index = rows["text_index"].to_numpy()
        table["text_index"] = index
        table["text"] = [dataset.texts[i] for i in index]
    return table
