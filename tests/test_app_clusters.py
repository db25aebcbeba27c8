"""The explore tab's clusters, custom axes, filters and linked table, through AppTest.

The page is the explore and export sections over precomputed vectors (three groups of points,
each with its own words), so no model loads and each test takes a few seconds.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from embeddings.mapdata import unpack_map_data

ROOT = str(Path(__file__).resolve().parent.parent)
TIMEOUT = 600  # seconds per script run: a hang guard on a shared, loaded machine
GROUPS = {"harbour": ["harbour", "sail", "anchor"], "bread": ["dough", "yeast", "oven"],
          "stars": ["galaxy", "orbit", "comet"]}


def explore_page(root: str) -> None:
    import sys

    if root not in sys.path:
        sys.path.insert(0, root)
    import numpy as np
    import pandas as pd
    import streamlit as st

    from app import state
    from app.sections.explore import render_explore
    from app.sections.export import render_export
    from app.sections.projection import render_projection_panel
    from embeddings.points import Points

    groups = {"harbour": ["harbour", "sail", "anchor"], "bread": ["dough", "yeast", "oven"],
              "stars": ["galaxy", "orbit", "comet"]}
    rng = np.random.default_rng(0)
    kinds = np.repeat(list(groups), 40)
    centre = {kind: i * 5 for i, kind in enumerate(groups)}
    vectors = np.eye(16)[[centre[k] for k in kinds]] * 3 + rng.normal(scale=0.3, size=(120, 16))
    texts = [f"the {' '.join(rng.choice(groups[k], 2, replace=False))} number {i}" for i, k in enumerate(kinds)]
    table = pd.DataFrame({"text": texts, "kind": kinds, "score": np.arange(120) % 10})
    points = Points(vectors.astype(np.float32), table, level="text", source="groups", text_column="text")
    with st.sidebar:
        params = render_projection_panel(len(points), 16, can_encode=False)
    shown = render_explore(points, params)
    if shown is not None:
        render_export(shown.points, shown.layout, shown.look, shown.shown)


def start() -> AppTest:
    at = AppTest.from_function(explore_page, args=(ROOT,), default_timeout=TIMEOUT)
    at.run()
    clean(at)
    return at


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def chart(at: AppTest) -> dict:
    """The explore map as the browser gets it: its arguments and its data, decoded."""
    instance = at.get("component_instance")[0]
    args = json.loads(instance.proto.json_args)
    data_id, payload = at.session_state[state.MAP_PAYLOADS][args["key"]]
    assert data_id == args["data_id"]
    header, arrays = unpack_map_data(payload)
    return {"args": args, "header": header, "arrays": arrays}


def drawn(spec: dict) -> int:
    return spec["header"]["n"]


def column(spec: dict, name: str) -> list[str]:
    """A category column's value for every drawn point, as the map shows it."""
    values, codes = spec["arrays"][f"{name}/values"], spec["arrays"][f"{name}/codes"]
    return [values[c] for c in codes]


def xs(spec: dict) -> np.ndarray:
    coords = spec["arrays"]["coords/0"]
    return coords.reshape(drawn(spec), -1)[:, 0]


def select(at: AppTest, rows: list[int]) -> None:
    """What a box selection on the map reports (the map's own event needs a browser)."""
    digest = at.session_state[state.LOOK_FOR]
    at.session_state[state.CHART] = {"seq": 10**13 + len(rows), "type": "select", "selection": rows,
                                     "changes": {"sel": rows}, "data_id": f"{digest}|pca|2|x"}


def look(at: AppTest):
    return at.session_state[state.LOOK]


def mean_x_by(spec: dict, name: str) -> dict[str, float]:
    x, values = xs(spec), np.asarray(column(spec, name))
    return {value: float(x[values == value].mean()) for value in set(values)}


def points_table(at: AppTest):
    (frame,) = [f for f in at.dataframe if "selected" in f.value.columns]
    return frame.value


def projector_metadata(at: AppTest, media: list) -> list[str]:
    (button,) = [b for b in at.get("download_button") if "projector" in b.proto.label]
    name = button.proto.url.rsplit("/", 1)[-1]
    for storage in reversed(media):
        try:
            data = storage.get_file(name).content
        except Exception:
            continue
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read("metadata.tsv").decode("utf-8").rstrip("\n").split("\n")
    raise AssertionError("projector zip not found")


