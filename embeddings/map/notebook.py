"""``show_map``: the point map in a notebook (``embeddings.show_map``, ``Points.show``).

anywidget is imported only here, when a map is shown, so ``import embeddings`` stays light and
works without the ``notebook`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from embeddings.map.layout import map_layout

if TYPE_CHECKING:
    from embeddings.map.widget import MapWidget

INSTALL = "pip install 'embedding-explorer[notebook]'"


def show_map(
    points: Any,  # embeddings.points.Points
    projection: Any = None,
    *,
    color: str | None = None,
    label: str | None = None,
    search: str = "",
    regex: bool = False,
    case: bool = False,
    selected: Sequence[int] = (),
    neighbors: int = 10,
    height: int = 560,
) -> "MapWidget":
    """The map of `points` in `projection` as a notebook widget (display it, or leave it last in a cell).

    projection: a Projection of these points (``points.project(...)``; a sampled one draws its
    sample), an (n, 2|3) array of coordinates, None for a 2D PCA, or a UMAP / t-SNE layout still
    forming (``points.project_live(...)``: the map follows it, with Pause, Resume and Stop). color / label: a column of
    ``points.table``. selected: row ids. neighbors: how many nearest neighbours (in the original
    space) a click lights (0: none). Read ``widget.selected`` (row ids) or
    ``widget.selected_points`` (Points) after selecting in the map; set ``widget.color``,
    ``widget.search``, ``widget.selected`` and the map follows without the data being sent again.
    """
    try:
        from embeddings.map.widget import MapWidget
    except ImportError as error:
        raise ImportError(f"the notebook map needs anywidget ({error.name} is missing): {INSTALL}") from None

    from embeddings.live import LiveProjection

    run = projection if isinstance(projection, LiveProjection) else None
    if run is not None:  # drawn from its first frame (after its neighbours are found), then followed
        run.start().wait(0)
        frame = run.frame
        if frame is None:
            run.result()  # it failed (or was cancelled) before its first frame: say why
        projection = frame.projection(measure=False)
    layout = map_layout(points, projection)
    for option, column in (("color", color), ("label", label)):
        layout.check_column(column, option)
    return MapWidget(layout, neighbors=neighbors, run=run, color=color or "", label=label or "", search=search,
                     regex=regex, case=case, selected=list(selected), height=height)
