"""Views in the app (AppTest): a projector config opened by path with its bookmarks as layouts,
the view kept in the page URL and reopened from it, saved views listed and reopened, and the
download's bookmarks.txt carrying the view on screen."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.sections.export import COORDS_LABEL, PROJECTOR_LABEL
from embeddings.projector import write_projector
from embeddings.reduce import Projection, project
from embeddings.views import View

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 600  # seconds per script run: a hang guard on a shared, loaded machine


@pytest.fixture(autouse=True)
def views_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "saved-views"
    monkeypatch.setenv("EMBEDDINGS_VIEWS_DIR", str(folder))
    return folder


def _download(at: AppTest, media: list, label: str) -> bytes:
    (button,) = [b for b in at.get("download_button") if b.proto.label == label]
    name = button.proto.url.rsplit("/", 1)[-1]
    for storage in reversed(media):
        try:
            return storage.get_file(name).content
        except Exception:
            continue
    raise AssertionError(f"download {label!r} not found")


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def config_folder(tmp_path: Path) -> tuple[Path, list[View]]:
    """An export of ours with two bookmarks: PCA 2D and a UMAP 3D layout of its own."""
    n = 30
    vectors = np.random.default_rng(3).standard_normal((n, 5)).astype(np.float32)
    metadata = pd.DataFrame({"word": [f"w{i}" for i in range(n)], "group": [f"g{i % 3}" for i in range(n)]})
    umap = Projection(np.random.default_rng(4).standard_normal((n, 3)).astype(np.float32), "umap", 3,
                      {"n_neighbors": 7, "min_dist": 0.2})
    views = [View.of_projection(project(vectors, "pca", 2), name="flat", color="group"),
             View.of_projection(umap, name="round", label="word", selection=(2, 4))]
    write_projector(tmp_path / "export", vectors, metadata, views=views)
    return tmp_path / "export", views


def _open_path(path: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = state.PATH_SOURCE  # as if picked: no sample is encoded first
    at.session_state[state.DATA_PATH] = str(path)
    at.run()
    _clean(at)
    return at


def _coords(at: AppTest, media: list) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(_download(at, media, COORDS_LABEL)))


def test_config_opens_by_path_and_its_bookmarks_draw_their_coordinates(config_folder, media) -> None:
    folder, views = config_folder
    at = _open_path(folder / "projector_config.json")
    layout = at.selectbox(key=state.BOOKMARK)
    assert layout.options == ["Compute", "1. flat", "2. round"]
    layout.set_value("2. round").run()
    _clean(at)
    table = _coords(at, media)
    assert table["row"].tolist() == list(range(30))
    assert np.array_equal(table[["x", "y", "z"]].to_numpy(np.float32), views[1].projection.coords)
    query = at.query_params
    assert query["bm"] == "1" and query["method"] == "umap" and query["dims"] == "3"
    assert query["data"] == str(folder / "projector_config.json")
    # The download carries the view on screen as its bookmark.
    files = zipfile.ZipFile(io.BytesIO(_download(at, media, PROJECTOR_LABEL)))
    (state_,) = json.loads(files.read("bookmarks.txt"))
    assert state_["selectedProjection"] == "umap" and state_["umapIs3d"] is True
    assert [[p["umap-0"], p["umap-1"], p["umap-2"]] for p in state_["projections"]] == \
        views[1].projection.coords.astype(np.float64).tolist()


def _map_reports(at: AppTest, changes: dict) -> None:
    """What the map reports when a person changes its look (its own event needs a browser)."""
    digest = at.session_state[state.LOOK_FOR]
    at.session_state[state.CHART] = {"seq": 10**13 + len(str(changes)), "type": "look", "changes": changes,
                                     "data_id": f"{digest}|pca|2|x"}


def _map_look(at: AppTest) -> dict:
    """The look the Explore map is told to open with (AppTest runs no JavaScript)."""
    (explore_map, *_) = at.tabs[0].get("component_instance")
    return json.loads(explore_map.proto.json_args)["look"] or {}


def test_the_url_reopens_the_view_in_a_new_session(config_folder) -> None:
    folder, _ = config_folder
    at = _open_path(folder)
    at.selectbox(key=state.METHOD).set_value("PCA").run()
    at.selectbox(key=f"{state.PCA_AXES}_x").set_value(2).run()
    _map_reports(at, {"color": "group", "search": "w1"})
    at.run()
    _clean(at)
    link = dict(at.query_params)
    assert link["pc"] == "2,1" and link["color"] == "group" and link["search"] == "w1"

    again = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a reload, or the link sent to someone
    again.query_params.update(link)
    again.run()
    _clean(again)
    assert again.radio(key=state.SOURCE).value == state.PATH_SOURCE
    assert again.text_input(key=state.DATA_PATH).value == str(folder)
    assert again.selectbox(key=f"{state.PCA_AXES}_x").value == 2
    look = _map_look(again)
    assert look["color"] == "group" and look["search"] == "w1"  # the map opens with the same look
    assert dict(again.query_params) == link


def test_a_bad_link_is_one_error_line_and_the_page_works(config_folder) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = state.PATH_SOURCE
    at.session_state[state.DATA_PATH] = str(config_folder[0])
    at.query_params.update({"method": "pca", "dims": "7"})
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["link: dims must be one of 2, 3, not 7"]
    assert at.selectbox(key=state.BOOKMARK).value == "Compute"  # the page drew the data anyway


def test_save_list_and_reopen_a_view(config_folder, views_dir: Path) -> None:
    folder = config_folder[0]
    at = _open_path(folder)
    at.radio(key=state.DIMS).set_value(3).run()
    _map_reports(at, {"label": "word"})
    at.run()
    at.text_input(key=state.VIEW_NAME).set_value("words in 3D").run()
    at.button(key=state.SAVE_VIEW).click().run()
    _clean(at)
    saved = json.loads(next(views_dir.glob("*.json")).read_text())
    assert (saved["name"], saved["data"], saved["dims"], saved["look"]["label"]) == ("words in 3D", str(folder), 3, "word")

    fresh = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a new session, from the start page
    fresh.session_state[state.SOURCE] = "Paste texts"  # nothing to encode before the view is opened
    fresh.run()
    options = fresh.selectbox(key=state.SAVED_VIEW).options
    assert options == ["words in 3D"]
    fresh.button(key=state.OPEN_VIEW).click().run()
    _clean(fresh)
    assert fresh.text_input(key=state.DATA_PATH).value == str(folder)
    assert fresh.radio(key=state.DIMS).value == 3
    assert _map_look(fresh)["label"] == "word"
    assert fresh.query_params["dims"] == "3" and fresh.query_params["label"] == "word"
    # The data's own bookmarks are listed beside the saved views.
    assert fresh.selectbox(key=state.SAVED_VIEW).options == ["words in 3D", "bookmark: flat", "bookmark: round"]
    fresh.button(key=state.DELETE_VIEW).click().run()
    assert not list(views_dir.glob("*.json"))