def test_find_clusters_colours_by_named_clusters_and_exports_them(media) -> None:
    at = start()
    at.number_input(key=state.CLUSTER_MIN_SIZE).set_value(10)
    at.button(key=state.FIND_CLUSTERS).click().run()
    clean(at)
    assert look(at).color == "cluster_label"  # one click colours by cluster
    # where the clusters were found and how much is noise, said in one line
    (summary,) = [c.value for c in at.caption if "clusters, " in c.value and "noise" in c.value]
    assert re.match(r"3 clusters, \d+% noise \(“noise”: grey, under the clusters, last in the legend; \d+ of 120 "
                    r"points\), original space", summary), summary
    assert at.checkbox(key=state.CLUSTER_REFINE).disabled  # these vectors came without a model to refine names with
    spec = chart(at)
    assert spec["args"]["look"]["color"] == "cluster_label"
    # noise is grey (the muted slot), last in the legend, and drawn under the clusters (the map's draw order)
    legend = spec["header"]["columns"][[c["name"] for c in spec["header"]["columns"]].index("cluster_label")]["legend"]
    if "noise" in column(spec, "cluster_label"):
        assert legend[-1]["name"] == "noise" and legend[-1]["slot"] == 20 and legend[-1].get("muted")
    assert all(entry["slot"] < 19 for entry in legend[:-1])
    names = set(column(spec, "cluster_label")) - {"noise"}
    assert len(names) == 3
    for name in names:  # each name is made of one group's words
        assert any(set(name.replace(",", " ").split()) <= set(words) for words in GROUPS.values()), name
    assert sorted(a["text"] for a in spec["args"]["annotations"]) == sorted(names)
    table = points_table(at)
    assert {"cluster", "cluster_label"} <= set(table.columns)
    # every group is one cluster (noise aside), each named by its own words
    clustered = table[table["cluster"] >= 0]
    assert len(clustered) >= 100 and clustered.groupby("kind")["cluster"].nunique().max() == 1
    for kind, labels in clustered.groupby("kind")["cluster_label"]:
        assert set(labels.iloc[0].replace(",", " ").split()) <= set(GROUPS[kind]), (kind, labels.iloc[0])
    header = projector_metadata(at, media)[0].split("\t")
    assert header == ["text", "kind", "score", "cluster", "cluster_label"]

    at.checkbox(key=state.CLUSTER_NAMES_ON_MAP).uncheck().run()
    assert not chart(at)["args"]["annotations"]
    assert look(at).clusters.names is False
    at.button(key=state.CLEAR_CLUSTERS).click().run()
    clean(at)
    assert "cluster" not in points_table(at).columns
    spec = chart(at)
    assert "cluster_label" not in spec["arrays"] and spec["args"]["look"]["color"] == "kind"
    assert look(at).clusters is None and look(at).color == "kind"  # back to the default colour


def test_filters_narrow_the_map_the_table_and_the_export(media) -> None:
    at = start()
    at.multiselect(key=state.FILTER_COLUMNS).select("kind").select("score").run()
    clean(at)
    # a category filter starts empty: every value passes until some are picked
    assert at.multiselect(key=state.FILTER_PREFIX + "kind").value == [] and drawn(chart(at)) == 120
    at.multiselect(key=state.FILTER_PREFIX + "kind").set_value(["bread", "stars"]).run()
    at.slider(key=state.FILTER_PREFIX + "score").set_value((0, 4)).run()
    clean(at)
    assert drawn(chart(at)) == 40  # 80 rows of two kinds, half of them with score 0-4
    table = points_table(at)
    assert len(table) == 40 and set(table["kind"]) == {"bread", "stars"} and table["score"].max() == 4
    # the export holds what the map shows, by default, and says so
    scope = at.radio(key=state.EXPORT_SCOPE)
    assert scope.value == "shown" and scope.options[0] == "What the map shows (40 points of 120)"
    assert any("the filter on kind, score" in c.value for c in at.caption)
    rows = projector_metadata(at, media)
    assert len(rows) == 41 and all(r.split("\t")[1] in ("bread", "stars") for r in rows[1:])
    assert look(at).to_query()["filters"] == '{"kind":["bread","stars"],"score":{"min":0.0,"max":4.0}}'
    scope.set_value("all").run()
    assert len(projector_metadata(at, media)) == 121


def test_map_selection_ticks_table_rows_and_only_selection_narrows_the_table() -> None:
    at = start()
    select(at, [3, 50, 90])
    at.run()
    clean(at)
    table = points_table(at)
    assert sorted(table.index[table["selected"]]) == [3, 50, 90]
    at.checkbox(key=state.TABLE_ONLY_SELECTED).check().run()
    assert sorted(points_table(at).index) == [3, 50, 90]
    # adding cluster columns keeps the selection (it belongs to the same points)
    at.button(key=state.FIND_CLUSTERS).click().run()
    clean(at)
    table = points_table(at)
    assert "cluster_label" in table.columns and sorted(table.index[table["selected"]]) == [3, 50, 90]


def test_rows_ticked_in_the_table_become_the_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's one selection column: ticks at positions of the shown table -> row ids -> the look's
    selection (whose revision grows, so the map takes it)."""
    import app.look as owner
    import app.sections.table as table_section
    from embeddings.look import Look

    key = f"{state.TABLE}:x"
    session: dict = {key: {"edited_rows": {0: {"selected": True}, 2: {"selected": False}}},
                     state.LOOK: Look(selection=(9, 4)), state.LOOK_REV: 3}
    monkeypatch.setattr(table_section.st, "session_state", session)
    monkeypatch.setattr(owner.st, "session_state", session)
    table_section._store_ticks(key, np.array([7, 8, 9]), [9, 4])()
    assert session[state.LOOK].selection == (4, 7) and session[state.LOOK_REV] == 4


def test_custom_axes_between_two_searches() -> None:
    at = start()
    at.selectbox(key=state.METHOD).select("Custom").run()
    assert any("type both ends of the x axis" in i.value for i in at.info)
    at.text_input(key=state.AXIS_X_START).input("harbour").run()
    at.text_input(key=state.AXIS_X_END).input("galaxy").run()
    clean(at)
    spec = chart(at)
    assert spec["header"]["axis_titles"][:2] == ["harbour \u2192 galaxy", "main variation left"]
    mean_x = mean_x_by(spec, "kind")
    assert mean_x["harbour"] < mean_x["bread"] < mean_x["stars"]
    assert any("Custom 2D" in c.value for c in at.caption)
    at.text_input(key=state.AXIS_X_END).input("nothing like this").run()
    assert any("matches no point" in e.value for e in at.error)
