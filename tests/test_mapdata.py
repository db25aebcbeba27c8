"""The map's binary payload (embeddings.mapdata) and the map component's Python side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embeddings.errors import InputError
from embeddings.mapdata import MAX_CATEGORIES, OTHER, OTHER_SLOT, pack_map_data, unpack_map_data


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

    value = {"seq": 7, "type": "click", "clicked": 4, "selection": [4, 9], "look": {"color": "topic"}}
    event = event_from_value(value, handled_seq=3)
    assert (event.clicked, event.selection, event.type, event.look, event.new) == (4, [4, 9], "click", {"color": "topic"}, True)
    assert event_from_value(value, handled_seq=7).new is False  # handled already: a rerun does not repeat it
    assert event_from_value(None, 0) is None
