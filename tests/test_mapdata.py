"""The map's binary payload (embeddings.mapdata) and the map component's Python side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embeddings.errors import InputError
from embeddings.mapdata import MAX_CATEGORIES, MUTED_SLOT, OTHER, OTHER_SLOT, pack_map_data, unpack_map_data


def _columns(header: dict) -> dict[str, dict]:
    return {c["name"]: c for c in header["columns"]}


def _cells(arrays: dict, column: str) -> list[str]:
    values = arrays[f"{column}/values"]
    return [values[c] for c in arrays[f"{column}/codes"]]


def test_round_trip_keeps_every_value_and_coordinate() -> None:
    coords = np.arange(12, dtype=np.float32).reshape(4, 3)
    table = pd.DataFrame(
        {"text": ["a\tb", "naïve 🙂", "", None], "score": [1.5, np.nan, -2.0, 0.0], "flag": [True, False, True, True]},
        index=[10, 11, 12, 13],
    )
    header, arrays = unpack_map_data(pack_map_data(coords, table))
    assert header["n"] == 4 and header["panels"] == [{"dims": 3, "title": ""}]
    assert header["rows"] == [10, 11, 12, 13]  # source rows, for the events
    np.testing.assert_array_equal(arrays["coords/0"].reshape(4, 3), coords)
    assert _cells(arrays, "text") == ["a\tb", "naïve 🙂", "", "(missing)"]
    assert _cells(arrays, "flag") == ["True", "False", "True", "True"]  # booleans are categories
    numbers = arrays["score/numbers"]
    assert numbers[0] == 1.5 and np.isnan(numbers[1]) and numbers[2] == -2.0
    assert _columns(header)["score"] == {"name": "score", "type": "number", "min": -2.0, "max": 1.5, "missing": 1}


def test_a_nul_in_a_value_does_not_shift_the_others() -> None:
    table = pd.DataFrame({"text": ["x\0y", "z"]})
    _, arrays = unpack_map_data(pack_map_data(np.zeros((2, 2)), table))
    assert _cells(arrays, "text") == ["x y", "z"]


def test_more_than_20_categories_keep_the_19_largest_and_say_what_other_holds() -> None:
    names = [f"c{i:02d}" for i in range(30)]
    values = [name for i, name in enumerate(names) for _ in range(40 - i)]  # c00 most common
    header, arrays = unpack_map_data(pack_map_data(np.zeros((len(values), 2)), pd.DataFrame({"c": values})))
    column = _columns(header)["c"]
    legend = column["legend"]
    assert len(legend) == MAX_CATEGORIES
    assert [e["name"] for e in legend[:OTHER_SLOT]] == names[:OTHER_SLOT]
    assert legend[-1]["name"] == OTHER and legend[-1]["slot"] == OTHER_SLOT
    other = column["other"]
    assert other["values"] == 11 and other["points"] == sum(40 - i for i in range(19, 30))
    assert other["names"][0] == ["c19", 21]  # the largest of the rest first, with its count
    assert legend[-1]["count"] == other["points"]


def test_colours_keep_their_meaning_in_a_subset() -> None:
    full = pd.DataFrame({"topic": ["b", "a", "c", "a", "d", "b"]})
    part = full.iloc[[2, 4]]  # only "c" and "d"
    _, whole = unpack_map_data(pack_map_data(np.zeros((6, 2)), full))
    _, alone = unpack_map_data(pack_map_data(np.zeros((2, 2)), part))
    _, kept = unpack_map_data(pack_map_data(np.zeros((2, 2)), part, categories_from=full))
    slot = lambda arrays: dict(zip(arrays["topic/values"], arrays["topic/slots"].tolist()))  # noqa: E731
    assert slot(whole) == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert slot(alone) == {"c": 0, "d": 1}  # ranked on its own, colours would move
    assert slot(kept) == {"c": 2, "d": 3}


def test_panels_and_bad_shapes() -> None:
    table = pd.DataFrame({"t": list("abc")})
    header, arrays = unpack_map_data(pack_map_data([np.zeros((3, 2)), np.ones((3, 2))], table, panel_titles=["A", "B"]))
    assert [p["title"] for p in header["panels"]] == ["A", "B"]
    assert arrays["coords/1"].tolist() == [1.0] * 6
    with pytest.raises(InputError, match="shape"):
        pack_map_data(np.zeros((3, 4)), table)
    with pytest.raises(InputError, match="3 rows but panel 1 has 2 points"):
        pack_map_data(np.zeros((2, 2)), table)


def test_map_events_from_the_browser() -> None:
    from app.components.map import event_from_value

    value = {"seq": 7, "type": "click", "clicked": 4, "selection": [4, 9], "changes": {"sel": [4, 9]},
             "data_id": "d|pca|2|x"}
    event = event_from_value(value, handled_seq=3)
    assert (event.clicked, event.selection, event.type, event.changes, event.new) == (4, [4, 9], "click", {"sel": [4, 9]}, True)
    assert (event.seq, event.data_id) == (7, "d|pca|2|x")
    assert event_from_value(value, handled_seq=7).new is False  # handled already: a rerun does not repeat it
    assert event_from_value(None, 0) is None


def test_muted_values_share_a_grey_slot_come_last_and_take_no_colour() -> None:
    """A cluster column's noise: grey (slot 20), last in the legend, never one of the 19 colours."""
    names = ["noise"] * 30 + [f"c{i:02d}" for i in range(25) for _ in range(2)]
    table = pd.DataFrame({"cluster_label": names})
    header, arrays = unpack_map_data(pack_map_data(np.zeros((len(names), 2)), table, muted={"cluster_label": ["noise"]}))
    legend = header["columns"][0]["legend"]
    assert legend[-1] == {"slot": MUTED_SLOT, "count": 30, "name": "noise", "muted": True}
    slots = dict(zip(arrays["cluster_label/values"], arrays["cluster_label/slots"].tolist()))
    assert slots["noise"] == MUTED_SLOT and sorted(set(slots.values()) - {MUTED_SLOT})[-1] == OTHER_SLOT
    assert sum(1 for s in slots.values() if s < OTHER_SLOT) == 19  # the 19 largest clusters keep their colours


