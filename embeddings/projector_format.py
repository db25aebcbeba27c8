"""The projector's file format, read as the projector reads it (no writers here).

``embeddings.projector`` explains each rule and writes the files; this half only parses, so
reading data (``embeddings.data``) never imports the writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from embeddings.errors import InputError

VECTORS_FILE = "vectors.tsv"
METADATA_FILE = "metadata.tsv"
CONFIG_FILE = "projector_config.json"
SPRITE_FILE = "sprite.png"  # the images, one tile per point (embeddings.sprites)
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
