"""TensorFlow Embedding Projector files: write them so every row survives, read them as it does.

What the projector does with these files (tensorboard/plugins/projector/vz_projector/
data-provider.ts, `streamParse`, `parseTensors`, `parseMetadata`), and what we do about it:

- It reads the bytes in 1,000,000-byte chunks, decodes each chunk as UTF-8 on its own, and
  splits on "\\n" only. A multi-byte character cut by a chunk boundary turns into U+FFFD, so
  the writer puts 1-3 extra "\\n" before such a line to move the character off the boundary;
  the parser skips blank lines, so rows are not shifted. (A chunk starting with U+FEFF would
  lose it as a BOM, so that is moved off a boundary the same way.)
- It skips every line that is blank after JavaScript's `trim()` (not only the last one). A
  metadata row whose values are all empty or whitespace would vanish and shift every later row
  onto the wrong point. When that would happen, the writer adds a column `row` (the 0-based
  point index) after the others, which keeps such lines non-blank. No value is altered.
- `\\r` stays in a value (only `\\n` splits); tabs split columns. `clean_value` replaces "\\r\\n",
  "\\r", "\\n" and "\\t" by one space each. Other separators (U+2028, U+2029, U+0085, \\v, \\f)
  do not split anything there and are kept as they are.
- Metadata: the first non-blank line is a header if it has a tab. So one column => no header,
  two or more => header. Values are keyed by column name, so names are made unique (a, a.1).
  An empty value is read as missing (null); short rows read as missing too.
- Vectors: each line is trimmed, split on tabs, read with JS `Number()` into a Float32Array;
  a vector of one dimension is refused there, so it is refused here. A first cell that is not a
  number becomes a label, so non-finite values are refused before writing. Floats are written
  with 9 significant digits, which read back to the same float32 exactly.
- Every file ends with "\\n": its chunk reader never finishes on a last chunk with no "\\n".
- Images: ``sprite.png``, one tile per point in point order (``embeddings.sprites``), named in the
  config as ``"sprite": {"imagePath", "singleImageDim": [w, h]}``; the projector then draws each
  point as its image and shows the images beside the neighbours.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embeddings.bookmarks import BOOKMARKS_FILE, bookmarks_bytes
from embeddings.errors import InputError
from embeddings.projector_format import (  # noqa: F401 (the reading half, re-exported)
    VECTORS_FILE,
    METADATA_FILE,
    CONFIG_FILE,
    SPRITE_FILE,
    ROW_COLUMN,
    CHUNK_BYTES,
    _BOM,
    JS_WHITESPACE,
    clean_value,
    js_trim,
    parse_vectors,
    parse_metadata,
    parse_projector,
    decode_like_projector,
    unique_names,
)
from embeddings.views import View


def _check_vectors(vectors: np.ndarray) -> np.ndarray:
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise InputError(f"vectors must be 2-D (points x dimensions), got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise InputError(f"vectors must be numbers, got {array.dtype}")
    n, d = array.shape
    if n == 0:
        raise InputError("no vectors to export")
    if d < 2:
        raise InputError(f"vectors have {d} dimension(s); the projector needs at least 2")
    array = array.astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"vectors row {row + 1}, column {column + 1}: {array[row, column]} is not finite")
    return array


def _metadata_lines(metadata: pd.DataFrame | None, n: int) -> list[str] | None:
    """The lines of metadata.tsv (no "\\n"), header included when there is one."""
    if metadata is None:
        return None
    if isinstance(metadata, pd.Series):
        metadata = metadata.to_frame()
    if metadata.shape[1] == 0:
        return None
    if len(metadata) != n:
        raise InputError(f"metadata has {len(metadata)} rows but there are {n} vectors")
    names = [clean_value(c) for c in metadata.columns]
    columns = [[clean_value(v) for v in metadata.iloc[:, i].tolist()] for i in range(metadata.shape[1])]
    rows = [list(r) for r in zip(*columns)]
    header: list[str] | None = names if len(names) > 1 else None

    def blank(line: list[str]) -> bool:
        return js_trim("\t".join(line)) == ""

    if any(blank(r) for r in rows) or (header is not None and blank(header)):
        # A blank line is skipped by the projector: keep it with the point's index.
        names = names + [ROW_COLUMN]
        rows = [r + [str(i)] for i, r in enumerate(rows)]
        header = names
    if header is not None:
        header = unique_names(header)
        return ["\t".join(header)] + ["\t".join(r) for r in rows]
    return [r[0] for r in rows]


def _metadata_bytes(lines: list[str]) -> Iterator[bytes]:
    """Encoded lines, with 1-3 blank lines before any line that a chunk boundary would cut mid-character."""
    offset = 0
    for line in lines:
        data = (line + "\n").encode("utf-8")
        pad = _pad_for(data, offset)
        if pad:
            yield b"\n" * pad
            offset += pad
        yield data
        offset += len(data)


def _pad_for(data: bytes, offset: int) -> int:
    """How many blank lines to put before `data` (at `offset`) so no chunk boundary damages it."""
    if data.isascii():
        return 0
    for pad in range(4):
        start = offset + pad
        boundary = -(-start // CHUNK_BYTES) * CHUNK_BYTES  # first chunk start at or after `start`
        while boundary < start + len(data) and _safe_cut(data, boundary - start):
            boundary += CHUNK_BYTES
        if boundary >= start + len(data):
            return pad
    return 0  # a line longer than a chunk, cut badly at two boundaries: padding cannot fix both


def _safe_cut(data: bytes, index: int) -> bool:
    """A chunk may start at data[index]: not inside a character, and not on a U+FEFF (read as a BOM)."""
    return (data[index] & 0xC0) != 0x80 and not data.startswith(_BOM, index)


def _vectors_bytes(array: np.ndarray) -> Iterator[bytes]:
    # %.9g: 9 significant digits read back (via JS Number -> Float32Array) to the same float32.
    row_format = "\t".join(["%.9g"] * array.shape[1]) + "\n"
    step = 2048
    for start in range(0, array.shape[0], step):
        block = array[start : start + step].astype(np.float64).tolist()
        yield "".join(row_format % tuple(row) for row in block).encode("ascii")


def projector_config(
    tensor_name: str,
    shape: tuple[int, int],
    *,
    has_metadata: bool,
    base_url: str | None = None,
    has_bookmarks: bool = False,
    sprite_tile: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The projector_config.json content; paths relative, or base_url + file name. `sprite_tile`:
    (w, h) of the sprite's tiles when there is a sprite.png."""
    prefix = ""
    if base_url:
        prefix = base_url if base_url.endswith("/") else base_url + "/"
    tensor: dict[str, Any] = {
        "tensorName": tensor_name,
        "tensorShape": [int(shape[0]), int(shape[1])],
        "tensorPath": prefix + VECTORS_FILE,
    }
    if has_metadata:
        tensor["metadataPath"] = prefix + METADATA_FILE
    if has_bookmarks:
        tensor["bookmarksPath"] = prefix + BOOKMARKS_FILE
    if sprite_tile is not None:
        tensor["sprite"] = {"imagePath": prefix + SPRITE_FILE, "singleImageDim": [int(v) for v in sprite_tile]}
    return {"embeddings": [tensor]}


