"""Reading user data into a `Dataset`: texts, their metadata columns, or precomputed vectors.

Formats: CSV, TSV, JSONL, Parquet, TXT (one text per line), pasted text (one text per non-blank
line), and vectors as `.npy` or a projector vectors TSV (with an optional metadata TSV). Images:
a folder of image files (``read_image_folder``), or a table whose image column names them
(``read_data(path, image_column=...)``; paths relative to the table), see ``embeddings.images``.

Conventions every message follows (one line, naming the file and the place):
- "row N" in a table (CSV/TSV/Parquet) is the 1-based data row: the first row after the header
  is row 1, whatever physical lines a quoted field spans.
- "line N" in JSONL and TXT is the 1-based physical line of the file.
- "row N" in a vectors TSV (no header) is its 1-based line; "column N" there is 1-based too.

Values are kept as the file says: "NA", "null", "None" and "" stay strings (no NaN guessing).
An empty string is a valid text; only a truly absent value (JSON null, a Parquet null) in the
text column is an error. Metadata columns whose every value is a plain decimal number (and none
has a leading zero such as "007") become numbers so the app can colour by them.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from embeddings.errors import InputError
from embeddings.images import FOLDER_COLUMN, IMAGE_COLUMN, Images, image_column, image_files
from embeddings.projector_format import parse_metadata, unique_names

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet", ".txt")
VECTOR_SUFFIXES = (".npy", ".tsv")
# The largest upload the app reads. .streamlit/config.toml's [server] maxUploadSize (in MB)
# holds the same figure so the browser refuses bigger files before sending them.
MAX_UPLOAD_MB = 1024

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLES: dict[str, Path] = {
    "sentences": SAMPLE_DIR / "sentences.csv",
    "words": SAMPLE_DIR / "words.csv",
    "awkward": SAMPLE_DIR / "awkward.csv",
}

# A plain decimal number; "nan", "inf", "1_000", "0x1f" and "" do not count, so converting a
# column never turns text into NaN or changes what a user would read.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LEADING_ZERO = re.compile(r"[+-]?0\d")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Points to explore: texts, images and/or precomputed vectors, plus one metadata row per point.

    Images (a folder of them, a table's image column, a projector sprite) come with ``texts`` None:
    they are not texts to encode; ``text_column`` names the column that names each (its path).
    """

    texts: list[str] | None
    metadata: pd.DataFrame
    text_column: str | None
    source: str
    vectors: np.ndarray | None = None
    # A projector config's bookmarks, read as views (embeddings.views.View, each with its
    # coordinates in .projection).
    bookmarks: tuple = ()
    images: Images | None = None  # one image per point, when the points are images

    @property
    def has_texts(self) -> bool:
        """True when there are texts for a model to encode. Precomputed vectors have none: their
        `texts` are the first metadata column, a label to show (the projector's Iris demo labels
        its points with a measurement, "5.1"), not a text to encode or to learn from. Images have
        none either: their `texts` are their paths."""
        return self.vectors is None and self.texts is not None and self.images is None

    def __len__(self) -> int:
        if self.texts is not None:
            return len(self.texts)
        if self.vectors is not None:
            return int(self.vectors.shape[0])
        return len(self.metadata)

    def subset(self, rows: Sequence[int] | np.ndarray) -> "Dataset":
        """A new Dataset holding the given rows, in the given order."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        texts = None if self.texts is None else [self.texts[i] for i in idx]
        metadata = self.metadata.iloc[idx].reset_index(drop=True)
        vectors = None if self.vectors is None else self.vectors[idx]
        images = None if self.images is None else self.images.subset(idx)
        # Bookmarked coordinates belong to the rows they were made for, not to a subset.
        return Dataset(texts, metadata, self.text_column, self.source, vectors, images=images)


# ------------------------------------------------------------------ raw input


def check_upload_size(name: str, size: int, limit_mb: int = MAX_UPLOAD_MB) -> None:
    """Refuse an upload over the limit before a byte of it is parsed (one line naming both)."""
    if size > limit_mb * 1024 * 1024:
        raise InputError(f"{name}: {size / (1024 * 1024):,.0f} MB is over the upload limit of {limit_mb:,} MB")



def _raw(source: str | Path | bytes, filename: str | None, what: str = "data") -> tuple[bytes, str, str]:
    """(content, name for messages, suffix) of a path or of uploaded bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not filename:
            raise InputError(f"uploaded {what}: needs a file name to tell its format")
        return bytes(source), filename, Path(filename).suffix.lower()
    path = Path(source)
    name = str(source)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a folder, not a file")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    return content, filename or name, Path(filename or name).suffix.lower()


