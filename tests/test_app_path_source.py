"""One data source for a path on this machine (AppTest): "A path on this machine" opens a file, a
folder of shards, vectors with their metadata or a projector config, however the app was started;
`embeddings view` fills it in; the page URL names the path (never "upload:"), and the link reopens
it in a new session. Tabs that need texts say so with one wording when the data has none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.components.map import PAYLOADS
from app.sections import missing_texts_line
from app.sections.data import SOURCES
from embeddings.mapdata import unpack_map_data
from embeddings.serve import SERVE_ENV, ServeRequest

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 600  # seconds per script run: a hang guard on a shared, loaded machine


@pytest.fixture(autouse=True)
def views_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EMBEDDINGS_VIEWS_DIR", str(tmp_path / "saved-views"))
    monkeypatch.delenv(SERVE_ENV, raising=False)
    return tmp_path / "saved-views"


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _map_columns(at: AppTest) -> dict:
    """The Explore map's points and columns, as the browser gets them."""
    (explore_map, *_) = at.tabs[0].get("component_instance")
    args = json.loads(explore_map.proto.json_args)
    _, payload = at.session_state[PAYLOADS][args["key"]]
    header, arrays = unpack_map_data(payload)
    return {"n": header["n"], "columns": [c["name"] for c in header["columns"]], "arrays": arrays,
            "text_column": args.get("text_column")}


def _reopen(link: dict) -> AppTest:
    """A new session from the page URL (a reload, or the link opened in another browser)."""
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params.update(link)
    again.run()
    _clean(again)
    return again


def test_there_is_one_path_source_offered_however_the_app_started() -> None:
    assert list(SOURCES).count(state.PATH_SOURCE) == 1
    assert not any("File on this machine" in source for source in SOURCES)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = "Paste texts"  # nothing is encoded
    at.run()
    assert at.radio(key=state.SOURCE).options == list(SOURCES)


def test_view_fills_in_vectors_and_metadata_and_the_link_reopens_them(tmp_path: Path, monkeypatch) -> None:
    n = 24
    vectors = np.random.default_rng(5).standard_normal((n, 5)).astype(np.float32)
    np.save(tmp_path / "vectors.npy", vectors)
    (tmp_path / "meta.tsv").write_text("word\tgroup\n" + "".join(f"w{i}\tg{i % 3}\n" for i in range(n)),
                                       encoding="utf-8")
    request = ServeRequest(data=str(tmp_path / "vectors.npy"), metadata=str(tmp_path / "meta.tsv"))
    monkeypatch.setenv(SERVE_ENV, request.to_env())
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    _clean(at)
    assert at.radio(key=state.SOURCE).value == state.PATH_SOURCE
    assert at.text_input(key=state.DATA_PATH).value == str(tmp_path / "vectors.npy")
    assert at.text_input(key=state.PATH_METADATA).value == str(tmp_path / "meta.tsv")
    shown = _map_columns(at)
    assert shown["n"] == n and {"word", "group"} <= set(shown["columns"])
    link = dict(at.query_params)
    assert link["data"] == str(tmp_path / "vectors.npy") and link["metadata"] == str(tmp_path / "meta.tsv")
    assert not any(str(value).startswith("upload:") for value in link.values())

    monkeypatch.delenv(SERVE_ENV)  # the link, opened by a server started some other way
    again = _reopen(link)
    assert again.text_input(key=state.PATH_METADATA).value == str(tmp_path / "meta.tsv")
    assert {"word", "group"} <= set(_map_columns(again)["columns"])
    assert dict(again.query_params) == link


