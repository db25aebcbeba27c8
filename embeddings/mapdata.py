"""The map's data as one compact binary payload for the browser (no streamlit, no plotly here).

A projection goes to the browser once, as bytes: a JSON header, then 4-byte aligned sections of
little-endian typed arrays the browser reads without copying:

- ``coords/<panel>``: float32, (n, dims) row-major, one section per panel (a compare map has 2-4).
- per numeric column: float32 values (NaN when missing).
- per other column: the distinct values as one UTF-8 blob joined by "\\0", a code per row
  (uint8/uint16/uint32 index into those values) and a colour slot per distinct value (uint8).

A new layout of the same points (another projection, or a UMAP/t-SNE layout forming) travels as
``pack_coords``: the same format with only the ``coords/<panel>`` sections (``coords_only`` in the
header, and what a forming layout has reached under ``live``); the browser keeps the table it holds.
``table_digest`` names a payload's points without its coordinates, so a sender knows when that is enough.

Colour slots keep their meaning: they are ranked on ``categories_from`` (the whole table, when
``table`` is an isolated or filtered part of it), so a value has the same colour in every layout.
The ``MAX_CATEGORIES - 1`` largest values get a slot each (in natural name order); every other
value shares the last slot, "other", and the header lists what "other" holds. Values named
``muted`` (a cluster column's "noise") take no slot of their own: they share ``MUTED_SLOT``, a
light grey, come last in the legend, and the browser draws them under the others.

Images (points that are images): one more section, ``images/atlas``, the bytes of one PNG (or JPEG
for photos) holding every point's picture as a tile in point order (``embeddings.sprites.map_atlas``:
at most 4096 px a side, tiles of at most 64 px), and the header's ``images`` says how to cut it
(``tile`` [w, h], ``columns``, ``count``, ``format``). One picture per payload, not one request per
image; the browser decodes it once (hover shows a point's tile, zoomed in the points are drawn as
their tiles). Too many points for a 4 px tile: ``images`` is null and ``images_note`` says why.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from embeddings.errors import InputError

MAGIC = b"EMAP"
VERSION = 1
MAX_CATEGORIES = 20  # colour slots: the 19 largest values, then "other"
OTHER_SLOT = MAX_CATEGORIES - 1
MUTED_SLOT = MAX_CATEGORIES  # grey, under the others, last in the legend (core/colors.js: PALETTE[20])
# The colour of each slot, as the map draws it (core/colors.js PALETTE, checked equal by a test): a
# colour-blind-aware categorical palette, slot 19 "other" grey, slot 20 the muted light grey.
PALETTE = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
           "#9C755F", "#499894", "#A0CBE8", "#FFBE7D", "#FF9D9A", "#86BCB6", "#8CD17D", "#F1CE63", "#D4A6C8",
           "#FABFD2", "#D7B5A6", "#9A9A9A", "#C8C8C8")
OTHER_NAMES_LISTED = 200  # names of "other" values the legend can show (the largest first)
MAX_VALUE_CHARS = 1_000  # a longer cell is cut (hover and labels show far less)
MISSING = "(missing)"
OTHER = "other"
SEPARATOR = "\0"


@dataclass(frozen=True)
class Section:
    name: str
    dtype: str  # "float32", "uint8", "uint16", "uint32", "utf8"
    data: bytes


def is_numeric(values: pd.Series) -> bool:
    """Numbers get a continuous colour scale; everything else (booleans too) categories."""
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def as_text(values: pd.Series) -> pd.Series:
    """Cells as display strings; missing values as MISSING."""
    if pd.api.types.is_float_dtype(values.dtype):
        text = values.round(6).astype(str)
        return text.where(values.notna(), MISSING)
    text = values.astype(str)
    return text.where(values.notna(), MISSING) if values.hasnans else text


def natural_key(value: str) -> tuple:
    return (value == MISSING, [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", value)])


def category_slots(values: pd.Series, reference: pd.Series | None = None) -> tuple[dict[str, int], bool]:
    """(colour slot of each value that has its own, whether several values share "other").

    Slots are ranked on `reference` (default: `values` itself). At most MAX_CATEGORIES distinct
    reference values: each its own slot, in natural order. More: the MAX_CATEGORIES - 1 most
    common (ties by name) in natural order; every other value is OTHER_SLOT (not in the dict).
    """
    counts = as_text(values if reference is None else reference).value_counts(sort=False)
    grouped = len(counts) > MAX_CATEGORIES
    if not grouped:
        kept = list(counts.index)
    else:
        names = counts.index.to_numpy(dtype=str)
        order = np.lexsort((names, -counts.to_numpy()))  # by count, then by name: vectorised
        kept = [str(names[i]) for i in order[:OTHER_SLOT]]
    return {name: i for i, name in enumerate(sorted(kept, key=natural_key))}, grouped


def _codes_dtype(count: int) -> str:
    return "uint8" if count <= 256 else "uint16" if count <= 65_536 else "uint32"


def _category_column(name: str, values: pd.Series, reference: pd.Series | None,
                     muted: Sequence[str] = ()) -> tuple[dict, list[Section]]:
    text = as_text(values)
    codes, full = pd.factorize(text, sort=False)
    if muted:  # muted values are ranked apart: they never take one of the palette's slots
        values = values[~text.isin(muted).to_numpy()]
        if reference is not None:
            reference = reference[~as_text(reference).isin(muted).to_numpy()]
    own_slots, grouped = category_slots(values, reference)
    distinct = pd.Series(full, dtype=object)
    slots = distinct.map(own_slots).fillna(OTHER_SLOT).to_numpy(dtype=np.uint8)
    slots[distinct.isin(muted).to_numpy()] = MUTED_SLOT
    shown = pd.Series(full, dtype=object)
    long = shown.str.len() > MAX_VALUE_CHARS
    if long.any():  # shown cut; the colour slot came from the full text
        shown = shown.where(~long, shown.str.slice(0, MAX_VALUE_CHARS - 1) + "\u2026")
    if shown.str.contains(SEPARATOR, regex=False).any():
        shown = shown.str.replace(SEPARATOR, " ", regex=False)
    uniques = shown.tolist()
    counts = np.bincount(codes, minlength=len(uniques))
    per_slot = np.bincount(slots, weights=counts, minlength=MUTED_SLOT + 1).astype(np.int64)
    slot_names = {slot: value for value, slot in own_slots.items()}
    legend = []
    for slot in np.flatnonzero(per_slot):  # in slot order: the muted values last
        entry: dict = {"slot": int(slot), "count": int(per_slot[slot])}
        if slot == MUTED_SLOT:
            entry.update(name=" / ".join(v for v in muted if v in set(uniques)), muted=True)
        elif slot in slot_names:
            entry["name"] = slot_names[slot]
        else:  # OTHER_SLOT: "other" when shared, else the one value in it
            entry["name"] = OTHER if grouped else uniques[int(np.flatnonzero(slots == slot)[0])]
        legend.append(entry)
    other = np.flatnonzero(slots == OTHER_SLOT) if grouped else np.zeros(0, dtype=np.int64)
    listed = other[np.argsort(-counts[other], kind="stable")[:OTHER_NAMES_LISTED]]
    dtype = _codes_dtype(len(uniques))
    header = {
        "name": name,
        "type": "category",
        "distinct": len(uniques),
        "codes": dtype,
        "legend": legend,
        "other": {
            "values": int(len(other)),
            "points": int(counts[other].sum()),
            "names": [[uniques[i], int(counts[i])] for i in listed],
        },
    }
    blob = SEPARATOR.join(uniques).encode("utf-8")
    return header, [
        Section(f"{name}/values", "utf8", blob),
        Section(f"{name}/codes", dtype, codes.astype(dtype).tobytes()),
        Section(f"{name}/slots", "uint8", slots.tobytes()),
    ]


def _numeric_column(name: str, values: pd.Series) -> tuple[dict, list[Section]]:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(numbers)
    low, high = (float(numbers[finite].min()), float(numbers[finite].max())) if finite.any() else (0.0, 1.0)
    header = {"name": name, "type": "number", "min": low, "max": high, "missing": int((~finite).sum())}
    return header, [Section(f"{name}/numbers", "float32", numbers.astype(np.float32).tobytes())]


def pack_map_data(
    coords: np.ndarray | Sequence[np.ndarray],
    table: pd.DataFrame,
    *,
    categories_from: pd.DataFrame | None = None,
    panel_titles: Sequence[str] = (),
    axis_titles: Sequence[str] = (),
    images: Any = None,
    muted: Mapping[str, Sequence[str]] | None = None,
) -> bytes:
    """The payload for `coords` (one array, or one per panel, each (n, 2|3)) and `table` (n rows).

    categories_from: the table whose value counts rank the colours (default `table`); pass the
    whole table when `table` is part of it, so colours keep their meaning. muted: column ->
    values drawn grey under the others and listed last (e.g. {"cluster_label": ["noise"]}).
    images: one image per row of `table` (embeddings.images.Images), sent as one atlas.
    """
    panels = _panels(coords)
    n = len(table)
    for i, panel in enumerate(panels):
        if panel.ndim != 2 or panel.shape[1] not in (2, 3):
            raise InputError(f"coordinates must have shape (n, 2) or (n, 3), got {panel.shape}")
        if panel.shape[0] != n:
            raise InputError(f"the table has {n} rows but panel {i + 1} has {panel.shape[0]} points")
    sections = [Section(f"coords/{i}", "float32", np.ascontiguousarray(p).tobytes()) for i, p in enumerate(panels)]
    columns = []
    for column in table.columns:
        name = str(column)
        values = table[column].reset_index(drop=True)
        if is_numeric(values):
            header, parts = _numeric_column(name, values)
        else:
            reference = None
            if categories_from is not None and column in categories_from.columns:
                reference = categories_from[column]
            header, parts = _category_column(name, values, reference, tuple((muted or {}).get(name, ())))
        columns.append(header)
        sections.extend(parts)
    header = {
        "n": n,
        "panels": [{"dims": int(p.shape[1]), "title": str(panel_titles[i]) if i < len(panel_titles) else ""}
                   for i, p in enumerate(panels)],
        "axis_titles": [str(t) for t in axis_titles],
        "rows": [int(r) for r in table.index] if not _is_range(table.index) else None,
        "columns": columns,
    }
    if images is not None:
        header.update(_atlas(images, n, sections))
    return _assemble(header, sections)


def _atlas(images: Any, n: int, sections: list[Section]) -> dict:
    """The header's `images` (and the atlas section), or `images_note` when tiles would be too small."""
    from embeddings.sprites import MIN_MAP_TILE, map_atlas

    if len(images) != n:
        raise InputError(f"{len(images)} images for {n} points")
    atlas = map_atlas(images)
    if atlas is None:
        return {"images": None,
                "images_note": f"{n:,} images are too many to draw as pictures of at least {MIN_MAP_TILE} px"}
    sections.append(Section("images/atlas", "uint8", atlas.data))
    return {"images": {"tile": list(atlas.tile), "columns": atlas.columns, "count": atlas.count,
                       "format": atlas.format}}