def _decode(content: bytes, name: str) -> str:
    """UTF-8 text (a leading BOM is dropped); anything else is an error naming offset and line."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if content.startswith(b"\xef\xbb\xbf") else 0)
        line = content.count(b"\n", 0, start) + 1
        raise InputError(
            f"{name}: not UTF-8 text (byte 0x{content[start]:02x} at offset {start}, line {line})"
        ) from None


def _check_not_empty(text: str, name: str) -> None:
    if not text.strip():
        raise InputError(f"{name}: file is empty")


# ------------------------------------------------------------------ tables


def _read_delimited(text: str, name: str, sep: str) -> pd.DataFrame:
    file_format = "CSV" if sep == "," else "TSV"
    try:
        # dtype=str + keep_default_na=False: every cell is read as the file spells it.
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        raise InputError(f"{name}: malformed {file_format}: {_parser_detail(str(exc))}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: file is empty") from None
    return frame


def _parser_detail(message: str) -> str:
    """pandas' tokenizer message, re-said in data rows (its "line N" counts the header as 1)."""
    detail = message.split("C error:", 1)[-1].strip().splitlines()[0] if message else "cannot parse"
    fields = re.match(r"Expected (\d+) fields in line (\d+), saw (\d+)", detail)
    if fields:
        want, line, saw = (int(g) for g in fields.groups())
        return f"row {line - 1} has {saw} fields, the header has {want}"
    eof = re.match(r"EOF inside string starting at row (\d+)", detail)
    if eof:
        return f"row {int(eof.group(1))} opens a quoted field that never closes"
    return detail.rstrip(".")


def _read_jsonl(text: str, name: str) -> tuple[pd.DataFrame, list[int]]:
    """Records and the 1-based file line each came from (blank lines are skipped)."""
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise InputError(f"{name}: line {number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
        lines.append(number)
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    # Build column by column so None stays None and ints stay ints (no NaN upcasting).
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in records], dtype=object) for c in columns})
    for column in frame.columns:
        values = frame[column]
        if values.notna().all() and not values.map(lambda v: isinstance(v, (str, dict, list, bool))).any():
            frame[column] = pd.to_numeric(values)
    return frame, lines


def _read_parquet(content: bytes, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(content))
    except Exception as exc:  # pyarrow raises many types; all mean "not a Parquet file we can read"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name}: not a readable Parquet file ({first})") from None


def _read_txt(text: str, name: str) -> pd.DataFrame:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line, not an extra empty text
    if not any(line.strip() for line in lines):
        raise InputError(f"{name}: file is empty")
    return pd.DataFrame({"text": pd.Series(lines, dtype=object)})


def _is_text(values: pd.Series) -> bool:
    """True when every present value is a str (and at least one is present)."""
    present = values[values.notna()]
    return len(present) > 0 and bool(present.map(lambda v: isinstance(v, str)).all())


def _numeric_like(values: pd.Series) -> bool:
    """True when a column of strings can become numbers without changing what it says."""
    if len(values) == 0:
        return False
    for value in values:
        if not isinstance(value, str):
            return False
        stripped = value.strip()
        if not _NUMBER.fullmatch(stripped) or _LEADING_ZERO.match(stripped):
            return False
    return True


def _missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT; a list or other container is present, not missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def _where(row: int, file_format: str, lines: list[int] | None) -> str:
    if lines is not None:
        return f"line {lines[row]}"
    if file_format == "txt":
        return f"line {row + 1}"
    return f"row {row + 1}"


