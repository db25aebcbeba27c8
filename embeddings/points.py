"""``Points``: vectors with exactly one table row per vector, and where they came from.

This is the one value the CLI, the app and every export use, so they agree by construction.
``embeddings.pipeline.embed_points`` makes it for every level:

- ``text``: one vector per text; the table is the data's own columns;
- ``token``: one contextual vector per token; the table is ``token_table`` (token, position,
  token_id, text_index, then the text's own columns, its text as ``text``);
- ``vocab``: rows of the model's input embedding table; the table is token, token_id, pieces;
- ``image``: one vector per image (an image model's, or the raw pixels); the table is the data's
  own (a folder's: image, folder), and ``images`` holds the pictures (hover, sprites, the sprite
  sheet of the projector files).

Points are values, built with keywords after the vectors and the table: ``subset`` returns new
Points (remembering each point's row id, its row in the data as loaded, in ``row_ids``, so colours
and selections keep their meaning), ``project`` returns a ``Projection``, and
``write_projector`` / ``projector_zip`` write the projector files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embeddings.choices import LEVELS
from embeddings.errors import InputError

if TYPE_CHECKING:  # only for the annotations: importing them here would load the writers
    from embeddings.reduce import Projection


@dataclass(frozen=True, eq=False)
class Points:
    """Vectors (float32, n x d), one ``table`` row per vector, and their provenance."""

    vectors: np.ndarray
    table: pd.DataFrame
    _: KW_ONLY
    level: str = "text"  # one of LEVELS: "text" | "token" | "vocab"
    model: str | None = None  # the model that made the vectors; None for precomputed vectors
    fingerprint: str = ""  # the model's fingerprint (embeddings.models.fingerprint); "" if none
    layer: int | None = None  # token level: the layer the vectors come from
    source: str = ""  # where the data came from (a file name, "sample:...", "vocabulary of M")
    text_column: str | None = None  # the column that names a point (the text, or "token")
    # Each point's row id (its row in the data as loaded); always an array, 0..n-1 unless these
    # points are a subset (given as None: 0..n-1).
    row_ids: np.ndarray = None  # type: ignore[assignment]
    cached: int = field(default=0, compare=False)  # how many inputs came from the vector cache
    # What ran the model ("onnx", "onnx int8", "torch"; "" when nothing did) and, when that is not
    # what was asked for (a model that does not convert, a missing runtime), why, in one line.
    backend: str = field(default="", compare=False)
    backend_note: str = field(default="", compare=False)
    # The projector config's bookmarks that came with the data (embeddings.views.View, each with
    # its coordinates); they belong to these rows, so subset() leaves them behind.
    bookmarks: tuple = field(default=(), compare=False)
    # One image per point (embeddings.images.Images) when the points are images; subset() keeps it.
    images: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise InputError(f"{self.source or 'points'}: vectors must be 2-D, got shape {vectors.shape}")
        if len(self.table) != vectors.shape[0]:
            raise InputError(
                f"{self.source or 'points'}: {vectors.shape[0]} vectors but {len(self.table)} table rows"
            )
        if self.level not in LEVELS:
            raise InputError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        row_ids = np.arange(len(vectors)) if self.row_ids is None else np.asarray(self.row_ids, dtype=np.int64)
        if row_ids.shape != (len(vectors),):
            raise InputError(f"{self.source or 'points'}: {len(row_ids)} row ids for {len(vectors)} vectors")
        if self.images is not None and len(self.images) != len(vectors):
            raise InputError(f"{self.source or 'points'}: {len(self.images)} images for {len(vectors)} vectors")
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "table", self.table.reset_index(drop=True))
        object.__setattr__(self, "row_ids", row_ids)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def label_column(self) -> str | None:
        """The column that names a point in lists (its text or token)."""
        for column in (self.text_column, "token", "text", "label"):
            if column is not None and column in self.table.columns:
                return column
        return None

    @property
    def metadata(self) -> pd.DataFrame | None:
        """The table as the projector's metadata.tsv holds it (None when it has no columns)."""
        return self.table if self.table.shape[1] else None

    @property
    def tensor_name(self) -> str:
        """A one-line name for the projector: source, model and level."""
        name = self.source if self.model is None else f"{self.source} · {self.model} · {self.level}"
        return re.sub(r"[\r\n\t]+", " ", name)

    @cached_property
    def digest(self) -> str:
        """A content hash that names these points: provenance, vectors, table and row ids."""
        h = hashlib.blake2b(digest_size=10)
        for part in (self.level, self.model or "", self.fingerprint, str(self.layer), self.source,
                     str(self.text_column), str(self.vectors.shape)):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        h.update(np.ascontiguousarray(self.vectors).tobytes())
        h.update(np.ascontiguousarray(self.row_ids, dtype=np.int64).tobytes())
        h.update("\0".join(map(str, self.table.columns)).encode("utf-8", "surrogatepass"))
        try:
            h.update(pd.util.hash_pandas_object(self.table, index=False).to_numpy().tobytes())
        except (TypeError, ValueError):  # unhashable cells (lists, dicts): their text stands in
            h.update(self.table.astype(str).to_csv(index=False).encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def subset(self, rows: Sequence[int] | np.ndarray) -> "Points":
        """The given rows (positions in these points), in the given order, as new Points."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise InputError(f"rows out of range: there are {len(self)} points")
        return Points(
            self.vectors[idx], self.table.iloc[idx], level=self.level, model=self.model, fingerprint=self.fingerprint,
            layer=self.layer, source=self.source, text_column=self.text_column, row_ids=self.row_ids[idx],
            cached=self.cached, images=None if self.images is None else self.images.subset(idx),
            backend=self.backend, backend_note=self.backend_note,
        )

    def project(self, method: str = "pca", dims: int = 2, *, seed: int = 0, **params: Any) -> "Projection":
        """The points in 2D/3D (``embeddings.reduce.project``: PCA, UMAP or t-SNE)."""
        from embeddings.reduce import project

        return project(self.vectors, method, dims, seed=seed, **params)

    def project_live(self, method: str = "tsne", dims: int = 2, *, seed: int = 0, **params: Any) -> Any:
        """A UMAP or t-SNE layout computed in the background and watched as it forms
        (``embeddings.live.LiveProjection``, started): ``points.show(run)`` follows it on a map,
        ``run.result()`` is the Projection, the same as ``project`` gives."""
        from embeddings.live import LiveProjection

        return LiveProjection(self.vectors, method, dims, seed=seed, **params).start()

    def show(self, projection: Any = None, **options: Any) -> Any:
        """The points on a map in a notebook (``embeddings.show_map``): a Projection of them, an
        (n, 2|3) array, None for a 2D PCA, or a layout forming (``project_live``); options:
        color=, label=, search=, selected=, ..."""
        from embeddings.map.notebook import show_map

        return show_map(self, projection, **options)

    def write_projector(
        self, folder: str | Path, *, tensor_name: str | None = None, base_url: str | None = None,
        views: Sequence[Any] = (),
    ) -> dict[str, Path]:
        """vectors.tsv, metadata.tsv (the table), bookmarks.txt (these points' own bookmarks, then
        `views`: embeddings.views.View with coordinates), sprite.png (images) and projector_config.json
        in `folder`."""
        from embeddings.projector import write_projector

        return write_projector(folder, self.vectors, self.metadata, tensor_name=tensor_name or self.tensor_name,
                               base_url=base_url, views=[*self.bookmarks, *views], images=self.images)

    def projector_zip(self, *, tensor_name: str | None = None, views: Sequence[Any] = ()) -> bytes:
        """The same files as ``write_projector``, as the bytes of a zip."""
        from embeddings.projector import projector_zip

        return projector_zip(self.vectors, self.metadata, tensor_name=tensor_name or self.tensor_name,
                             views=[*self.bookmarks, *views], images=self.images)


def token_table(rows: pd.DataFrame, metadata: pd.DataFrame | None, text_column: str | None) -> pd.DataFrame:
    """One row per token: the token, where it sits, its id, its text, and its text's other columns.

    ``rows`` are the encoder's token rows (text_index, position, token, token_id...);
    ``metadata`` is the data's table, one row per text.
    """
    index = rows["text_index"].to_numpy()
    table = pd.DataFrame(
        {
            "token": rows["token"].astype(str).to_numpy(),
            "position": rows["position"].to_numpy(),
            "token_id": rows["token_id"].to_numpy(),
            "text_index": index,
        }
    )
    if metadata is None:
        return table
    source = metadata.iloc[index].reset_index(drop=True)
    for column in source.columns:
        name = column if column not in table.columns else f"text {column}"
        table[name] = source[column].to_numpy()
    if text_column in table.columns and text_column != "text" and "text" not in table.columns:
        table = table.rename(columns={text_column: "text"})
    return table
