"""Views as JSON, as a page URL, and saved in the views folder; every bad field is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.choices import LOOK_KEYS
from embeddings.errors import InputError
from embeddings.look import ClusterLook, Filter, Look
from embeddings.views import View, delete_view, load_views, save_view, views_dir

FULL = View(
    name="topics in UMAP", data="sample:sentences", model="all-MiniLM-L6-v2", level="token", layer=3,
    method="umap", dims=3, seed=7, params={"n_neighbors": 10, "min_dist": 0.25, "metric": "cosine"},
    look=Look(color="topic", label="text", search="cat|dog", regex=True, case=False, selection=(4, 1, 9),
              camera="1.2,0.5,3"),
)


def test_json_round_trip_keeps_every_field() -> None:
    text = FULL.to_json()
    data = json.loads(text)
    assert data["format"] == 2 and data["look"]["selection"] == [4, 1, 9] and "projection" not in data
    assert View.from_json(text) == FULL


def test_a_format_1_view_still_opens() -> None:
    """Views saved before the look was one value held its fields at the top level."""
    old = {"format": 1, "name": "old", "method": "pca", "color": "topic", "label": None, "search": "cat",
           "regex": False, "case": True, "selection": [2, 3], "camera": None}
    view = View.from_dict(old)
    assert view.look == Look(color="topic", search="cat", case=True, selection=(2, 3))


def test_url_round_trip_and_look() -> None:
    query = FULL.to_query()
    assert query["method"] == "umap" and query["neighbors"] == "10" and query["sel"] == "4,1,9"
    assert query["regex"] == "1" and "case" not in query  # empty look values stay out of the link
    assert View.from_query(query) == FULL
    # st.query_params may hand lists for repeated keys: the last one counts.
    assert View.from_query({**query, "dims": ["2", "3"]}).dims == 3
    assert set(FULL.look.to_query()) <= set(LOOK_KEYS)
    looked = View(method="tsne", params={"perplexity": 12, "learning_rate": "auto"}).with_look(
        {"color": "topic", "sel": "3, 8", "case": True, "cam": ""})
    look = looked.look
    assert (look.color, look.selection, look.case, look.camera) == ("topic", (3, 8), True, None)
    assert View.from_query(looked.to_query()) == looked


def test_every_field_of_the_look_travels_in_a_link_and_in_json() -> None:
    look = Look(color="module", label="text", search="sock", search_in="text", regex=True, case=True,
                selection=(5, 2), isolated=(1, 2, 5), reproject=True,
                filters=(Filter("kind", ("class", "method")), Filter("size", (), 0.5, 2.0)),
                clusters=ClusterLook(12, "layout", False), density=True, camera="0,0,1")
    query = look.to_query()
    assert set(query) == set(LOOK_KEYS)  # every parameter used, each once
    assert query["filters"] == '{"kind":["class","method"],"size":{"min":0.5,"max":2.0}}'
    assert Look.from_query(query) == look
    assert Look.from_dict(json.loads(json.dumps(look.to_dict()))) == look
    assert Look().to_query() == {} and Look().to_dict() == {}  # defaults stay out
    assert Look.from_query({"clusters": "auto"}).clusters == ClusterLook()
    # a filter with nothing chosen keeps every row: it is no filter, and the link leaves it out
    assert Look(filters=(Filter("module"),)).to_query() == {}
    assert Look(reproject=True).reproject is False  # nothing isolated: nothing to re-project


def test_a_look_keeps_only_what_these_points_have() -> None:
    look = Look(color="module", label="gone", filters=(Filter("kind", ("a",)), Filter("lost", ("b",))),
                selection=(1, 50), isolated=(49, 51))
    kept, notes = look.for_columns({"module", "kind"})
    assert (kept.color, kept.label, [f.column for f in kept.filters]) == ("module", None, ["kind"])
    assert notes == ["No column 'gone' here to label by.", "No column 'lost' here to filter by."]
    assert (look.for_rows(50).selection, look.for_rows(50).isolated) == ((1,), (49,))


@pytest.mark.parametrize(
    ("query", "parts"),
    [
        ({"dims": "4"}, ["link: dims must be one of 2, 3", "4"]),
        ({"method": "lda"}, ["link: method must be one of", "'lda'"]),
        ({"seed": "x"}, ["link: seed must be a whole number", "'x'"]),
        ({"method": "umap", "neighbors": "many"}, ["link: neighbors must be a whole number"]),
        ({"method": "pca", "pc": "0,0"}, ["params.components must be 2 different component numbers"]),
        ({"sel": "1,a"}, ["link: sel must be row numbers"]),
        ({"regex": "maybe"}, ["link: regex must be 1 or 0"]),
        ({"filters": "{topic"}, ["link: filters must be JSON"]),
        ({"filters": '{"a": {"min": 3, "max": 1}}'}, ["link: filters.a min 3 is above max 1"]),
        ({"clusters": "1"}, ["link: clusters minimum size must be a whole number of at least 2"]),
        ({"clusters": "auto", "cluster_space": "moon"}, ["link: cluster_space must be one of original, layout"]),
        ({"level": "word"}, ["link: level must be one of text, token, vocab"]),
    ],
)
def test_bad_links_say_one_line(query: dict, parts: list[str]) -> None:
    with pytest.raises(InputError) as info:
        View.from_query(query)
    assert "\n" not in str(info.value) and all(p in str(info.value) for p in parts), str(info.value)


@pytest.mark.parametrize(
    ("data", "parts"),
    [
        ({"dims": 2.5}, ["f.json: dims must be one of 2, 3"]),
        ({"look": {"selection": [1, -2]}}, ["f.json: selection item must be at least 0"]),
        ({"look": {"colour": "x"}}, ["f.json: unknown look field 'colour'"]),
        ({"params": {"perplexity": 5}}, ["f.json: params 'perplexity' does not apply to pca"]),
        ({"colour": "x"}, ["f.json: unknown field 'colour'"]),
        ({"format": 9}, ["f.json: format 9"]),
        ({"method": "custom"}, ["custom", "bookmark"]),
        ({"name": 3}, ["f.json: name must be text"]),
        ([], ["f.json: expected a JSON object"]),
    ],
)
def test_bad_json_fields_say_one_line(data, parts: list[str]) -> None:
    with pytest.raises(InputError) as info:
        View.from_json(json.dumps(data), where="f.json")
    assert all(p in str(info.value) for p in parts), str(info.value)
    with pytest.raises(InputError, match="f.json: not valid JSON"):
        View.from_json("{", where="f.json")


def test_store_saves_lists_replaces_and_deletes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EMBEDDINGS_VIEWS_DIR", str(tmp_path / "views"))
    assert views_dir() == tmp_path / "views"
    assert load_views() == ([], [])
    path = save_view(FULL)
    assert path.parent == tmp_path / "views" and path.suffix == ".json"
    save_view(View(name="b/../odd name", method="pca", params={"components": [1, 2]}))
    save_view(View(name="topics in UMAP", method="pca"))  # same name: replaces
    (tmp_path / "views" / "broken.json").write_text('{"dims": 9}')
    views, problems = load_views()
    assert [(v.name, v.method) for v in views] == [("b/../odd name", "pca"), ("topics in UMAP", "pca")]
    assert len(problems) == 1 and "broken.json: dims must be one of 2, 3" in problems[0]
    assert all(p.parent == tmp_path / "views" for p in (tmp_path / "views").iterdir())
    assert delete_view("topics in UMAP") and not delete_view("topics in UMAP")
    with pytest.raises(InputError, match="give it a name"):
        save_view(View())
