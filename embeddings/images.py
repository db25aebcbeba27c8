"""Images as points: the files of a folder, the paths of a table's image column, or a sprite's tiles.

``Images`` holds one image per point and knows where each came from, so every message names the
file (and, for a table, the row and column). Files are checked when the data is read: a missing
file, a path that leads outside the folder (``../``, an absolute path elsewhere, a symbolic link
out), and a file that is not an image each stop the reading with one line; nothing is skipped
silently. The pixels are decoded only when they are needed (vectors, sprite tiles, the map's
atlas), and a file that turns out to be damaged then stops the work with one line too.

Every image is read the same way: EXIF orientation applied where it sits in the file's header
(JPEG, TIFF, WebP: as photo viewers show it), the first frame of an animation, 16-bit and float
greyscale scaled to 8 bits, and kept as RGBA.
Images of several sizes are fine: what needs one size (pixel vectors, sprite tiles) resizes
them and the data's ``size_note`` says so.

Pillow is imported inside the functions that decode, so reading a table without images never
loads it.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
IMAGE_COLUMN = "image"  # a folder's table: each image's path, relative to the folder
FOLDER_COLUMN = "folder"  # a folder's table: the sub-folder an image sits in (a class, often)
ORIENTATION_TAG = 0x0112  # EXIF: how a camera held the picture
EXIF_FORMATS = ("JPEG", "MPO", "TIFF", "WEBP")


@dataclass(frozen=True, eq=False)
class Images:
    """One image per point: files on this machine, or tiles held in memory (a sprite's).

    ``names``: each image as the data names it (a path relative to the folder or table).
    ``places``: how a message names it ("photos/cats/a.jpg", or "table.csv: row 3, column 'image'
    (cats/a.jpg)"). ``sizes``: (n, 2) width and height in pixels, from each file's header.
    """

    names: tuple[str, ...]
    places: tuple[str, ...]
    sizes: np.ndarray
    paths: tuple[Path, ...] | None = None  # the files, resolved; None when `tiles` hold the pixels
    tiles: np.ndarray | None = None  # (n, h, w, 4) uint8 RGBA, when held in memory
    source: str = ""
    left_out: int = 0  # files of the folder that are not images (or hidden), not read
    _memo: dict = field(default_factory=dict, repr=False, compare=False)  # thumbnails by box

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.places) != n or len(self.sizes) != n:
            raise ValueError("names, places and sizes must have one entry per image")
        if (self.paths is None) == (self.tiles is None):
            raise ValueError("images are files or tiles, one of the two")
        if n == 0:
            raise InputError(f"{self.source or 'images'}: holds no images")

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        held = "files" if self.paths is not None else "tiles"
        return f"Images({len(self):,} {held} from {self.source!r})"

    @classmethod
    def from_tiles(cls, tiles: np.ndarray, source: str, names: Sequence[str] | None = None) -> "Images":
        """Images held as (n, h, w, 4) RGBA tiles (a sprite's), named `names` or "SOURCE #i"."""
        tiles = np.ascontiguousarray(tiles, dtype=np.uint8)
        n, h, w = tiles.shape[:3]
        names = tuple(names) if names is not None else tuple(f"{source} #{i}" for i in range(n))
        sizes = np.tile(np.array([[w, h]], dtype=np.int64), (n, 1))
        return cls(names, names, sizes, tiles=tiles, source=source)

    def subset(self, rows: Sequence[int] | np.ndarray) -> "Images":
        """The given rows, in the given order (thumbnails already made come along)."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        memo = {box: thumbs[idx] for box, thumbs in self._memo.items()}
        return Images(
            tuple(self.names[i] for i in idx), tuple(self.places[i] for i in idx), self.sizes[idx],
            left_out=self.left_out,
            paths=None if self.paths is None else tuple(self.paths[i] for i in idx),
            tiles=None if self.tiles is None else self.tiles[idx], source=self.source, _memo=memo,
        )

    def notes(self) -> list[str]:
        """What a person should know about these images: files left out, sizes that differ."""
        notes = []
        if self.left_out:
            notes.append(f"{self.source}: {self.left_out:,} file{'s' if self.left_out != 1 else ''} that "
                         f"{'are' if self.left_out != 1 else 'is'} not an image ({', '.join(IMAGE_SUFFIXES)}) or "
                         "hidden left out")
        size = self.size_note()
        if size is not None:
            notes.append(size)
        return notes

    # ------------------------------------------------------------ pixels

    def digest(self, i: int) -> bytes:
        """sha256 of the image's bytes (its file, or its tile): what the vector cache keys it by."""
        if self.tiles is not None:
            tile = self.tiles[i]
            return hashlib.sha256(str(tile.shape).encode() + tile.tobytes()).digest()
        try:
            return hashlib.sha256(self.paths[i].read_bytes()).digest()
        except OSError as error:
            raise InputError(f"{self.places[i]}: cannot be read ({error.strerror or error})") from None

    def rgba(self, i: int, at_least: int | None = None) -> Any:
        """Image i as a PIL RGBA image, decoded now (a damaged file is one InputError line).
        `at_least`: the size wanted on each side; a JPEG may then be decoded smaller (still larger
        than that), which is several times faster for photos."""
        from PIL import Image

        if self.tiles is not None:
            return Image.fromarray(self.tiles[i], "RGBA")
        return open_rgba(self.paths[i], self.places[i], at_least)

    def rgb(self, i: int, background: tuple[int, int, int] = (255, 255, 255)) -> Any:
        """Image i as a PIL RGB image, transparent parts over `background` (what CLIP models read)."""
        from PIL import Image

        image = self.rgba(i)
        flat = Image.new("RGBA", image.size, (*background, 255))
        flat.alpha_composite(image)
        return flat.convert("RGB")

    def thumbnails(self, box: tuple[int, int], progress: Any = None) -> np.ndarray:
        """(n, h, w, 4) uint8: every image fitted into a box of w x h (aspect kept, centred on
        transparent pixels), made once per box and kept. progress(done, total) as they are made."""
        box = (int(box[0]), int(box[1]))
        if box not in self._memo:
            self._memo[box] = _fit_all(self, box, progress)
        return self._memo[box]

    def thumbnail_boxes(self) -> list[tuple[int, int]]:
        """The boxes whose thumbnails are made already (a subset keeps its parent's)."""
        return list(self._memo)

    def common_size(self) -> tuple[int, int]:
        """The most common (width, height); ties go to the larger area."""
        counts = Counter(map(tuple, self.sizes.tolist()))
        (w, h), _ = max(counts.items(), key=lambda item: (item[1], item[0][0] * item[0][1]))
        return int(w), int(h)

    def size_note(self) -> str | None:
        """One line when the images come in several sizes (what resizes them), else None."""
        w, h = self.common_size()
        other = np.flatnonzero((self.sizes[:, 0] != w) | (self.sizes[:, 1] != h))
        if not len(other):
            return None
        first = int(other[0])
        fw, fh = (int(v) for v in self.sizes[first])
        return (f"{len(self) - len(other):,} of {len(self):,} images are {w} x {h} px; {len(other):,} "
                f"{'has' if len(other) == 1 else 'have'} other sizes (the first: {self.names[first]}, {fw} x {fh}); "
                f"pixel vectors resize them to {w} x {h} and sprite tiles fit them into it")


def open_rgba(path: Path, place: str, at_least: int | None = None) -> Any:
    """A file decoded to RGBA (orientation, first frame, 16-bit and float greyscale handled);
    with `at_least`, a JPEG is decoded at the smallest of 1/2, 1/4, 1/8 that keeps that size."""
    from PIL import ImageOps

    with _opened(path, place) as image:
        if at_least is not None and image.format == "JPEG":
            image.draft(image.mode, (at_least, at_least))
        image.load()
        if image.format in EXIF_FORMATS:  # as _probe: orientation where EXIF sits in the header
            image = ImageOps.exif_transpose(image)
        return _as_rgba(image)


@contextmanager
def _opened(path: Path, place: str) -> Iterator[Any]:
    """The file opened by Pillow; every way opening or decoding it fails (in the block too) is one
    InputError line naming `place`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            yield image
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{place}: no such file") from None
    except UnidentifiedImageError:
        raise InputError(f"{place}: not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise InputError(f"{place}: too large to open safely ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:  # truncated or damaged data, an unknown mode
        raise InputError(f"{place}: cannot be read as an image ({_first_line(error)})") from None


def _as_rgba(image: Any) -> Any:
    from PIL import Image

    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if image.mode == "F":
            top = max(float(values.max(initial=0)), 1.0)
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return image.convert("RGBA")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def _fit_all(images: Images, box: tuple[int, int], progress: Any) -> np.ndarray:
    from PIL import Image

    w, h = box
    if images.tiles is not None and images.tiles.shape[1:3] == (h, w):
        return images.tiles.copy()
    out = np.zeros((len(images), h, w, 4), dtype=np.uint8)
    for i in range(len(images)):
        image = images.rgba(i, at_least=max(w, h))
        if image.size != (w, h):
            scale = min(w / image.size[0], h / image.size[1])
            size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
        x, y = (w - image.size[0]) // 2, (h - image.size[1]) // 2
        out[i, y : y + image.size[1], x : x + image.size[0]] = np.asarray(image)
        if progress is not None and (i % 256 == 255 or i == len(images) - 1):
            progress(i + 1, len(images))
    return out


# ------------------------------------------------------------------ finding and checking the files


def _probe(path: Path, place: str) -> tuple[int, int]:
    """(width, height) from the file's header; a file that is no image is one InputError line."""
    with _opened(path, place) as image:
        w, h = int(image.size[0]), int(image.size[1])
        # EXIF orientations 5-8 turn the picture a quarter: it is shown (and read here) h x w.
        # Only where EXIF sits in the header: a PNG's getexif() would decode the whole image.
        turned = image.format in EXIF_FORMATS and image.getexif().get(ORIENTATION_TAG) in (5, 6, 7, 8)
        return (h, w) if turned else (w, h)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def image_files(folder: str | Path) -> tuple[Images, list[str]]:
    """Every image file under `folder` (sub-folders too, in sorted path order), as Images, with
    each one's path relative to the folder (other files are counted in ``Images.left_out``).

    A symbolic link that leads outside the folder is refused (one line), as is a folder with no images.
    """
    root = Path(folder)
    shown = str(folder)
    if not root.is_dir():
        raise InputError(f"{shown}: no such folder")
    real_root = root.resolve()
    relative: list[str] = []
    others = 0
    for current, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        base = Path(current)
        for name in sorted(files):
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                others += 1
                continue
            relative.append((base / name).relative_to(root).as_posix())
    relative.sort()
    if not relative:
        raise InputError(f"{shown}: holds no images ({', '.join(IMAGE_SUFFIXES)}), in it or in its sub-folders")
    paths, places, sizes = [], [], []
    for name in relative:
        place = str(Path(shown) / name)
        real = (real_root / name).resolve()
        if not _inside(real, real_root):
            raise InputError(f"{place}: leads outside {shown} (to {real}); only images inside the folder are read")
        sizes.append(_probe(real, place))
        paths.append(real)
        places.append(place)
    images = Images(tuple(relative), tuple(places), np.asarray(sizes, dtype=np.int64).reshape(-1, 2),
                    paths=tuple(paths), source=root.name or shown, left_out=others)
    return images, relative


def image_column(values: Sequence[Any], table: str | Path, column: str, where: Sequence[str]) -> Images:
    """The images a table's column names, as paths relative to the table's folder.

    ``where[i]`` names row i in messages ("row 3", "line 4"). A missing value, a path outside the
    table's folder (absolute, ``..``, or a symbolic link out), a missing file and a file that is
    no image each stop the reading with one line naming the row, the column and the path.
    """
    table_path = Path(table)
    root = table_path.resolve().parent
    paths, places, names, sizes = [], [], [], []
    for i, value in enumerate(values):
        prefix = f"{table}: {where[i]}, column '{column}'"
        if value is None or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value.strip()):
            raise InputError(f"{prefix}: no image path")
        if not isinstance(value, str):
            raise InputError(f"{prefix}: expected an image path, got {type(value).__name__} {str(value)[:40]!r}")
        name = value.strip()
        place = f"{prefix} ({name})"
        given = Path(name).expanduser()
        real = (given if given.is_absolute() else root / given).resolve()
        if not _inside(real, root):
            raise InputError(f"{place}: leads outside the table's folder {root}; image paths are relative to the "
                             "table and stay inside its folder")
        if not real.exists():
            raise InputError(f"{place}: no such file ({real})")
        if real.is_dir():
            raise InputError(f"{place}: is a folder, not an image file")
        sizes.append(_probe(real, place))
        paths.append(real)
        places.append(place)
        names.append(name)
    return Images(tuple(names), tuple(places), np.asarray(sizes, dtype=np.int64).reshape(-1, 2), paths=tuple(paths),
                  source=table_path.name)


def holds_images(folder: str | Path) -> bool:
    """True when a folder (or one of its sub-folders) holds an image file."""
    root = Path(folder)
    if not root.is_dir():
        return False
    for current, subfolders, files in os.walk(root):
        subfolders[:] = [s for s in subfolders if not s.startswith(".")]
        if any(Path(f).suffix.lower() in IMAGE_SUFFIXES and not f.startswith(".") for f in files):
            return True
    return False