def test_view_fills_in_texts_text_column_model_and_level(tmp_path: Path, monkeypatch, tiny_bert_dir: Path) -> None:
    table = pd.DataFrame({"title": [f"title {i}" for i in range(8)],
                          "body": [f"the body of note {i} says {'yes' if i % 2 else 'no'}" for i in range(8)],
                          "kind": ["a", "b"] * 4})
    table.to_csv(tmp_path / "notes.csv", index=False)
    request = ServeRequest(data=str(tmp_path / "notes.csv"), model=str(tiny_bert_dir), text_column="body",
                           level="token")
    monkeypatch.setenv(SERVE_ENV, request.to_env())
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    _clean(at)
    assert at.text_input(key=state.DATA_PATH).value == str(tmp_path / "notes.csv")
    assert at.selectbox(key=state.TEXT_COLUMN).value == "body"
    assert at.text_input(key=state.MODEL).value == str(tiny_bert_dir)
    assert at.radio(key=state.LEVEL).value == "tokens"
    link = dict(at.query_params)
    assert (link["data"], link["text_column"], link["level"]) == (str(tmp_path / "notes.csv"), "body", "token")

    # Another text column is the user's choice from then on (the request is not applied again). "title" is
    # the one the reader picks itself, so the URL leaves the text column out: links stay short.
    at.selectbox(key=state.TEXT_COLUMN).set_value("title").run()
    _clean(at)
    assert "text_column" not in at.query_params and at.query_params["data"] == str(tmp_path / "notes.csv")
    monkeypatch.delenv(SERVE_ENV)
    again = _reopen(dict(at.query_params))
    assert again.selectbox(key=state.TEXT_COLUMN).value == "title"
    assert again.radio(key=state.LEVEL).value == "tokens"


def test_a_folder_of_shards_opens_by_path_and_the_url_names_it(tmp_path: Path, tiny_bert_dir: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    for part in range(2):
        pd.DataFrame({"text": [f"shard {part} text {i}" for i in range(5)]}).to_csv(folder / f"part-{part}.csv",
                                                                                     index=False)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = state.PATH_SOURCE
    at.session_state[state.DATA_PATH] = str(folder)
    at.session_state[state.MODEL] = str(tiny_bert_dir)
    at.run()
    _clean(at)
    assert _map_columns(at)["n"] == 10
    assert at.query_params["data"] == str(folder)


def test_the_projector_demo_opens_by_path_and_tabs_that_need_texts_say_so(tmp_path: Path) -> None:
    """The projector's own demo config opens (its Iris tensor), and Layers, Fine-tune and Compare all
    say with one wording that precomputed vectors have no texts, instead of encoding a column."""
    from projector_demo import projector_demo_site

    config = projector_demo_site(tmp_path / "site")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = state.PATH_SOURCE
    at.session_state[state.DATA_PATH] = str(config)
    at.run()
    assert not at.exception
    tensor = at.selectbox(key=state.TENSOR)
    assert tensor.options == ["Word2Vec 10K", "Word2Vec All", "Mnist with images", "Iris"]
    (error,) = [e.value for e in at.error]  # this site downloaded Iris only: one line, every path tried
    assert "word2vec_10000_200d_tensors.bytes: no such file (tried " in error, error
    tensor.set_value("Iris").run()
    _clean(at)
    assert _map_columns(at)["n"] == 150
    assert at.query_params["tensor"] == "Iris" and at.query_params["data"] == str(config)

    tabs = {tab.label: tab for tab in at.tabs}
    source = "oss_demo_projector_config.json [Iris]"
    for label, needs in (("Layers", "Walking the layers"), ("Fine-tune", "Fine-tuning"),
                         ("Compare models", "Comparing models")):
        lines = [info.value for info in tabs[label].info]
        assert lines == [missing_texts_line(at_dataset(source), needs)], (label, lines)
        assert lines[0].startswith(f"{needs} needs texts, and {source} holds precomputed vectors")
    assert not _has(at, "selectbox", state.FINETUNE_LABEL)  # no label column was picked (sepal-width was)
    assert not _has(at, "button", state.LAYERS_START)


def _has(at: AppTest, element: str, key: str) -> bool:
    return any(getattr(widget, "key", None) == key for widget in at.get(element))


def at_dataset(source: str):
    """A vectors dataset named `source`, to ask for the one wording."""
    from embeddings.data import dataset_from_vectors

    return dataset_from_vectors(np.zeros((1, 2), dtype=np.float32), source)
