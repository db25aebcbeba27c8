"""Views as JSON, as a page URL, and saved in the views folder; every bad field is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.choices import LOOK_KEYS
from embeddings.errors import InputError
from embeddings.views import View, delete_view, load_views, save_view, views_dir

FULL = View(
    name="topics in UMAP", data="sample:sentences", model="all-MiniLM-L6-v2", level="token", layer=3,
    method="umap", dims=3, seed=7, params={"n_neighbors": 10, "min_dist": 0.25, "metric": "cosine"},
    color="topic", label="text", search="cat|dog", regex=True, case=False, selection=(4, 1, 9),
    camera="1.2,0.5,3",
)


def test_json_round_trip_keeps_every_field() -> None:
    text = FULL.to_json()
    data = json.loads(text)
    assert data["format"] == 1 and data["selection"] == [4, 1, 9] and "projection" not in data
    assert View.from_json(text) == FULL


def test_url_round_trip_and_look() -> None:
    query = FULL.to_query()
    assert query["method"] == "umap" and query["neighbors"] == "10" and query["sel"] == "4,1,9"
    assert query["regex"] == "1" and "case" not in query  # empty look values stay out of the link
    assert View.from_query(query) == FULL
    # st.query_params may hand lists for repeated keys: the last one counts.
    assert View.from_query({**query, "dims": ["2", "3"]}).dims == 3
    assert set(FULL.look) <= set(LOOK_KEYS)
    looked = View(method="tsne", params={"perplexity": 12, "learning_rate": "auto"}).with_look(
        {"color": "topic", "sel": "3, 8", "case": True, "cam": ""})
    assert (looked.color, looked.selection, looked.case, looked.camera) == ("topic", (3, 8), True, None)
    assert View.from_query(looked.to_query()) == looked


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
        ({"selection": [1, -2]}, ["f.json: selection item must be at least 0"]),
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
