"""What a notebook map or an exported map.html draws: some points' coordinates and their rows.

``map_layout(points, projection)`` pairs Points with a Projection of them (or an array of
coordinates, one row per point), keeps the rows the projection drew (a sampled projection draws
some), and packs them as ``embeddings.mapdata``'s payload with each point's row id, so what the
browser reports (selections, clicks) are row ids that survive subset and sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import pandas as pd

from embeddings.errors import InputError
from embeddings.mapdata import pack_map_data

METHOD_TITLES = {"pca": "PC", "umap": "UMAP ", "tsne": "t-SNE "}


@dataclass(frozen=True, eq=False)
class MapLayout:
    """Points, the positions of those drawn (in the points) and their coordinates (m, 2|3)."""

    points: Any  # embeddings.points.Points (not imported: Points.show imports this module)
    positions: np.ndarray
    coords: np.ndarray
    axis_titles: tuple[str, ...] = ()

    @property
    def dims(self) -> int:
        return int(self.coords.shape[1])

    @cached_property
    def row_ids(self) -> np.ndarray:
        """The row id of each point drawn."""
        return np.asarray(self.points.row_ids)[self.positions]

    @cached_property
    def table(self) -> pd.DataFrame:
        """One table row per point drawn, indexed by its row id."""
        table = self.points.table.iloc[self.positions].copy()
        table.index = pd.Index(self.row_ids.astype(np.int64))
        return table

    def payload(self) -> bytes:
        images = getattr(self.points, "images", None)  # points that are images: their pictures too
        return pack_map_data(self.coords, self.table, categories_from=self.points.table, axis_titles=self.axis_titles,
                             images=None if images is None else images.subset(self.positions))

    def positions_of(self, row_ids: Sequence[int], what: str = "row") -> np.ndarray:
        """The positions in the points of these row ids; an id the map does not draw is an error."""
        where = {int(r): i for i, r in enumerate(self.row_ids)}
        out = []
        for r in row_ids:
            if int(r) not in where:
                raise InputError(f"{what} {int(r)} is not on this map ({len(where)} points drawn)")
            out.append(int(self.positions[where[int(r)]]))
        return np.asarray(out, dtype=np.int64)

    def check_column(self, column: str | None, what: str) -> str:
        """`column` when it is a column of the table ("" for none), else a one-line error."""
        if column is None or column == "":
            return ""
        names = [str(c) for c in self.points.table.columns]
        if str(column) not in names:
            raise InputError(f"{what} {column!r}: not a column; columns: {', '.join(names) or 'none'}")
        return str(column)


def map_layout(points: Any, projection: Any = None) -> MapLayout:
    """The layout of `points` in `projection`: a reduce.Projection of them (sampled or not), an
    array of coordinates (one row per point, 2 or 3 columns), or None for a 2D PCA."""
    if projection is None:
        projection = points.project("pca", 2)
    if hasattr(projection, "coords") and hasattr(projection, "rows"):
        coords, positions = np.asarray(projection.coords, dtype=np.float32), np.asarray(projection.rows, dtype=np.int64)
        prefix = METHOD_TITLES.get(getattr(projection, "method", ""), "")
        titles = tuple(f"{prefix}{i + 1}" for i in range(coords.shape[1] if coords.ndim == 2 else 0)) if prefix else ()
    else:
        coords, positions, titles = np.asarray(projection, dtype=np.float32), np.arange(len(points)), ()
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise InputError(f"coordinates must have shape (n, 2) or (n, 3), got {coords.shape}")
    if len(coords) != len(positions):
        raise InputError(f"{len(coords)} coordinates for {len(positions)} points: the projection is of other points")
    if len(positions) and (positions.min() < 0 or positions.max() >= len(points)):
        raise InputError(f"the projection names rows up to {int(positions.max())}, but there are {len(points)} points "
                         "(was it made from other points?)")
    return MapLayout(points, positions, coords, titles)
