"""Projector configs in: what projector.tensorflow.org and TensorBoard users have.

- ``projector_config.json`` (the standalone projector's ``?config=``): ``{"embeddings": [{"tensorName",
  "tensorShape": [n, d], "tensorPath", "metadataPath", "bookmarksPath"}]}``.
- A TensorBoard log folder with ``projector_config.pbtxt`` (text protobuf, ``embeddings { tensor_name
  tensor_path metadata_path bookmarks_path tensor_shape }``), in the folder or in its run folders.

Tensors are TSV (one row per point) or ``.bytes`` (little-endian float32, row-major, shape from
``tensorShape``), as the projector reads them (data-provider-demo.ts picks by the ``.bytes``
suffix; TensorBoard falls back to bytes when a file is not text). Paths resolve against the
config's folder, then the folders above it (the standalone projector resolves them against its
site's root: its own demo config in oss_data/ names "oss_data/iris_tensors.bytes"). Nothing is ever fetched: a URL (the published demo configs use them) stands for
the file of that name beside the config, or gets one line saying to download it. A tensor kept
in a TensorFlow checkpoint (no ``tensor_path``) gets one line too: not supported. Bookmarks (the projector's saved
``State`` list) come back as ``View``s carrying their coordinates, and a sprite (``"sprite":
{"imagePath", "singleImageDim"}``, or ``sprite { image_path single_image_dim }`` in a .pbtxt) as
the points' images: one tile each (``embeddings.sprites.cut_sprite``). This is the reading half:
it imports no writer.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from embeddings.choices import VIEW_METHODS
from embeddings.data import Dataset, dataset_from_vectors, parse_vectors_file
from embeddings.errors import InputError
from embeddings.images import Images
from embeddings.look import Look
from embeddings.reduce import Projection
from embeddings.views import View

CONFIG_JSON = "projector_config.json"
CONFIG_PBTXT = "projector_config.pbtxt"
CONFIG_SUFFIXES = (".json", ".pbtxt")
BYTES_SUFFIX = ".bytes"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
NO_COLOR = "No color map"  # the projector's colour option for "no colouring"
MAX_RUN_DEPTH = 3  # TensorBoard run folders searched below a log folder
MAX_PARENT_LEVELS = 3  # folders above a config searched for the files it names (as the projector's site root)


@dataclass(frozen=True)
class TensorEntry:
    """One embedding of a config: its name, shape and file paths as the config spells them."""

    name: str
    shape: tuple[int, int] | None
    tensor_path: str | None
    metadata_path: str | None
    bookmarks_path: str | None
    config: Path  # the config file; relative paths resolve against its folder
    sprite_path: str | None = None  # the sprite sheet: one tile per point
    sprite_tile: tuple[int, int] | None = None  # singleImageDim: (width, height) of a tile


def is_projector_config(path: str | Path) -> bool:
    """A .json / .pbtxt file, or a folder holding a projector config (ours or TensorBoard's).

    A folder with no config in it (or in its run folders) is not one: it may be a folder of shards.
    """
    path = Path(path)
    if path.is_dir():
        try:
            return bool(config_files(path))
        except InputError:
            return False
    return path.suffix.lower() in CONFIG_SUFFIXES


# ------------------------------------------------------------------ finding and reading configs


def config_files(path: str | Path) -> list[Path]:
    """The config file itself, or a folder's projector_config.pbtxt / .json (then its run folders')."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if not path.is_dir():
        return [path]
    for name in (CONFIG_PBTXT, CONFIG_JSON):
        if (path / name).is_file():
            return [path / name]
    found: list[Path] = []
    for folder, subfolders, files in os.walk(path):
        depth = len(Path(folder).relative_to(path).parts)
        subfolders[:] = sorted(s for s in subfolders if not s.startswith(".")) if depth < MAX_RUN_DEPTH else []
        if CONFIG_PBTXT in files:
            found.append(Path(folder) / CONFIG_PBTXT)
    if not found:
        raise InputError(f"{path}: a folder with no {CONFIG_PBTXT} or {CONFIG_JSON} in it (or in its run folders)")
    return found