def _finish(
    frame: pd.DataFrame,
    name: str,
    text_column: str | None,
    *,
    file_format: str,
    lines: list[int] | None = None,
    all_strings: bool = False,
    image_column: str | None = None,
) -> Dataset:
    """Pick and check the text column, type the metadata, build the Dataset."""
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if len(frame) == 0:
        listed = ", ".join(columns)
        raise InputError(f"{name}: has a header ({listed}) but no rows")
    numeric = {c for c in columns if all_strings and _numeric_like(frame[c])}
    if image_column is not None:
        return _with_images(frame, name, image_column, text_column, numeric, file_format, lines)
    if text_column is not None:
        if text_column not in columns:
            raise InputError(f"{name}: no column '{text_column}'; columns: {', '.join(columns)}")
        chosen = text_column
    elif "text" in columns:
        chosen = "text"
    else:
        candidates = [c for c in columns if c not in numeric and _is_text(frame[c])]
        if not candidates:
            raise InputError(
                f"{name}: no text column among {', '.join(columns)}; say which column holds the texts"
            )
        chosen = candidates[0]
    values = frame[chosen]
    for row, value in enumerate(values):
        if _missing(value):
            raise InputError(f"{name}: {_where(row, file_format, lines)}, column '{chosen}': missing text")
        if not isinstance(value, str):
            shown = repr(value)[:40]
            raise InputError(
                f"{name}: {_where(row, file_format, lines)}, column '{chosen}': expected text, got "
                f"{type(value).__name__} {shown}"
            )
    for column in numeric - {chosen}:
        frame[column] = pd.to_numeric(frame[column].str.strip())
    frame = frame.reset_index(drop=True)
    return Dataset(list(frame[chosen]), frame, chosen, Path(name).name)


def _with_images(frame: pd.DataFrame, name: str, column: str, text_column: str | None, numeric: set[str],
                 file_format: str, lines: list[int] | None) -> Dataset:
    """A table whose `column` names an image per row (paths relative to the table): images as points."""
    columns = list(frame.columns)
    for wanted, what in ((column, "image"), (text_column, "text")):
        if wanted is not None and wanted not in columns:
            raise InputError(f"{name}: no column '{wanted}' for the {what}s; columns: {', '.join(columns)}")
    where = [_where(row, file_format, lines) for row in range(len(frame))]
    images = image_column(frame[column].tolist(), name, column, where)
    for other in numeric - {column}:
        frame[other] = pd.to_numeric(frame[other].str.strip())
    frame = frame.reset_index(drop=True)
    return Dataset(None, frame, text_column or column, Path(name).name, images=images)


def read_data(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    text_column: str | None = None,
    image_column: str | None = None,
) -> Dataset:
    """Read texts and metadata from a file path, or from uploaded bytes named by `filename`.

    CSV/TSV: header row first; quoted fields (RFC 4180, as pandas and spreadsheets write them)
    may hold separators, quotes and line breaks. JSONL: one object per line, blank lines
    skipped. TXT: one text per line (LF, CRLF or CR); an empty line inside the file is an empty
    text, the newline that ends the file is not. The text column is `text_column`, else
    `text`, else the first column of strings; metadata keeps every column in source order.

    `image_column`: the points are images, one per row, named by that column as paths relative
    to the table's folder (a file on this machine, not uploaded bytes); the text column (default:
    the image column) only names them.
    """
    content, name, suffix = _raw(source, filename)
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "no suffix"
        raise InputError(f"{name}: unsupported file type ({shown}); supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if image_column is not None and (isinstance(source, (bytes, bytearray, memoryview)) or suffix == ".txt"):
        where = "a TXT file has no columns" if suffix == ".txt" else "image paths are relative to the table's folder"
        raise InputError(f"{name}: an image column needs a table on this machine ({where})")
    if not content:
        raise InputError(f"{name}: file is empty")
    images = {"image_column": image_column}
    if suffix == ".parquet":
        return _finish(_read_parquet(content, name), name, text_column, file_format="parquet", **images)
    text = _decode(content, name)
    _check_not_empty(text, name)
    if suffix in (".csv", ".tsv"):
        frame = _read_delimited(text, name, "," if suffix == ".csv" else "\t")
        return _finish(frame, name, text_column, file_format="table", all_strings=True, **images)
    if suffix == ".jsonl":
        frame, lines = _read_jsonl(text, name)
        if len(frame) == 0:
            raise InputError(f"{name}: file is empty")
        return _finish(frame, name, text_column, file_format="jsonl", lines=lines, **images)
    return _finish(_read_txt(text, name), name, text_column, file_format="txt")


def read_image_folder(folder: str | Path) -> Dataset:
    """A folder of images (and its sub-folders) as points: one per image file, in sorted path order.

    The table has ``image`` (the path relative to the folder) and, when images sit in sub-folders,
    ``folder`` (the sub-folder: a class, as in the usual one-folder-per-class layout) to colour by.
    Other files (not images, or hidden) are left out and counted (``Images.notes`` says so).
    """
    images, relative = image_files(folder)
    table = pd.DataFrame({IMAGE_COLUMN: pd.Series(relative, dtype=object)})
    parents = [Path(r).parent.as_posix() for r in relative]
    if any(p != "." for p in parents):
        table[FOLDER_COLUMN] = pd.Series(parents, dtype=object)
    return Dataset(None, table, IMAGE_COLUMN, Path(folder).name or str(folder), images=images)


def from_texts(texts: Sequence[str], source: str = "pasted") -> Dataset:
    """A Dataset of the given texts, with a single `text` metadata column."""
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"{source}: item {i + 1} is {type(text).__name__}, not text")
    if not texts:
        raise InputError(f"{source}: no texts")
    metadata = pd.DataFrame({"text": pd.Series(texts, dtype=object)})
    return Dataset(texts, metadata, "text", source)