def _panels(coords: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(c, dtype=np.float32) for c in (coords if isinstance(coords, (list, tuple)) else [coords])]


def pack_coords(
    coords: np.ndarray | Sequence[np.ndarray],
    *,
    panel_titles: Sequence[str] = (),
    axis_titles: Sequence[str] = (),
    live: dict | None = None,
) -> bytes:
    """A payload of coordinates only (one array, or one per panel, each (n, 2|3)) with their
    titles: a new layout of points the browser already holds. `live`: small JSON about a layout
    still forming (its iteration, state...), read by the map as it is."""
    panels = _panels(coords)
    n = len(panels[0]) if panels else 0
    for i, panel in enumerate(panels):
        if panel.ndim != 2 or panel.shape[1] not in (2, 3) or len(panel) != n:
            raise InputError(f"panel {i + 1}: coordinates must have shape ({n}, 2) or ({n}, 3), got {panel.shape}")
    sections = [Section(f"coords/{i}", "float32", np.ascontiguousarray(p).tobytes()) for i, p in enumerate(panels)]
    header: dict = {"n": n, "panels": [{"dims": int(p.shape[1]), "title": str(panel_titles[i]) if i < len(panel_titles) else ""}
                               for i, p in enumerate(panels)],
                    "axis_titles": [str(t) for t in axis_titles], "rows": None, "columns": [], "coords_only": True}
    if live is not None:
        header["live"] = live
    return _assemble(header, sections)


