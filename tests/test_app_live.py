"""The app's side of a layout forming (app/sections/projection.py, app/live.py) through AppTest.

AppTest has no HTTP server, so the live routes are not there and the app computes as before; these
tests say they are (app.live.served), as app/server.py does, and play the browser's part: they
read the map's arguments, wait for the run, and rerun the page as the map does when the layout is
done or stopped. The routes themselves and the map's side are tested in a browser
(tests/test_live_browser.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import live as live_route
from app import state
from embeddings.mapdata import unpack_map_data
from embeddings.projector import write_projector
from embeddings.reduce import project

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 600
N = 400


@pytest.fixture(autouse=True)
def no_cached_layouts():
    """Every test computes its layout (st.cache_data lives as long as the process)."""
    import streamlit as st

    st.cache_data.clear()


@pytest.fixture()
def served(monkeypatch):
    monkeypatch.setattr(live_route, "_served", True)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    centres = rng.normal(scale=6, size=(4, 10))
    group = np.arange(N) % 4
    vectors = (centres[group] + rng.normal(size=(N, 10))).astype(np.float32)
    write_projector(tmp_path / "data", vectors, pd.DataFrame({"word": [f"w{i}" for i in range(N)],
                                                              "group": [f"g{g}" for g in group]}))
    return tmp_path / "data"


def opened(folder: Path, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["data"] = str(folder)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def the_map(at: AppTest) -> dict:
    component = at.tabs[0].get("component_instance")[0]
    args = json.loads(component.proto.json_args)
    data_id, payload = at.session_state[state.MAP_PAYLOADS][args["key"]]
    header, arrays = unpack_map_data(payload)
    return {"args": args, "coords": arrays["coords/0"].reshape(header["n"], -1),
            "sent": [special.key for special in component.proto.special_args]}


def vectors_of(folder: Path) -> np.ndarray:
    return np.loadtxt(folder / "vectors.tsv", delimiter="\t", dtype=np.float32)


WAITING = "drawn once the layout on the Explore tab is done or stopped"
TSNE = {"method": "tsne", "dims": "2", "perplexity": "20", "iter": "1500"}


def test_a_tsne_forms_on_the_map_and_ends_as_the_unwatched_layout(served, folder):
    at = opened(folder, **TSNE)
    first = the_map(at)
    live = first["args"]["live"]
    assert live["url"].startswith(live_route.ROUTE + "/") and live["method"] == "tsne"
    assert live["state"] in ("running", "paused") and live["total"] == 250 + 1500
    assert first["sent"] == ["payload"] and first["coords"].shape == (N, 2)  # a frame, drawn as the map's data
    assert any("is forming" in info.value for info in at.info)
    _, run, address = at.session_state[state.LIVE_RUN]
    assert address == live["url"] and live_route._runs[address.rsplit("/", 1)[-1]] is run
    # The other tabs wait for the layout (their models would take its cores), and say so.
    for tab in at.tabs[1:]:
        assert any(WAITING in caption.value for caption in tab.caption), tab.label

    final = run.result(TIMEOUT)
    at.run()  # what the map asks for when the layout is done
    assert not at.exception
    done = the_map(at)
    assert done["args"]["live"] is None and state.LIVE_RUN not in at.session_state
    assert not any(WAITING in caption.value for caption in at.caption)  # the tabs are drawn now
    assert len(at.tabs[1].text_area) > 0  # the Tokens tab's own widgets
    assert done["sent"] == ["coords"]  # the browser holds these points: only the new coordinates went
    np.testing.assert_array_equal(done["coords"], final.coords)
    unwatched = project(vectors_of(folder), "tsne", 2, seed=0, perplexity=20.0, n_iter=1500, learning_rate="auto")
    np.testing.assert_array_equal(done["coords"], unwatched.coords)  # bit for bit
    assert address.rsplit("/", 1)[-1] not in live_route._runs  # withdrawn


def test_stop_makes_the_layout_reached_the_page_layout_and_resume_carries_on(served, folder):
    at = opened(folder, **TSNE)
    _, run, address = at.session_state[state.LIVE_RUN]
    run.stop()  # what the map's Stop button asks through the live route
    reached = run.result(TIMEOUT)
    at.run()  # the map reruns the page once the run says it stopped
    assert not at.exception
    stopped = the_map(at)
    assert stopped["args"]["live"]["state"] == "stopped" and stopped["args"]["live"]["url"] == address
    np.testing.assert_array_equal(stopped["coords"], reached.coords)
    note = reached.note
    assert note.startswith("t-SNE stopped at iteration ") and any(note in info.value for info in at.info)
    run.resume()
    final = run.result(TIMEOUT)
    at.run()
    done = the_map(at)
    assert done["args"]["live"] is None
    np.testing.assert_array_equal(done["coords"], final.coords)


def test_another_layout_cancels_the_one_forming(served, folder):
    at = opened(folder, **TSNE)
    _, run, address = at.session_state[state.LIVE_RUN]
    at.selectbox(key=state.METHOD).set_value("PCA").run()
    assert not at.exception
    assert the_map(at)["args"]["live"] is None
    assert run.settled(TIMEOUT) == "cancelled" or run.state == "cancelled"


def test_without_the_live_routes_the_layout_is_computed_as_before(folder):
    at = opened(folder, **TSNE)
    chart = the_map(at)
    assert chart["args"]["live"] is None and state.LIVE_RUN not in at.session_state
    unwatched = project(vectors_of(folder), "tsne", 2, seed=0, perplexity=20.0, n_iter=1500, learning_rate="auto")
    np.testing.assert_array_equal(chart["coords"], unwatched.coords)


def test_a_new_layout_of_the_same_points_sends_only_coordinates(folder):
    at = opened(folder, method="pca", dims="2")
    assert the_map(at)["sent"] == ["payload"]
    at.selectbox(key=f"{state.PCA_AXES}_x").set_value(2).run()
    assert not at.exception
    chart = the_map(at)
    assert chart["sent"] == ["coords"] and chart["args"]["base_id"]  # texts and metadata stay in the browser


def test_what_was_typed_in_a_waiting_tab_stays_through_the_layout_forming(served, folder):
    at = opened(folder, method="pca")
    at.tabs[1].text_area(key=state.TOKENS_TEXT).input("my own words").run()
    next(s for s in at.sidebar.selectbox if s.label == "Method").select("t-SNE").run()
    assert not at.exception
    _, run, _ = at.session_state[state.LIVE_RUN]
    assert any(WAITING in caption.value for caption in at.tabs[1].caption)  # the run that did not draw the tab
    run.result(TIMEOUT)
    at.run()  # the map reruns the page when the layout is done
    assert not at.exception
    assert at.tabs[1].text_area(key=state.TOKENS_TEXT).value == "my own words"