def parse_pasted(text: str) -> Dataset:
    """Pasted text: one text per non-blank line, kept as typed (line endings aside)."""
    texts = [line for line in _LINE_BREAK.split(text) if line.strip()]
    if not texts:
        raise InputError("pasted text: no non-blank lines")
    return from_texts(texts, "pasted")


def load_sample(name: str = "sentences") -> Dataset:
    """One of the bundled sample sets in sample_data/ (see SAMPLES)."""
    if name not in SAMPLES:
        raise InputError(f"no sample '{name}'; samples: {', '.join(SAMPLES)}")
    dataset = read_data(SAMPLES[name])
    return Dataset(dataset.texts, dataset.metadata, dataset.text_column, f"sample:{name}")


# ------------------------------------------------------------------ vectors


def read_vectors(source: str | Path | bytes, *, filename: str | None = None) -> np.ndarray:
    """Precomputed vectors, (n, d) float32: `.npy` (no pickles) or a projector vectors TSV.

    A path is read in blocks straight into the float32 result (1M x 384: 1.5 GB, about one copy
    of the vectors at the peak), never as one string or list of cells.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        content, name, suffix = _raw(source, filename, "vectors")
        opener: Any = lambda: io.BytesIO(content)  # noqa: E731
        size = len(content)
    else:
        path = Path(source)
        name = str(filename or source)
        suffix = Path(name).suffix.lower()
        if suffix in VECTOR_SUFFIXES:
            _raw_checks(path, str(source))
        opener = lambda: open(path, "rb")  # noqa: E731
        size = path.stat().st_size if suffix in VECTOR_SUFFIXES else 0
    if suffix not in VECTOR_SUFFIXES:
        raise InputError(f"{name}: vectors must be .npy or a projector vectors .tsv, not '{suffix or 'no suffix'}'")
    if not size:
        raise InputError(f"{name}: file is empty")
    try:
        with opener() as stream:
            if suffix == ".npy":
                return _npy_vectors(stream, name)
            return _tsv_vectors(stream, name)
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None


def parse_vectors_file(content: bytes, name: str) -> np.ndarray:
    """A vectors file's bytes, whatever its name ends with: .npy when it has NumPy's header, else TSV."""
    if not content:
        raise InputError(f"{name}: file is empty")
    if content.startswith(b"\x93NUMPY"):
        return _npy_vectors(io.BytesIO(content), name)
    return _tsv_vectors(io.BytesIO(content), name)


def _raw_checks(path: Path, name: str) -> None:
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if path.is_dir():
        raise InputError(f"{name}: is a folder, not a file")


# Rows converted to float32 at a time (bounded extra memory for float64 or integer files).
NPY_BLOCK_ROWS = 65_536


def _npy_vectors(stream: Any, name: str) -> np.ndarray:
    start = stream.read(6)
    if start != b"\x93NUMPY":
        # np.load would try to unpickle anything else; say what the file is not instead.
        raise InputError(f"{name}: not a readable .npy file (no NumPy header); save one array with numpy.save")
    stream.seek(0)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(stream)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{name}: not a readable .npy file ({_first_line(exc)})") from None
    if dtype.hasobject:
        raise InputError(f"{name}: holds Python objects; only numeric arrays load (pickles are refused)")
    if dtype.kind not in "iuf":
        raise InputError(f"{name}: holds {dtype} values; vectors must be numbers")
    if len(shape) != 2:
        raise InputError(f"{name}: vectors must be a 2-D array (points x dimensions), got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise InputError(f"{name}: holds no vectors (shape {shape})")
    n, d = shape
    data_start = stream.tell()
    available = stream.seek(0, io.SEEK_END) - data_start
    stream.seek(data_start)
    if available < n * d * dtype.itemsize:
        raise InputError(
            f"{name}: not a readable .npy file (it ends early: the header says {n} x {d} values of "
            f"{dtype}, the file holds {available // dtype.itemsize:,} of them)"
        )
    if fortran:  # column-major: rows are not contiguous on disk; read it whole, as numpy does
        stream.seek(0)
        try:
            array = np.load(stream, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{name}: not a readable .npy file ({_first_line(exc)})") from None
        _check_finite(array, name)
        return np.ascontiguousarray(array, dtype=np.float32)
    out = np.empty((n, d), dtype=np.float32)
    step = NPY_BLOCK_ROWS
    for first in range(0, n, step):
        rows = min(step, n - first)
        if dtype == np.float32:
            target = out[first : first + rows]
            got = stream.readinto(memoryview(target).cast("B"))
            block = target
        else:
            raw = stream.read(rows * d * dtype.itemsize)
            got = len(raw)
            block = np.frombuffer(raw, dtype=dtype, count=got // dtype.itemsize) if got else None
        if got != rows * d * dtype.itemsize:  # the file shrank while it was read
            raise InputError(f"{name}: not a readable .npy file (it ends early, at row {first + 1})")
        block = block.reshape(rows, d)
        _check_finite(block, name, first)
        if dtype != np.float32:
            out[first : first + rows] = _as_float32(block, name, first)
    return out


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_finite(array: np.ndarray, name: str, first_row: int = 0) -> None:
    """Finite values only; the message names the file's row and column (1-based)."""
    step = NPY_BLOCK_ROWS  # a boolean mask of the whole matrix would be n x d bytes
    for start in range(0, len(array), step):
        block = array[start : start + step]
        bad = ~np.isfinite(block)
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            raise InputError(
                f"{name}: row {first_row + start + row + 1}, column {column + 1}: "
                f"value {block[row, column]} is not finite"
            )