def read_entries(path: str | Path) -> list[TensorEntry]:
    """Every tensor the config (or log folder) lists, in order; run folders prefix their names."""
    path = Path(path)
    files = config_files(path)
    entries: list[TensorEntry] = []
    for file in files:
        found = _read_pbtxt(file) if file.suffix.lower() == ".pbtxt" else _read_json(file)
        if len(files) > 1:
            run = file.parent.relative_to(path).as_posix()
            found = [_renamed(e, f"{run}/{e.name}" if run != "." else e.name) for e in found]
        entries.extend(found)
    if not entries:
        raise InputError(f"{files[0]}: lists no embeddings")
    return entries


def _renamed(entry: TensorEntry, name: str) -> TensorEntry:
    return replace(entry, name=name)


def _read_text(file: Path) -> str:
    try:
        content = file.read_bytes()
    except OSError as error:
        raise InputError(f"{file}: cannot be read ({error.strerror or error})") from None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{file}: not UTF-8 text") from None


def _read_json(file: Path) -> list[TensorEntry]:
    try:
        config = json.loads(_read_text(file))
    except json.JSONDecodeError as error:
        raise InputError(f"{file}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    if not isinstance(config, dict) or not isinstance(config.get("embeddings"), list):
        raise InputError(f'{file}: not a projector config (no "embeddings" list)')
    entries = []
    for i, item in enumerate(config["embeddings"], start=1):
        if not isinstance(item, dict):
            raise InputError(f"{file}: embedding {i} is not an object")
        name = _string(item.get("tensorName"), file, f"embedding {i} tensorName") or f"tensor {i}"
        entries.append(TensorEntry(
            name=name,
            shape=_shape(item.get("tensorShape"), file, name),
            tensor_path=_string(item.get("tensorPath"), file, f"tensor '{name}' tensorPath"),
            metadata_path=_string(item.get("metadataPath"), file, f"tensor '{name}' metadataPath"),
            bookmarks_path=_string(item.get("bookmarksPath"), file, f"tensor '{name}' bookmarksPath"),
            config=file,
            **_json_sprite(item.get("sprite"), file, name),
        ))
    return entries


def _json_sprite(sprite: Any, file: Path, name: str) -> dict[str, Any]:
    """sprite_path and sprite_tile of a JSON entry's "sprite": {"imagePath", "singleImageDim"}."""
    if sprite is None:
        return {}
    if not isinstance(sprite, dict):
        raise InputError(f"{file}: tensor '{name}': sprite must be an object with imagePath and singleImageDim")
    path = _string(sprite.get("imagePath"), file, f"tensor '{name}' sprite imagePath")
    if path is None:
        return {}
    return {"sprite_path": path, "sprite_tile": _tile(sprite.get("singleImageDim"), file, name)}


def _tile(value: Any, file: Path, name: str) -> tuple[int, int]:
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise InputError(f"{file}: tensor '{name}': the sprite's singleImageDim must be [width, height] in pixels, "
                         f"not {value!r}")
    return int(value[0]), int(value[1])


def _read_pbtxt(file: Path) -> list[TensorEntry]:
    message = parse_pbtxt(_read_text(file), str(file))
    entries = []
    for i, item in enumerate(message.get("embeddings", []), start=1):
        if not isinstance(item, dict):
            raise InputError(f"{file}: embeddings {i} is not a message")
        name = _last_string(item, "tensor_name", file) or f"tensor {i}"
        name = name[:-2] if name.endswith(":0") else name  # as TensorBoard normalises it
        shape = item.get("tensor_shape")
        entries.append(TensorEntry(
            name=name,
            shape=_shape(shape if shape else None, file, name),
            tensor_path=_last_string(item, "tensor_path", file),
            metadata_path=_last_string(item, "metadata_path", file),
            bookmarks_path=_last_string(item, "bookmarks_path", file),
            config=file,
            **_pbtxt_sprite(item.get("sprite"), file, name),
        ))
    return entries


def _pbtxt_sprite(sprites: Any, file: Path, name: str) -> dict[str, Any]:
    """TensorBoard's `sprite { image_path: "..." single_image_dim: 28 single_image_dim: 28 }`."""
    if not sprites:
        return {}
    sprite = sprites[-1]
    if not isinstance(sprite, dict):
        raise InputError(f"{file}: tensor '{name}': sprite must be a message with image_path and single_image_dim")
    path = _last_string(sprite, "image_path", file)
    if path is None:
        return {}
    return {"sprite_path": path, "sprite_tile": _tile(list(sprite.get("single_image_dim") or []), file, name)}


def _string(value: Any, file: Path, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{file}: {what} must be text, not {value!r}")
    return value


def _last_string(item: dict, key: str, file: Path) -> str | None:
    values = item.get(key) or []
    return _string(values[-1], file, key) if values else None


def _shape(value: Any, file: Path, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise InputError(f"{file}: tensor '{name}': tensorShape must be [points, dimensions], not {value!r}")
    return int(value[0]), int(value[1])


# ------------------------------------------------------------------ text protobuf


_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+|\#[^\n]*) | (?P<newline>\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:\d[\w.+-]*|\.\d[\w.+-]*))
  | (?P<name>[A-Za-z_][\w.]*) | (?P<punct>[{}\[\]:,;<>])
""", re.VERBOSE)
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_SIMPLE = {"n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
           "\\": b"\\", "'": b"'", '"': b'"', "?": b"?"}


def parse_pbtxt(text: str, name: str) -> dict[str, list[Any]]:
    """A text-format protobuf message as {field: [values]} (messages as nested dicts).

    Enough of the format for projector configs and any message like them: `field: value`,
    `field { ... }` / `field < ... >`, `field: [v, ...]`, strings with C escapes (adjacent ones
    joined), numbers, identifiers, `#` comments and `,` / `;` separators.
    """
    tokens = _tokenize(text, name)
    message, at = _message(tokens, 0, None, name)
    return message


def _tokenize(text: str, name: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    line, at = 1, 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise InputError(f"{name}: line {line}: cannot read {text[at:at + 20]!r}")
        token_type = match.lastgroup or ""
        if token_type == "newline":
            line += 1
        elif token_type != "space":
            tokens.append((token_type, match.group(), line))
        at = match.end()
    return tokens


def _message(tokens: list, at: int, close: str | None, name: str) -> tuple[dict[str, list[Any]], int]:
    fields: dict[str, list[Any]] = {}
    while at < len(tokens):
        token_type, value, line = tokens[at]
        if token_type == "punct" and value == close:
            return fields, at + 1
        if token_type != "name":
            raise InputError(f"{name}: line {line}: expected a field name, got {value!r}")
        at += 1
        colon = at < len(tokens) and tokens[at][1] == ":"
        at += colon
        if at >= len(tokens):
            raise InputError(f"{name}: line {line}: field {value!r} has no value")
        opener = tokens[at][1]
        if tokens[at][0] == "punct" and opener in "{<":
            item, at = _message(tokens, at + 1, "}" if opener == "{" else ">", name)
            fields.setdefault(value, []).append(item)
        elif tokens[at][0] == "punct" and opener == "[":
            items, at = _list(tokens, at + 1, name, value)
            fields.setdefault(value, []).extend(items)
        elif not colon:
            raise InputError(f"{name}: line {line}: expected ':' after {value!r}")
        else:
            item, at = _scalar(tokens, at, name)
            fields.setdefault(value, []).append(item)
        if at < len(tokens) and tokens[at][0] == "punct" and tokens[at][1] in ",;":
            at += 1
    if close is not None:
        raise InputError(f"{name}: a message is not closed with {close!r} before the end of the file")
    return fields, at


def _list(tokens: list, at: int, name: str, field: str) -> tuple[list[Any], int]:
    items: list[Any] = []
    while at < len(tokens):
        if tokens[at][1] == "]":
            return items, at + 1
        if tokens[at][1] in "{<":
            item, at = _message(tokens, at + 1, "}" if tokens[at][1] == "{" else ">", name)
        else:
            item, at = _scalar(tokens, at, name)
        items.append(item)
        if at < len(tokens) and tokens[at][1] == ",":
            at += 1
    raise InputError(f"{name}: the list of {field!r} is not closed with ']'")


def _scalar(tokens: list, at: int, name: str) -> tuple[Any, int]:
    token_type, value, line = tokens[at]
    if token_type == "string":
        parts = []
        while at < len(tokens) and tokens[at][0] == "string":
            parts.append(_unescape(tokens[at][1][1:-1], name, tokens[at][2]))
            at += 1
        return b"".join(parts).decode("utf-8", errors="replace"), at
    if token_type == "number":
        try:
            number = float(value.rstrip("fF")) if re.search(r"[.eE]|^[-+]?(inf|nan)", value) else int(value, 0)
        except ValueError:
            raise InputError(f"{name}: line {line}: {value!r} is not a number") from None
        return number, at + 1
    if token_type == "name":
        return {"true": True, "false": False}.get(value, value), at + 1
    raise InputError(f"{name}: line {line}: expected a value, got {value!r}")


def _unescape(body: str, name: str, line: int) -> bytes:
    out = bytearray()
    last = 0
    for match in _ESCAPE.finditer(body):
        out += body[last:match.start()].encode("utf-8")
        octal, hexa, char = match.groups()
        if octal:
            out.append(int(octal, 8) & 0xFF)
        elif hexa:
            out.append(int(hexa, 16))
        elif char in _SIMPLE:
            out += _SIMPLE[char]
        else:
            raise InputError(f"{name}: line {line}: unknown escape '\\{char}' in a string")
        last = match.end()
    out += body[last:].encode("utf-8")
    return bytes(out)


# ------------------------------------------------------------------ a tensor's files


def _resolve(entry: TensorEntry, value: str, what: str) -> Path:
    """A path from the config, found as the projector finds it. Nothing is ever fetched: a URL (as
    in the projector's published demo configs) names the file of that name beside the config.

    A relative path is tried against the config's folder, then against the folders above it
    (MAX_PARENT_LEVELS): the standalone projector resolves paths against the page, so its own
    demo config in oss_data/ names "oss_data/iris_tensors.bytes", relative to the site's root.
    When none exists, the one line says every path tried.
    """
    where = f"{entry.config}: tensor '{entry.name}'"
    if _URL.match(value):
        local = entry.config.parent / unquote(urlsplit(value).path.rsplit("/", 1)[-1])
        if local.name and local.is_file():
            return local
        raise InputError(f"{where}: {what} is a URL ({value[:80]}); nothing is fetched from the network: "
                         f"download it next to the config as {local.name or 'a file'}, or give a local path")
    tried = candidate_paths(entry.config, value)
    for path in tried:
        if path.is_file():
            return path
    reason = "is a folder" if tried[0].is_dir() else "no such file"
    places = f"({tried[0]})" if len(tried) == 1 else f"(tried {', '.join(str(p) for p in tried)})"
    raise InputError(f"{where}: {what} {value}: {reason} {places}")


def candidate_paths(config: Path, value: str) -> list[Path]:
    """Where a path named in `config` may be, in the order tried: as written when absolute; else
    against the config's folder, then each folder above it, up to MAX_PARENT_LEVELS."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return [path]
    folders = [config.parent, *config.parent.parents][: MAX_PARENT_LEVELS + 1]
    found: list[Path] = []
    for folder in folders:
        candidate = folder / path
        if candidate not in found:
            found.append(candidate)
    return found


def read_tensor(entry: TensorEntry) -> np.ndarray:
    """The entry's vectors, (n, d) float32: .bytes by its shape, anything else as TSV (or .npy)."""
    if not entry.tensor_path:
        raise InputError(f"{entry.config}: tensor '{entry.name}' has no tensor path, so it lives in a TensorFlow "
                         "checkpoint; checkpoint tensors are not supported: save it as TSV or .bytes")
    path = _resolve(entry, entry.tensor_path, "tensorPath")
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
    binary = path.suffix.lower() == BYTES_SUFFIX
    if not binary and entry.shape is not None and not content.startswith(b"\x93NUMPY"):
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            binary = True  # TensorBoard reads a file that is not text as float32 bytes
    if binary:
        array = read_bytes_tensor(content, path, entry)
    else:
        array = parse_vectors_file(content, str(path))
        if entry.shape is not None and tuple(array.shape) != entry.shape:
            raise InputError(f"{path}: holds {array.shape[0]} x {array.shape[1]} vectors, but tensorShape in "
                             f"{entry.config.name} says {list(entry.shape)}")
    return array


def read_bytes_tensor(content: bytes, path: Path | str, entry: TensorEntry) -> np.ndarray:
    """Little-endian float32, row-major, exactly tensorShape[0] x tensorShape[1] values."""
    if entry.shape is None:
        raise InputError(f"{entry.config}: tensor '{entry.name}': a .bytes tensor needs tensorShape [points, dimensions]")
    n, d = entry.shape
    want = n * d * 4
    if len(content) != want:
        whole = "" if len(content) % 4 == 0 else ", not a whole number of float32 values"
        problem = "truncated" if len(content) < want else "too long"
        raise InputError(f"{path}: {len(content):,} bytes{whole}; tensorShape {list(entry.shape)} needs "
                         f"{n:,} x {d:,} float32 = {want:,} bytes ({problem})")
    array = np.frombuffer(content, dtype="<f4").reshape(n, d).astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{path}: row {row + 1}, column {column + 1}: value {array[row, column]} is not finite")
    return array


def pick_entry(entries: list[TensorEntry], tensor: str | None, where: str | Path) -> TensorEntry:
    """The tensor named `tensor`, or the first; an unknown name lists the names there are."""
    if tensor is None:
        return entries[0]
    for entry in entries:
        if entry.name == tensor:
            return entry
    names = ", ".join(repr(e.name) for e in entries)
    raise InputError(f"{where}: no tensor {tensor!r}; its tensors: {names}")


def read_projector_config(path: str | Path, tensor: str | None = None) -> Dataset:
    """One tensor of a projector config or TensorBoard log folder as a Dataset (vectors, metadata, bookmarks)."""
    path = Path(path)
    entry = pick_entry(read_entries(path), tensor, path)
    array = read_tensor(entry)
    metadata = _resolve(entry, entry.metadata_path, "metadataPath") if entry.metadata_path else None
    source = f"{path.name} [{entry.name}]"
    dataset = dataset_from_vectors(array, source, metadata)
    if entry.sprite_path:
        dataset = replace(dataset, images=read_sprite(entry, len(array)))
    if not entry.bookmarks_path:
        return dataset
    bookmarks_file = _resolve(entry, entry.bookmarks_path, "bookmarksPath")
    columns = [str(c) for c in dataset.metadata.columns]
    bookmarks = read_bookmarks(bookmarks_file, array.shape, columns, data=str(path), tensor=entry.name)
    return replace(dataset, bookmarks=bookmarks)


def read_sprite(entry: TensorEntry, count: int) -> Images:
    """The entry's sprite sheet cut into one tile per point (as the projector cuts it)."""
    from embeddings.sprites import cut_sprite

    path = _resolve(entry, entry.sprite_path, "the sprite's imagePath")
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from None
    tiles = cut_sprite(content, count, entry.sprite_tile, str(path))
    return Images.from_tiles(tiles, path.name)


# ------------------------------------------------------------------ bookmarks


def read_bookmarks(
    path: str | Path, shape: tuple[int, int], columns: list[str], *, data: str | None = None,
    tensor: str | None = None,
) -> tuple[View, ...]:
    """The projector's bookmarks file (a JSON list of its States) as Views with their coordinates."""
    path = Path(path)
    try:
        states = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    if not isinstance(states, list):
        raise InputError(f"{path}: bookmarks must be a JSON list of the projector's states, not {type(states).__name__}")
    return tuple(_bookmark_view(state, i, path, shape, columns, data, tensor) for i, state in enumerate(states))


def _coordinate_keys(state: dict, method: str, where: str) -> tuple[list[str], dict[str, Any]]:
    """The projection keys a state's projection reads (getProjectionComponents) and its parameters."""
    if method == "pca":
        components = state.get("pcaComponentDimensions")
        ok = isinstance(components, list) and len(components) in (2, 3) and all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in components)
        if not ok or len(set(components)) != len(components):
            raise InputError(f"{where}: pcaComponentDimensions must be 2 or 3 component numbers, not {components!r}")
        return [f"pca-{c}" for c in components], {"components": list(components)}
    if method == "custom":
        return ["linear-x", "linear-y"], {}
    is3d = bool(state.get("tSNEis3d" if method == "tsne" else "umapIs3d"))
    keys = [f"{method}-{j}" for j in range(3 if is3d else 2)]
    params: dict[str, Any] = {}
    if method == "umap":
        params = {"n_neighbors": state.get("umapNeighbors"), "min_dist": state.get("umapMinDist")}
    else:
        rate = state.get("tSNELearningRate")  # the projector keeps log10 of its learning rate
        params = {"perplexity": state.get("tSNEPerplexity"),
                  "learning_rate": 10.0 ** rate if _is_number(rate) else None,
                  "n_iter": state.get("tSNEIteration") or None}
    return keys, {k: v for k, v in params.items() if _is_number(v) and v > 0}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _rows(value: Any, limit: int, where: str, what: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise InputError(f"{where}: {what} must be a list of point numbers")
    bad = [i for i in value if not 0 <= i < limit]
    if bad:
        raise InputError(f"{where}: {what} names point {bad[0]}, but there are {limit}")
    return value


def _bookmark_view(
    state: Any, index: int, path: Path, shape: tuple[int, int], columns: list[str], data: str | None,
    tensor: str | None,
) -> View:
    if not isinstance(state, dict):
        raise InputError(f"{path}: bookmark {index + 1} is not an object")
    label = state.get("label") if isinstance(state.get("label"), str) else ""
    where = f"{path}: bookmark {index + 1}" + (f" ({label!r})" if label else "")
    n, d = shape
    dims = state.get("dataSetDimensions")
    if dims is not None and list(dims) != [n, d]:
        raise InputError(f"{where} was made for a data set of shape {list(dims)}; this tensor is {[n, d]}")
    method = state.get("selectedProjection")
    if method not in VIEW_METHODS:
        raise InputError(f"{where}: selectedProjection must be pca, umap, tsne or custom, not {method!r}")
    keys, params = _coordinate_keys(state, method, where)
    filtered = state.get("filteredPoints")
    rows = np.arange(n) if filtered is None else np.asarray(_rows(filtered, n, where, "filteredPoints"), dtype=np.int64)
    if filtered is not None and len(filtered) == 0:
        rows = np.arange(n)  # the projector's getSubset([]) is every point
    projections = state.get("projections")
    if not isinstance(projections, list) or len(projections) != len(rows):
        got = len(projections) if isinstance(projections, list) else "no"
        raise InputError(f"{where}: has {got} point projections for {len(rows)} points")
    coords = np.full((len(rows), len(keys)), np.nan, dtype=np.float64)
    for i, point in enumerate(projections):
        if isinstance(point, dict):
            coords[i] = [point[k] if _is_number(point.get(k)) else np.nan for k in keys]
    # The projector lays out a sample for UMAP / t-SNE above its limits; points it did not place
    # have no coordinates and are left out of this view (as the projector draws nothing for them).
    placed = np.isfinite(coords).all(axis=1)
    if not placed.any():
        raise InputError(f"{where}: no point has {', '.join(keys)} coordinates")
    selected = _rows(state.get("selectedPoints") or [], len(rows), where, "selectedPoints")
    kept = rows[placed]
    projection = Projection(
        coords=np.ascontiguousarray(coords[placed], dtype=np.float32),
        method=method, dims=len(keys), params=params,
        subset_rows=None if len(kept) == n and filtered is None else kept,
        note=None if len(kept) == n else f"the bookmark places {len(kept):,} of {n:,} points",
    )
    colour = state.get("selectedColorOptionName")
    label_by = state.get("selectedLabelOption")
    return View(
        name=(label or f"bookmark {index + 1}")[:120],
        data=data, tensor=tensor, model=None, method=method, dims=len(keys),
        params=params if method != "custom" else {}, bookmark=index,
        look=Look(color=colour if colour in columns else None, label=label_by if label_by in columns else None,
                  selection=tuple(int(rows[i]) for i in selected)),
        projection=projection,
    )
