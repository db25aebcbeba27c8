"""Sprite sheets: every point's image as one tile of one picture, in point order.

The TensorFlow Embedding Projector draws images from one sprite sheet named in
``projector_config.json`` (``"sprite": {"imagePath": "sprite.png", "singleImageDim": [w, h]}``):
a square grid of ``ceil(sqrt(n))`` columns of w x h tiles, tile i at column ``i % columns``, row
``i // columns`` (row-major, point order), the whole sheet at most 8192 x 8192 px (the
projector refuses a larger one). It reads the number of columns as ``floor(sheet width / w)``.
``sprite_sheet`` writes one: each tile is the image fitted into the tile (aspect kept, centred,
transparent around it), the tile the images' most common size, shrunk to at most
``MAX_TILE_SIDE`` px and then as far as the sheet needs. ``cut_sprite`` reads one back into tiles.

The map in the browser draws from the same kind of sheet, smaller (``map_atlas``): one picture
per payload, not one request per image, at most ``MAP_ATLAS_SIDE`` px on a side.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from embeddings.errors import InputError
from embeddings.images import Images

MAX_SPRITE_SIDE = 8192  # the projector's limit on either side of the sheet
# A sprite tile's longer side at most: the projector shows sprites a few dozen pixels wide (its
# demos use 28 and 32), and 10k photos at 64 px already make a 6400 px sheet of tens of MB.
MAX_TILE_SIDE = 64
MAP_ATLAS_SIDE = 4096  # the map's atlas: a texture every WebGL2 implementation takes
MAP_TILE_SIDE = 64  # the map's tiles: the hover picture and the drawn points at most this
MIN_MAP_TILE = 4  # below this the map shows no pictures (1M points would be 4 px each)
# An atlas of colour pictures larger than this (raw RGBA) goes as JPEG: measured on a 4096 px sheet
# of photo crops, PNG took 15 s for 27 MB, WebP 4-7 s for 3.1 MB, JPEG (quality 90) 0.3 s for 4.6 MB.
# Grey sheets (digits, scans) stay PNG: lossless and small.
MAP_ATLAS_LOSSLESS_BYTES = 4 << 20
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Sprite:
    """An encoded sheet: its bytes, format ("png", "jpeg"), tile size (w, h) and columns."""

    data: bytes
    format: str
    tile: tuple[int, int]
    columns: int
    count: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sheet in pixels."""
        return self.columns * self.tile[0], self._rows * self.tile[1]

    @property
    def _rows(self) -> int:
        return math.ceil(self.count / self.columns)


def grid_columns(count: int) -> int:
    """Columns of the square grid for `count` tiles."""
    return max(1, math.isqrt(count - 1) + 1) if count > 0 else 1


def tile_size(size: tuple[int, int], columns: int, rows: int, max_tile: int, max_side: int) -> tuple[int, int]:
    """A tile for images of `size` (w, h): aspect kept, at most `max_tile` on its longer side and
    small enough that `columns` x `rows` tiles fit in `max_side` x `max_side`; (0, 0) when not even
    one pixel fits."""
    w, h = size
    scale = min(1.0, max_tile / max(w, h), max_side / (columns * w), max_side / (rows * h))
    tw, th = max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
    if columns * tw > max_side or rows * th > max_side:
        return 0, 0
    return tw, th