def _as_float32(values: np.ndarray, name: str, first_row: int) -> np.ndarray:
    """float32 values; one too large for float32 (it would become inf) is an error naming it."""
    with np.errstate(over="ignore"):
        narrow = values.astype(np.float32)
    bad = ~np.isfinite(narrow)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"{name}: row {first_row + row + 1}, column {column + 1}: value {values[row, column]} "
            "is too large for float32 vectors"
        )
    return narrow


# ---- projector vectors TSV

# Bytes of the file parsed at a time. Each block goes through pandas' C parser; a block it does
# not take exactly (a blank or ragged row, a cell that is not a plain number, NaN or inf) is read
# again by the line-by-line reader, which says what is wrong where. The messages are those of a
# whole-file read: a problem earlier in the file's order of checks (UTF-8 first, then blank or
# ragged rows, then cells that are not numbers, then non-finite values) wins over a later one.
TSV_BLOCK_BYTES = 1 << 26
_BLANK_TAIL = re.compile(rb"[ \t\r\n\x0b\x0c]*\Z")


class _TsvProblems:
    """The first problem of each sort met so far, in file order."""

    ORDER = ("structure", "number", "finite")

    def __init__(self) -> None:
        self.first: dict[str, str] = {}

    def add(self, problem: str, message: str) -> None:
        self.first.setdefault(problem, message)

    def worst(self) -> str | None:
        return next((self.first[k] for k in self.ORDER if k in self.first), None)

    def settled(self) -> bool:
        """Nothing later in the file but a UTF-8 error could change the message."""
        return "structure" in self.first


