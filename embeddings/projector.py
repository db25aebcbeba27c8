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
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embeddings.errors import InputError

VECTORS_FILE = "vectors.tsv"
METADATA_FILE = "metadata.tsv"
CONFIG_FILE = "projector_config.json"
ROW_COLUMN = "row"
CHUNK_BYTES = 1_000_000  # streamParse's chunkSize
_BOM = b"\xef\xbb\xbf"

# What JavaScript's String.prototype.trim() removes: WhiteSpace and LineTerminator.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_BREAKS = re.compile(r"\r\n|[\r\n\t]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# JS Number(): decimal literal (after trim), Infinity, or 0x / 0o / 0b integers; "" is 0.
_JS_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_JS_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def clean_value(value: Any) -> str:
    """A metadata cell as one line of text: CR LF, CR, LF and tab become one space; nothing else changes.

    Missing values (None, NaN, pd.NA) become "" (the projector reads "" as missing). Lone
    surrogates, which cannot be written as UTF-8, become U+FFFD.
    """
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        # str() of a NumPy float is its shortest round-trip form in its own precision.
        return "" if np.isnan(value) else str(value)
    if not isinstance(value, (str, list, tuple, dict, np.ndarray)):
        try:
            if pd.isna(value):
                return ""
        except (TypeError, ValueError):
            pass
    text = value if isinstance(value, str) else str(value)
    text = _BREAKS.sub(" ", text)
    return _SURROGATE.sub("\ufffd", text)


def js_trim(text: str) -> str:
    """`text.trim()` as JavaScript does it (a different set from Python's str.strip())."""
    return text.strip(JS_WHITESPACE)


def _js_number(cell: str) -> float:
    """JavaScript's Number(cell)."""
    text = js_trim(cell)
    if text == "":
        return 0.0
    if text in ("Infinity", "+Infinity"):
        return float("inf")
    if text == "-Infinity":
        return float("-inf")
    if _JS_DECIMAL.fullmatch(text):
        return float(text)
    radix = _JS_RADIX.fullmatch(text)
    if radix:
        return float(int(radix.group(0), 0))
    return float("nan")


# ------------------------------------------------------------------ reading, as the projector does


def _lines(text: str) -> Iterator[str]:
    """streamParse: split on "\\n"; an empty piece after the last "\\n" is not a line."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return iter(parts)


def parse_vectors(text: str) -> np.ndarray:
    """vectors.tsv as parseTensors reads it, (n, d) float32. Raises InputError where it fails."""
    rows: list[np.ndarray] = []
    dim: int | None = None
    for number, line in enumerate(_lines(text), start=1):
        line = js_trim(line)
        if line == "":
            continue
        cells = line.split("\t")
        first = _js_number(cells[0])
        if np.isnan(first) or dim == len(cells) - 1:
            # The projector would take the first cell as a label; our files never have one.
            raise InputError(f"vectors line {number}: first cell {cells[0][:30]!r} would be read as a label")
        vector = np.array([_js_number(c) for c in cells], dtype=np.float64).astype(np.float32)
        if dim is None:
            dim = len(vector)
        if len(vector) != dim:
            raise InputError(f"vectors line {number}: {len(vector)} values, earlier lines have {dim}")
        if dim <= 1:
            raise InputError(f"vectors line {number}: a vector with only one dimension")
        rows.append(vector)
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(rows)


def parse_metadata(text: str) -> tuple[list[str] | None, list[list[str]]]:
    """metadata.tsv as parseMetadata reads it: (header or None, rows of header-many values).

    Blank lines (after JS trim) are skipped; the first remaining line is the header when it has
    a tab. Without a header the one column is called "label" by the projector and header is
    None here. Missing cells come back as "" (the projector: null); extra cells are dropped.
    """
    header: list[str] | None = None
    width = 1
    rows: list[list[str]] = []
    seen_first = False
    for line in _lines(text):
        if js_trim(line) == "":
            continue
        if not seen_first:
            seen_first = True
            if "\t" in line:
                header = line.split("\t")
                width = len(header)
                continue
        values = line.split("\t")
        if width == 1:
            rows.append([values[0]])  # no header: the projector keeps the first cell as "label"
        else:
            rows.append((values + [""] * width)[:width])
    return header, rows


def parse_projector(
    vectors_text: str, metadata_text: str | None
) -> tuple[np.ndarray, list[str] | None, list[list[str]]]:
    """(vectors, header, metadata rows) exactly as the projector parses the two files.

    header is None for a one-column file (no header line) or when there is no metadata.
    """
    vectors = parse_vectors(vectors_text)
    if metadata_text is None:
        return vectors, None, []
    header, rows = parse_metadata(metadata_text)
    return vectors, header, rows


def decode_like_projector(content: bytes) -> str:
    """The text the projector's chunked FileReader sees: each 1,000,000-byte chunk decoded alone."""
    # FileReader.readAsText decodes with BOM sniffing, so a chunk starting with EF BB BF loses it.
    chunks = (content[i : i + CHUNK_BYTES] for i in range(0, len(content), CHUNK_BYTES))
    return "".join(c.removeprefix(_BOM).decode("utf-8", errors="replace") for c in chunks)


# ------------------------------------------------------------------ writing


def unique_names(names: Iterable[str]) -> list[str]:
    """Names made unique the way pandas does it (a, a.1, a.2)."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}.{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


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
    tensor_name: str, shape: tuple[int, int], *, has_metadata: bool, base_url: str | None = None
) -> dict[str, Any]:
    """The projector_config.json content; paths relative, or base_url + file name."""
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
    return {"embeddings": [tensor]}


def _prepare(
    vectors: np.ndarray, metadata: pd.DataFrame | None, tensor_name: str, base_url: str | None
) -> dict[str, Iterable[bytes]]:
    """Every file's content, checked before anything touches the disk."""
    array = _check_vectors(vectors)
    lines = _metadata_lines(metadata, array.shape[0])
    config = projector_config(tensor_name, array.shape, has_metadata=lines is not None, base_url=base_url)
    files: dict[str, Iterable[bytes]] = {VECTORS_FILE: _vectors_bytes(array)}
    if lines is not None:
        files[METADATA_FILE] = _metadata_bytes(lines)
    files[CONFIG_FILE] = [(json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8")]
    return files


def write_projector(
    out_dir: str | Path,
    vectors: np.ndarray,
    metadata: pd.DataFrame | None,
    *,
    tensor_name: str = "embeddings",
    base_url: str | None = None,
) -> dict[str, Path]:
    """Write vectors.tsv, metadata.tsv (when there is metadata) and projector_config.json.

    All-or-nothing: files are written under temporary names in out_dir and renamed at the end;
    on any error nothing new is left behind. Returns {"vectors", "metadata"?, "config"} paths.
    """
    files = _prepare(vectors, metadata, tensor_name, base_url)
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
    if METADATA_FILE not in files and (out / METADATA_FILE).exists():
        # A metadata.tsv left from an earlier export would not match these vectors.
        (out / METADATA_FILE).unlink()
    keys = {VECTORS_FILE: "vectors", METADATA_FILE: "metadata", CONFIG_FILE: "config"}
    return {keys[name]: out / name for name in files}


def projector_zip(
    vectors: np.ndarray, metadata: pd.DataFrame | None, *, tensor_name: str = "embeddings"
) -> bytes:
    """A zip of the same files write_projector writes (relative paths in the config)."""
    files = _prepare(vectors, metadata, tensor_name, None)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in files.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
    return buffer.getvalue()