def test_a_new_layout_of_the_same_points_is_coordinates_only():
    from embeddings.mapdata import pack_coords, table_digest

    table = pd.DataFrame({"text": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]})
    first = pack_map_data(np.zeros((3, 2)), table, axis_titles=["PC1", "PC2"])
    second = pack_map_data(np.ones((3, 2)), table, axis_titles=["UMAP 1", "UMAP 2"])
    assert table_digest(first) == table_digest(second)  # same points: the coordinates may go alone
    assert table_digest(first) != table_digest(pack_map_data(np.zeros((3, 2)), table.iloc[[0, 2, 1]]))  # rows
    assert table_digest(first) != table_digest(pack_map_data(np.zeros((3, 2)), table.assign(text=["a", "b", "d"])))
    assert table_digest(first) != table_digest(pack_map_data([np.zeros((3, 2))] * 2, table))  # panels

    coords = np.arange(6, dtype=np.float32).reshape(3, 2)
    header, arrays = unpack_map_data(pack_coords(coords, axis_titles=["t-SNE 1", "t-SNE 2"], live={"seq": 7}))
    assert header["coords_only"] and header["n"] == 3 and header["columns"] == []
    assert header["axis_titles"] == ["t-SNE 1", "t-SNE 2"] and header["live"] == {"seq": 7}
    np.testing.assert_array_equal(arrays["coords/0"], coords.ravel())
    header, arrays = unpack_map_data(pack_coords([], live={"state": "paused"}))  # how far it got, no frame
    assert header["n"] == 0 and header["panels"] == [] and arrays == {}
    with pytest.raises(InputError, match="coordinates must have shape"):
        pack_coords([np.zeros((3, 2)), np.zeros((4, 2))])