def projector_columns(metadata: pd.DataFrame | None, lines: list[str] | None) -> dict[str, str]:
    """Our metadata column names -> the names the projector gives them (one column: "label")."""
    if metadata is None or lines is None:
        return {}
    if isinstance(metadata, pd.Series):
        metadata = metadata.to_frame()
    ours = [str(c) for c in metadata.columns]
    if len(lines) == len(metadata):  # no header line: the projector calls the one column "label"
        return {ours[0]: "label"}
    return dict(zip(ours, lines[0].split("\t")))


def _prepare(
    vectors: np.ndarray,
    metadata: pd.DataFrame | None,
    tensor_name: str,
    base_url: str | None,
    views: Sequence[View] = (),
    images: Any = None,
) -> dict[str, Iterable[bytes]]:
    """Every file's content, checked (and the sprite made) before anything touches the disk."""
    array = _check_vectors(vectors)
    lines = _metadata_lines(metadata, array.shape[0])
    bookmarks = bookmarks_bytes(views, array.shape, projector_columns(metadata, lines)) if views else None
    sprite = None
    if images is not None:
        from embeddings.sprites import sprite_sheet

        if len(images) != array.shape[0]:
            raise InputError(f"{len(images)} images but there are {array.shape[0]} vectors")
        sprite = sprite_sheet(images)
    config = projector_config(tensor_name, array.shape, has_metadata=lines is not None, base_url=base_url,
                              has_bookmarks=bookmarks is not None, sprite_tile=sprite.tile if sprite else None)
    files: dict[str, Iterable[bytes]] = {VECTORS_FILE: _vectors_bytes(array)}
    if lines is not None:
        files[METADATA_FILE] = _metadata_bytes(lines)
    if bookmarks is not None:
        files[BOOKMARKS_FILE] = [bookmarks]
    if sprite is not None:
        files[SPRITE_FILE] = [sprite.data]
    files[CONFIG_FILE] = [(json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8")]
    return files


def write_projector(
    out_dir: str | Path,
    vectors: np.ndarray,
    metadata: pd.DataFrame | None,
    *,
    tensor_name: str = "embeddings",
    base_url: str | None = None,
    views: Sequence[View] = (),
    images: Any = None,
) -> dict[str, Path]:
    """Write vectors.tsv, metadata.tsv (when there is metadata), bookmarks.txt (one projector
    bookmark per view, each with its coordinates; see embeddings.bookmarks), sprite.png (when there
    are images: embeddings.images.Images, one per vector) and projector_config.json.

    All-or-nothing: files are written under temporary names in out_dir and renamed at the end;
    on any error nothing new is left behind. Returns {"vectors", "metadata"?, "bookmarks"?,
    "sprite"?, "config"} paths.
    """
    files = _prepare(vectors, metadata, tensor_name, base_url, views, images)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    temps: dict[str, str] = {}
    try:
        for name, chunks in files.items():
            handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=out)
            temps[name] = temp
            with os.fdopen(handle, "wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
        for name, temp in temps.items():
            os.replace(temp, out / name)
    except BaseException:
        for temp in temps.values():
            if os.path.exists(temp):
                os.unlink(temp)
        raise
    for name in (METADATA_FILE, BOOKMARKS_FILE, SPRITE_FILE):
        if name not in files and (out / name).exists():
            # A file left from an earlier export would not match these vectors.
            (out / name).unlink()
    keys = {VECTORS_FILE: "vectors", METADATA_FILE: "metadata", BOOKMARKS_FILE: "bookmarks", SPRITE_FILE: "sprite",
            CONFIG_FILE: "config"}
    return {keys[name]: out / name for name in files}


def projector_zip(
    vectors: np.ndarray,
    metadata: pd.DataFrame | None,
    *,
    tensor_name: str = "embeddings",
    views: Sequence[View] = (),
    images: Any = None,
) -> bytes:
    """A zip of the same files write_projector writes (relative paths in the config)."""
    files = _prepare(vectors, metadata, tensor_name, None, views, images)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in files.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
    return buffer.getvalue()