def table_digest(payload: bytes) -> str:
    """A digest of everything in a payload but its coordinates and their titles: equal for two
    layouts of the same points (same rows, columns and colours), so the second can go as
    ``pack_coords``."""
    header, _ = _read_header(payload)
    digest = hashlib.sha1()
    kept = {k: v for k, v in header.items() if k not in ("sections", "axis_titles")}
    kept["panels"] = len(header["panels"])
    digest.update(json.dumps(kept, sort_keys=True).encode())
    base = 12 + struct.unpack_from("<I", payload, 8)[0]
    for section in header["sections"]:
        if not section["name"].startswith("coords/"):
            digest.update(section["name"].encode() + b"\0")
            digest.update(payload[base + section["offset"] : base + section["offset"] + section["bytes"]])
    return digest.hexdigest()


def _is_range(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _assemble(header: dict, sections: list[Section]) -> bytes:
    offset = 0
    table = []
    for section in sections:
        table.append({"name": section.name, "dtype": section.dtype, "offset": offset, "bytes": len(section.data)})
        offset += _padded(len(section.data))
    header = {**header, "sections": table}
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head += b" " * (_padded(len(head)) - len(head))
    out = bytearray(MAGIC + struct.pack("<II", VERSION, len(head)) + head)
    for section in sections:
        out += section.data + b"\0" * (_padded(len(section.data)) - len(section.data))
    return bytes(out)


def _padded(size: int) -> int:
    return (size + 3) // 4 * 4


def _read_header(payload: bytes) -> tuple[dict, int]:
    if payload[:4] != MAGIC:
        raise InputError("not a map payload (wrong magic bytes)")
    version, head_len = struct.unpack_from("<II", payload, 4)
    if version != VERSION:
        raise InputError(f"map payload version {version}, expected {VERSION}")
    return json.loads(payload[12 : 12 + head_len].decode("utf-8")), 12 + head_len


def unpack_map_data(payload: bytes) -> tuple[dict, dict[str, np.ndarray | list[str]]]:
    """Read a payload back (what the browser does): (header, {section name: array or strings})."""
    header, base = _read_header(payload)
    arrays: dict[str, np.ndarray | list[str]] = {}
    for section in header["sections"]:
        raw = payload[base + section["offset"] : base + section["offset"] + section["bytes"]]
        if section["dtype"] == "utf8":
            arrays[section["name"]] = raw.decode("utf-8").split(SEPARATOR)
        else:
            arrays[section["name"]] = np.frombuffer(raw, dtype=np.dtype(section["dtype"]).newbyteorder("<"))
    return header, arrays