def _tsv_blocks(stream: Any) -> Iterator[tuple[bytes, int, bool]]:
    """(block, file offset, is the last) pieces of whole lines; trailing blank lines stay with the
    next piece, so only the last piece decides whether they end the file."""
    carry = b""
    offset = 0
    while True:
        chunk = stream.read(TSV_BLOCK_BYTES)
        buffer = carry + chunk
        if not chunk:
            if buffer:
                yield buffer, offset, True
            return
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            cr = buffer.rfind(b"\r", 0, len(buffer) - 1)  # lone-CR files; a final CR may start CRLF
            cut = cr + 1
        # keep a run of blank lines at the end of the piece for the next one
        tail = _BLANK_TAIL.search(buffer, 0, cut)
        if tail is not None and tail.start() == 0:
            cut = 0  # only blank lines so far
        elif tail is not None and tail.start() < cut:
            ends = [buffer.find(b, tail.start(), cut) for b in (b"\n", b"\r")]
            ends = [e for e in ends if e >= 0]
            if ends:
                end = min(ends)
                cut = end + (2 if buffer[end : end + 2] == b"\r\n" else 1)
            else:
                cut = tail.start()
        if cut <= 0:
            carry = buffer
            continue
        yield buffer[:cut], offset, False
        offset += cut
        carry = buffer[cut:]


def _fast_tsv_block(block: bytes, width: int | None) -> np.ndarray | None:
    """The block's values as float64 by pandas' C parser, or None when it is not plainly valid."""
    import csv

    if not block.isascii():
        return None
    try:
        frame = pd.read_csv(io.BytesIO(block), sep="\t", header=None, dtype=np.float64, engine="c",
                            quoting=csv.QUOTE_NONE, skip_blank_lines=False, na_filter=False)
    except Exception:  # anything pandas does not take: the line reader says why
        return None
    values = frame.to_numpy(dtype=np.float64)
    if values.ndim != 2 or (width is not None and values.shape[1] != width) or not np.isfinite(values).all():
        return None
    return values


def _slow_tsv_block(
    text: str, name: str, first_row: int, width: int | None, last: bool, problems: _TsvProblems
) -> tuple[np.ndarray | None, int | None, int]:
    """Line by line: (values or None when a problem was found, width, rows read)."""
    lines = _LINE_BREAK.split(text)
    if last:
        while lines and not lines[-1].strip():
            lines.pop()  # trailing newline(s) only; a blank line inside is an error below
    elif lines and lines[-1] == "":
        lines.pop()  # the line break that ends the block
    cells: list[str] = []
    for number, line in enumerate(lines, start=first_row):
        if not line.strip():
            problems.add("structure", f"{name}: row {number} is blank")
            return None, width, len(lines)
        row = line.split("\t")
        if width is None:
            width = len(row)
        elif len(row) != width:
            problems.add("structure", f"{name}: row {number} has {len(row)} values, row 1 has {width}")
            return None, width, len(lines)
        cells.extend(row)
    if not lines:
        return np.zeros((0, width or 0)), width, 0
    assert width is not None
    try:
        flat = np.array(cells, dtype=np.float64)
    except ValueError:
        for i, cell in enumerate(cells):
            try:
                float(cell)
            except ValueError:
                row, column = divmod(i, width)
                shown = cell if len(cell) <= 30 else cell[:27] + "..."
                problems.add("number", f"{name}: row {first_row + row}, column {column + 1}: {shown!r} is not a number")
                return None, width, len(lines)
        problems.add("number", f"{name}: cannot read the values as numbers")  # numpy and float() disagree
        return None, width, len(lines)
    array = flat.reshape(len(lines), width)
    try:
        _check_finite(array, name, first_row - 1)
    except InputError as exc:
        problems.add("finite", str(exc))
        return None, width, len(lines)
    return array, width, len(lines)


