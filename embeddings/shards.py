"""Many files as one input, and vectors out as Parquet shards.

Input: DATA may be a folder or a glob (``data/part-*.parquet``) of CSV, JSONL and Parquet
files. They are read in sorted order of their paths, each by the same reader and the same text
column rule as a single file (``embeddings.data.read_data``), and joined into one Dataset whose
row ids are the global input order: the rows of the first file, then the second's, and so on.
Every file must have the same columns, so no value is made up for a column a file lacks.

Output: ``write_vector_shards`` writes a folder of ``part-NNNNN.parquet`` files, each with the
columns ``row_id`` (int64) and ``vector`` (a fixed-size list of float32), in row-id order. The
folder is built under a temporary sibling name and renamed into place when complete, so a
failed run leaves nothing at OUT.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from embeddings.data import Dataset, read_data
from embeddings.errors import InputError

SHARD_SUFFIXES = (".csv", ".jsonl", ".parquet")
ROWS_PER_SHARD = 100_000
_GLOB_CHARS = set("*?[")


def is_sharded(data: str | Path) -> bool:
    """True when DATA names a folder or a glob pattern rather than one file."""
    path = Path(data)
    if path.is_dir():
        return True
    return not path.exists() and bool(_GLOB_CHARS & set(str(data)))


def shard_paths(data: str | Path) -> list[Path]:
    """The files a folder or glob names, sorted by path (the order their rows take)."""
    shown = str(data)
    path = Path(data)
    if path.is_dir():
        candidates = [p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))]
        files = [p for p in candidates if p.suffix.lower() in SHARD_SUFFIXES]
    else:
        files = [Path(p) for p in glob.glob(shown) if Path(p).is_file()]
        others = [p for p in files if p.suffix.lower() not in SHARD_SUFFIXES]
        if others:
            raise InputError(
                f"{others[0]}: unsupported shard type ('{others[0].suffix}'); shards are {', '.join(SHARD_SUFFIXES)}"
            )
    if not files:
        also = " (nor a projector_config.pbtxt or projector_config.json)" if path.is_dir() else ""
        raise InputError(f"{shown}: holds no {', '.join(SHARD_SUFFIXES)} files{also}")
    return sorted(files, key=lambda p: str(p))


def read_shards(data: str | Path, *, text_column: str | None = None) -> Dataset:
    """One Dataset of every shard's rows, in sorted path order (row id = position in that order)."""
    paths = shard_paths(data)
    first: Dataset | None = None
    frames: list[pd.DataFrame] = []
    for path in paths:
        part = read_data(path, text_column=text_column)
        if first is None:
            first = part
        elif part.text_column != first.text_column:
            raise InputError(
                f"{path}: its text column is '{part.text_column}', but {paths[0].name}'s is "
                f"'{first.text_column}'; name the text column to read"
            )
        elif list(part.metadata.columns) != list(first.metadata.columns):
            raise InputError(
                f"{path}: columns ({', '.join(part.metadata.columns)}) differ from {paths[0].name}'s "
                f"({', '.join(first.metadata.columns)})"
            )
        frames.append(part.metadata)
    assert first is not None  # shard_paths never returns an empty list
    metadata = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    texts = [text for frame in frames for text in frame[first.text_column]]
    return Dataset(texts, metadata, first.text_column, Path(str(data)).name or str(data))


def check_shards_out(out: Path) -> None:
    """OUT may be replaced only when it is absent, empty, or a folder of our own shards."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    foreign = [p.name for p in out.iterdir() if not (p.name.startswith("part-") and p.suffix == ".parquet")]
    if foreign:
        raise InputError(f"{out}: holds other files ({foreign[0]}); name a new or empty folder")


def write_vector_shards(out: Path, vectors: np.ndarray, *, rows_per_shard: int = ROWS_PER_SHARD) -> list[Path]:
    """Write `vectors` (row i = row id i) as Parquet shards under folder `out`, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_shards_out(out)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        names = []
        for index, start in enumerate(range(0, max(n, 1), rows_per_shard)):
            block = vectors[start : start + rows_per_shard]
            column = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1), pa.float32()), dim)
            table = pa.table({"row_id": pa.array(np.arange(start, start + len(block), dtype=np.int64)),
                              "vector": column})
            name = f"part-{index:05d}.parquet"
            pq.write_table(table, staging / name)
            names.append(name)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in names]


def _swap_in(staging: Path, out: Path) -> None:
    """Put the finished folder at `out`; an old folder of shards is moved aside, then removed."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / "previous")
    try:
        os.replace(staging, out)
    except OSError:
        if old is not None:
            os.replace(old / "previous", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def read_vector_shards(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, vectors) from a folder written by write_vector_shards, in file order."""
    import pyarrow.parquet as pq

    parts = sorted(Path(folder).glob("part-*.parquet"))
    if not parts:
        raise InputError(f"{folder}: holds no part-*.parquet files")
    ids, blocks = [], []
    for part in parts:
        table = pq.read_table(part)
        ids.append(table.column("row_id").to_numpy())
        column = table.column("vector").combine_chunks()
        dim = column.type.list_size
        blocks.append(column.flatten().to_numpy().reshape(-1, dim))
    return np.concatenate(ids), np.concatenate(blocks).astype(np.float32, copy=False)
