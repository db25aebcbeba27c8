"""The point map in a notebook: an anywidget (JupyterLab, Jupyter Notebook, VS Code).

The data goes to the browser once, as the binary ``payload`` trait (``embeddings.mapdata``'s
format); after that only small traits travel. Set ``color``, ``label``, ``search``, ``regex``,
``case``, ``selected`` or ``highlight`` from Python and the map follows; colour, search or select
in the map and the traits follow (``selected`` holds row ids). A click asks Python for the point's
nearest neighbours in the original space, which the map then lights (``highlight``). A layout
still forming (an ``embeddings.live.LiveProjection``) is followed: its frames go as ``coords``
(coordinates only, the look stays), how far it has got as ``live``, and the map's Pause, Resume
and Stop come back as messages (the run computes in its own thread, so the kernel is free to
hear them). The
widget's JavaScript is the map core and ``hosts/widget.js`` joined into one module
(``embeddings.map.bundle``), so nothing is fetched from anywhere.

Needs ``anywidget`` (``pip install 'embedding-explorer[notebook]'``); ``embeddings.show_map`` and
``Points.show`` import this module only when called.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import anywidget
import numpy as np
import traitlets

from embeddings.errors import InputError
from embeddings.map.bundle import bundle
from embeddings.map.layout import MapLayout
from embeddings.mapdata import pack_coords

FRAME_SECONDS = 0.15  # a layout forming: at most this often a new frame to the notebook (as the app: about 6.7 a second)


class RowIds(traitlets.List):
    """A list of row ids; any sequence of integers (a numpy array, a range) is taken as one."""

    def validate(self, obj: Any, value: Any) -> Any:
        if not isinstance(value, list) and not isinstance(value, (str, bytes)):
            try:
                value = np.asarray(value).reshape(-1).tolist()
            except (TypeError, ValueError):
                pass  # the List check below names the problem
        return super().validate(obj, value)


class MapWidget(anywidget.AnyWidget):
    """One map of some points; see the module's docstring for what each trait does."""

    _esm = bundle("hosts/widget.js")
    payload = traitlets.Bytes(b"").tag(sync=True)  # sent once: a binary buffer, not JSON
    data_id = traitlets.Unicode("").tag(sync=True)
    text_column = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(560).tag(sync=True)
    color = traitlets.Unicode("").tag(sync=True)  # a column, or "" for one colour
    label = traitlets.Unicode("").tag(sync=True)
    search = traitlets.Unicode("").tag(sync=True)
    regex = traitlets.Bool(False).tag(sync=True)
    case = traitlets.Bool(False).tag(sync=True)
    selected = RowIds().tag(sync=True)  # row ids
    highlight = RowIds().tag(sync=True)  # row ids lit (a clicked point and its neighbours)
    clicked = traitlets.Int(None, allow_none=True)  # the row id clicked last (set by the map)
    coords = traitlets.Bytes(b"").tag(sync=True)  # a new layout of the same points (mapdata.pack_coords)
    live = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)  # a layout forming: LiveProjection.status()

    def __init__(self, layout: MapLayout, *, neighbors: int = 10, run: Any = None, **traits: Any) -> None:
        """run: an embeddings.live.LiveProjection of the points `layout` draws, followed as it forms."""
        self._layout = layout
        self._neighbors = int(neighbors)
        self._run = run
        points = layout.points
        super().__init__(payload=layout.payload(), data_id=f"{points.digest}:{len(layout.positions)}",
                         text_column=points.label_column or "", **traits)
        self.on_msg(self._on_message)
        if run is not None:
            self.live = run.status()
            threading.Thread(target=self._follow, args=(run,), daemon=True, name="map-live").start()

    # ---------------------------------------------------------------- checks (one line each)
    @traitlets.validate("color", "label")
    def _column(self, proposal: dict) -> str:
        try:
            return self._layout.check_column(proposal["value"], proposal["trait"].name)
        except InputError as error:
            raise traitlets.TraitError(str(error)) from None

    @traitlets.validate("selected", "highlight")
    def _rows(self, proposal: dict) -> list[int]:
        name, values = proposal["trait"].name, list(proposal["value"])
        wrong = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
        if wrong:
            raise traitlets.TraitError(f"{name}: row ids are whole numbers, not {wrong[0]!r}")
        rows = [int(v) for v in values]
        try:
            self._layout.positions_of(rows, what=f"{name}: row id")
        except InputError as error:
            raise traitlets.TraitError(str(error)) from None
        return rows

    # ---------------------------------------------------------------- what Python reads back
    @property
    def points(self):  # -> Points
        """The points this map draws (all of them, also those a sampled projection left out)."""
        return self._layout.points

    @property
    def selected_points(self):  # -> Points
        """The selected points, in the order they were selected, as Points (``Points.subset``)."""
        return self._layout.points.subset(self._layout.positions_of(self.selected))

    @property
    def look(self) -> dict[str, Any]:
        """Colour, label, search and selection, under the keys a saved view uses."""
        return {"color": self.color, "label": self.label, "search": self.search, "regex": self.regex,
                "case": self.case, "sel": list(self.selected)}

    # ---------------------------------------------------------------- neighbours
    def light_neighbors(self, row: int, k: int | None = None) -> list[int]:
        """Light the point with row id `row` and its `k` nearest neighbours in the original space
        (those the map draws); returns their row ids."""
        from embeddings.neighbors import nearest

        layout = self._layout
        position = int(layout.positions_of([row])[0])
        k = self._neighbors if k is None else int(k)
        found = nearest(layout.points.vectors, position, k=max(1, k)).rows if k > 0 else np.zeros(0, np.int64)
        drawn = set(int(p) for p in layout.positions)
        ids = np.asarray(layout.points.row_ids)
        lit = [int(row)] + [int(ids[p]) for p in found if int(p) in drawn]
        self.highlight = lit
        return lit

    # ---------------------------------------------------------------- a layout forming
    def _follow(self, run: Any) -> None:
        """Each new frame of the run to the map (at most every FRAME_SECONDS), then the result."""
        from embeddings.live import OVER

        seq = 0
        while True:
            seq, frame = run.wait(seq, timeout=1.0)
            snapshot = run.snapshot()
            if frame is not None and snapshot["frame"] is frame:
                self.coords = pack_coords(frame.coords)
            if snapshot["state"] in OVER:
                break
            self.live = run.status(snapshot)
            time.sleep(FRAME_SECONDS)
        if snapshot["state"] == "done":  # the finished layout: what the map and Python read from now on
            final = run.result()
            self._layout = replace(self._layout, coords=np.asarray(final.coords, dtype=np.float32))
            self.coords = pack_coords(final.coords)
        self.live = None if snapshot["state"] == "done" else run.status(snapshot)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "live" and self._run is not None:
            if content.get("action") in ("pause", "resume", "stop"):
                getattr(self._run, content["action"])()
            return
        if not isinstance(content, dict) or content.get("type") != "click" or content.get("clicked") is None:
            return
        self.clicked = int(content["clicked"])
        if self._neighbors > 0:
            self.light_neighbors(self.clicked)