def _decode_block(block: bytes, name: str, offset: int, lines_before: int) -> str:
    """UTF-8 text of one block; an error names the byte's offset and line in the whole file."""
    bom = 3 if offset == 0 and block.startswith(b"\xef\xbb\xbf") else 0
    try:
        return block[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start + bom
        line = lines_before + block.count(b"\n", 0, start) + 1
        raise InputError(
            f"{name}: not UTF-8 text (byte 0x{block[start]:02x} at offset {offset + start}, line {line})"
        ) from None


def _tsv_vectors(stream: Any, name: str) -> np.ndarray:
    """A projector vectors TSV: one row per line, tab-separated numbers, no header (see TSV_BLOCK_BYTES)."""
    problems = _TsvProblems()
    out: np.ndarray | None = None
    rows = 0  # rows (lines) read so far: the next row's number is rows + 1
    newlines = 0  # "\n" bytes before the block, for UTF-8 messages (they count lines that way)
    width: int | None = None
    for block, offset, last in _tsv_blocks(stream):
        if offset == 0 and block.startswith(b"\xef\xbb\xbf"):
            values = None
        else:
            values = _fast_tsv_block(block[: len(block) - len(_BLANK_TAIL.search(block).group())] if last else block,
                                     width)
        count = None if values is None else len(values)
        if values is None or problems.first:
            text = _decode_block(block, name, offset, newlines)
            if values is None and not problems.settled():
                values, width, count = _slow_tsv_block(text, name, rows + 1, width, last, problems)
        if values is not None and not problems.first:
            if width is None:
                width = values.shape[1]
            out = _append_rows(out, _as_float32(values, name, rows), rows, len(block), offset, stream)
        rows += count if count is not None else 0
        newlines += block.count(b"\n")
    message = problems.worst()
    if message is not None:
        raise InputError(message)
    if out is None or rows == 0:
        raise InputError(f"{name}: file is empty")
    out.resize((rows, out.shape[1]), refcheck=False)  # give back the spare rows (in place)
    return out


def _append_rows(out: np.ndarray | None, values: np.ndarray, rows: int, block_bytes: int, offset: int,
                 stream: Any) -> np.ndarray:
    """Put float32 values at row `rows` of `out`, sized from the file's length (grown if short)."""
    if out is None:
        try:
            size = os.fstat(stream.fileno()).st_size
        except (AttributeError, OSError, io.UnsupportedOperation):
            size = len(stream.getbuffer()) if hasattr(stream, "getbuffer") else block_bytes
        per_row = max(1.0, block_bytes / max(1, len(values)))
        out = np.empty((int(size / per_row * 1.02) + len(values) + 16, values.shape[1]), dtype=np.float32)
    if rows + len(values) > len(out):
        out.resize((int((rows + len(values)) * 1.25) + 16, out.shape[1]), refcheck=False)
    out[rows : rows + len(values)] = values
    return out


def _parse_metadata_tsv(text: str) -> tuple[list[str] | None, list[list[str]]]:
    """Metadata as the projector reads it: blank lines skipped; a tab in the first line => header.

    Unlike the projector, a trailing CR on a line (a Windows line ending) is dropped.
    """
    return parse_metadata(text.replace("\r\n", "\n"))


def read_projector(
    vectors: str | Path | bytes,
    metadata: str | Path | bytes | None = None,
    *,
    vectors_name: str | None = None,
    metadata_name: str | None = None,
) -> Dataset:
    """Vectors (`.npy` or projector TSV) plus an optional projector metadata TSV.

    texts are the first metadata column (named "label" when the file has one column and so no
    header); without metadata, texts is None.
    """
    array = read_vectors(vectors, filename=vectors_name)
    vname = vectors_name or str(vectors if not isinstance(vectors, (bytes, bytearray)) else "vectors")
    return dataset_from_vectors(array, Path(vname).name, metadata, metadata_name=metadata_name)


def dataset_from_vectors(
    array: np.ndarray,
    source: str,
    metadata: str | Path | bytes | None = None,
    *,
    metadata_name: str | None = None,
    bookmarks: tuple = (),
) -> Dataset:
    """A Dataset of checked (n, d) vectors plus an optional projector metadata TSV (path or bytes)."""
    if metadata is None:
        frame = pd.DataFrame(index=pd.RangeIndex(array.shape[0]))
        return Dataset(None, frame, None, source, array, bookmarks)
    content, mname, _ = _raw(metadata, metadata_name, "metadata")
    if not content:
        raise InputError(f"{mname}: file is empty")
    text = _decode(content, mname)
    _check_not_empty(text, mname)
    header, rows = _parse_metadata_tsv(text)
    if len(rows) != array.shape[0]:
        raise InputError(
            f"{source} has {array.shape[0]} vectors but {mname} has {len(rows)} metadata rows"
            + (" (header not counted)" if header is not None else "")
        )
    columns = unique_names(header if header is not None else ["label"])
    frame = pd.DataFrame({c: pd.Series([r[i] for r in rows], dtype=object) for i, c in enumerate(columns)})
    first = columns[0]
    for column in columns[1:]:
        if _numeric_like(frame[column]):
            frame[column] = pd.to_numeric(frame[column].str.strip())
    return Dataset(list(frame[first]), frame, first, source, array, bookmarks)