def sheet_array(tiles: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """(rows * h, columns * w, 4) uint8: tile i at row i // columns, column i % columns."""
    n, h, w, _ = tiles.shape
    sheet = np.zeros((rows * h, columns * w, 4), dtype=np.uint8)
    padded = np.zeros((rows * columns, h, w, 4), dtype=np.uint8)
    padded[:n] = tiles
    sheet[:] = padded.reshape(rows, columns, h, w, 4).transpose(0, 2, 1, 3, 4).reshape(rows * h, columns * w, 4)
    return sheet


def channels(tiles: np.ndarray) -> str:
    """The fewest PIL channels that hold these RGBA tiles exactly: "L" (opaque grey), "RGB"
    (opaque) or "RGBA"."""
    if not (tiles[..., 3] == 255).all():
        return "RGBA"
    grey = (tiles[..., 0] == tiles[..., 1]).all() and (tiles[..., 1] == tiles[..., 2]).all()
    return "L" if grey else "RGB"


def encode_sheet(sheet: np.ndarray, image_format: str = "png", mode: str = "RGBA") -> bytes:
    """PNG (lossless, in `mode`'s channels: see channels) or JPEG (transparent parts on white)
    bytes of an RGBA sheet. Cells past the last tile are never read: they may turn black."""
    from PIL import Image

    buffer = io.BytesIO()
    if image_format == "jpeg":
        alpha = sheet[..., 3:].astype(np.uint16)
        flat = (sheet[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
        # 4:4:4: no colour shared across a tile's edge (4:2:0 would blend neighbouring tiles' colour).
        Image.fromarray(flat.astype(np.uint8), "RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        return buffer.getvalue()
    if mode == "L":
        image = Image.fromarray(np.ascontiguousarray(sheet[..., 0]), "L")
    elif mode == "RGB":
        image = Image.fromarray(np.ascontiguousarray(sheet[..., :3]), "RGB")
    else:
        image = Image.fromarray(sheet, "RGBA")
    # zlib level 3: half the time of the default 6 on photo sheets, for 6% more bytes.
    image.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def sprite_sheet(images: Images, *, max_side: int = MAX_SPRITE_SIDE, max_tile: int = MAX_TILE_SIDE,
                 progress: Any = None) -> Sprite:
    """The projector's sprite: a square PNG grid of every image in point order (see the module)."""
    n = len(images)
    columns = grid_columns(n)
    tile = tile_size(images.common_size(), columns, columns, max_tile, max_side)
    if tile == (0, 0):
        raise InputError(f"{images.source or 'images'}: {n:,} images do not fit a {max_side} x {max_side} px "
                         f"sprite sheet even at one pixel each ({columns:,} columns)")
    tiles = images.thumbnails(tile, progress)
    sheet = sheet_array(tiles, columns, columns)
    return Sprite(encode_sheet(sheet, "png", channels(tiles)), "png", tile, columns, columns * columns)


def map_atlas(images: Images, *, max_side: int = MAP_ATLAS_SIDE, max_tile: int = MAP_TILE_SIDE,
              progress: Any = None) -> Sprite | None:
    """The map's atlas: every image as a tile of at most `max_tile` px, rows as needed, PNG (JPEG
    for large sheets of colour pictures: photos); None when the tiles would be under MIN_MAP_TILE px."""
    n = len(images)
    columns = grid_columns(n)
    rows = math.ceil(n / columns)
    tile = tile_size(images.common_size(), columns, rows, max_tile, max_side)
    if min(tile) < MIN_MAP_TILE:
        return None
    # A part of the points (isolated, filtered) reuses the thumbnails made for all of them when
    # they are at least half as large as it could have: no image is decoded twice for the map.
    made = [box for box in images.thumbnail_boxes() if tile[0] / 2 <= box[0] <= tile[0] and box[1] <= tile[1]]
    if made:
        tile = max(made, key=lambda box: box[0] * box[1])
    tiles = images.thumbnails(tile, progress)
    sheet, mode = sheet_array(tiles, columns, rows), channels(tiles)
    image_format = "jpeg" if sheet.nbytes > MAP_ATLAS_LOSSLESS_BYTES and mode != "L" else "png"
    return Sprite(encode_sheet(sheet, image_format, mode), image_format, tile, columns, n)


def cut_sprite(content: bytes, count: int, tile: tuple[int, int], name: str) -> np.ndarray:
    """(count, h, w, 4) uint8 RGBA tiles of a sprite sheet, read as the projector reads it:
    floor(width / w) columns, tile i at row i // columns; one InputError line when it cannot be."""
    from PIL import Image, UnidentifiedImageError

    w, h = (int(v) for v in tile)
    if w < 1 or h < 1:
        raise InputError(f"{name}: singleImageDim must be two whole numbers of at least 1, not {list(tile)}")
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            sheet = np.asarray(image.convert("RGBA"))
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InputError(f"{name}: cannot be read as an image ({str(error).splitlines()[0][:200]})") from None
    height, width = sheet.shape[:2]
    if width > MAX_SPRITE_SIDE or height > MAX_SPRITE_SIDE:
        raise InputError(f"{name}: {width} x {height} px is larger than the projector's {MAX_SPRITE_SIDE} x "
                         f"{MAX_SPRITE_SIDE} px sprite limit")
    columns = width // w
    capacity = columns * (height // h)
    if capacity < count:
        raise InputError(f"{name}: a {width} x {height} px sheet holds {capacity:,} tiles of {w} x {h} px, "
                         f"fewer than the {count:,} points")
    rows = math.ceil(count / columns)
    grid = sheet[: rows * h, : columns * w].reshape(rows, h, columns, w, 4).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grid.reshape(rows * columns, h, w, 4)[:count])
