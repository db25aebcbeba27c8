"""The explorer page through streamlit.testing.v1.AppTest: the flows a new user goes through.

The default model is the bundled all-MiniLM-L6-v2 (offline). The download button's bytes are
read back from AppTest's in-memory media storage, so the export test checks what a user gets.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.sections.export import COORDS_LABEL, PROJECTOR_LABEL

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 120
SMALL_CSV = (
    "text,kind\n"
    "The cat sat on the mat.,animals\n"
    "Dogs love long walks.,animals\n"
    "Stocks fell sharply today.,finance\n"
    "The bank cut its rates.,finance\n"
    "Rain is expected tomorrow.,weather\n"
    "A storm is coming from the west.,weather\n"
).encode()


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every in-memory media storage AppTest creates, so download bytes can be read back."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    storages: list = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint: str) -> None:
            super().__init__(endpoint)
            storages.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return storages


def _start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    _assert_clean(at)
    return at


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _chart(at: AppTest) -> dict:
    """The Explore tab's figure, as the browser receives it."""
    charts = at.tabs[0].get("plotly_chart")
    assert charts, "no chart on the Explore tab"
    return json.loads(charts[0].proto.spec)


def _points(spec: dict) -> int:
    return sum(len(t["hovertext"]) for t in spec["data"] if t.get("meta") == "points")


def _frames(at: AppTest) -> list:
    """The Explore tab's tables, not counting the points table (its first column is "selected")."""
    return [f for f in at.tabs[0].dataframe if "selected" not in f.value.columns]


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _download(at: AppTest, media: list, label: str) -> bytes:
    (button,) = [b for b in at.get("download_button") if b.proto.label == label]
    name = button.proto.url.rsplit("/", 1)[-1]
    for storage in reversed(media):
        try:
            return storage.get_file(name).content
        except Exception:
            continue
    raise AssertionError(f"download {label!r} ({name}) not found")


def _zip_files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def _select(at: AppTest, rows: list[int]) -> None:
    """What a box selection on the chart stores (the chart's own event needs a browser)."""
    at.session_state[state.SELECTION] = rows
    at.session_state[state.SELECTION_FOR] = at.session_state[state.POINTS_KEY]


# ------------------------------------------------------------------ first load and export


def test_first_load_shows_the_sample_sentences_coloured_by_topic(media):
    at = _start()
    assert not _errors(at)
    spec = _chart(at)
    assert _points(spec) == 300
    assert {t["type"] for t in spec["data"]} == {"scattergl"}
    assert len([t for t in spec["data"] if t.get("meta") == "points"]) == 10  # one trace per topic
    assert at.selectbox(key=state.COLOR_BY).value == "topic"
    assert any("300 points" in c.value and "PCA 2D" in c.value for c in at.caption)
    labels = [b.proto.label for b in at.get("download_button")]
    assert PROJECTOR_LABEL in labels and COORDS_LABEL in labels

    files = _zip_files(_download(at, media, PROJECTOR_LABEL))
    assert set(files) == {"vectors.tsv", "metadata.tsv", "bookmarks.txt", "projector_config.json"}
    (bookmark,) = json.loads(files["bookmarks.txt"])  # the view on screen, coloured by topic
    assert bookmark["selectedProjection"] == "pca" and len(bookmark["projections"]) == 300
    assert bookmark["selectedColorOptionName"] == "topic"
    vectors = files["vectors.tsv"].rstrip("\n").split("\n")
    assert len(vectors) == 300 and len(vectors[0].split("\t")) == 384
    metadata = files["metadata.tsv"].rstrip("\n").split("\n")
    assert metadata[0] == "text\ttopic" and len(metadata) == 301
    config = json.loads(files["projector_config.json"])
    assert config["embeddings"][0]["tensorShape"] == [300, 384]

    coords = _download(at, media, COORDS_LABEL).decode().splitlines()
    assert coords[0].startswith("row,x,y") and len(coords) == 301


def test_recolour_and_labels_do_not_reproject():
    at = _start()
    caption = next(c.value for c in at.caption if "points" in c.value and "PCA" in c.value)
    at.selectbox(key=state.COLOR_BY).select("(none)").run()
    at.selectbox(key=state.LABEL_BY).select("topic").run()
    _assert_clean(at)
    spec = _chart(at)
    assert _points(spec) == 300 and len(spec["data"]) == 1
    assert spec["data"][0]["mode"] == "markers+text"
    # the projection's own timing in the caption is unchanged: it came from the cache
    assert next(c.value for c in at.caption if "points" in c.value and "PCA" in c.value) == caption


# ------------------------------------------------------------------ projection


@pytest.mark.slow
def test_umap_in_3d_and_tsne_in_2d():
    at = _start()
    at.selectbox(key=state.METHOD).select("UMAP").run()
    at.radio(key=state.DIMS).set_value(3).run()
    _assert_clean(at)
    assert not _errors(at)
    spec = _chart(at)
    assert {t["type"] for t in spec["data"]} == {"scatter3d"}
    assert _points(spec) == 300
    assert any("UMAP 3D" in c.value for c in at.caption)

    at.selectbox(key=state.METHOD).select("t-SNE").run()
    at.radio(key=state.DIMS).set_value(2).run()
    _assert_clean(at)
    assert not _errors(at)
    spec = _chart(at)
    assert {t["type"] for t in spec["data"]} == {"scattergl"} and _points(spec) == 300
    assert any("t-SNE 2D" in c.value for c in at.caption)


def test_pca_components_per_axis_and_variance():
    at = _start()
    at.selectbox(key=f"{state.PCA_AXES}_x").select(2).run()
    _assert_clean(at)
    caption = next(c.value for c in at.caption if "variance explained" in c.value)
    assert "PC3" in caption and "PC2" in caption
    assert _chart(at)["layout"]["xaxis"]["title"]["text"] == "PC3"
    at.selectbox(key=f"{state.PCA_AXES}_y").select(2).run()  # the same component twice
    assert any("different component" in e for e in _errors(at))
    _assert_clean(at)


# ------------------------------------------------------------------ data sources


def test_upload_a_csv_then_a_bad_one_keeps_the_page(media):
    at = _start()
    at.radio(key=state.SOURCE).set_value("Upload a file").run()
    at.file_uploader(key=state.UPLOAD).set_value(("mini.csv", SMALL_CSV, "text/csv")).run()
    _assert_clean(at)
    assert not _errors(at)
    spec = _chart(at)
    assert _points(spec) == 6
    assert {t["name"] for t in spec["data"]} == {"animals", "finance", "weather"}

    bad = b'text,kind\n"never closed,animals\nok,x\n'
    at.file_uploader(key=state.UPLOAD).set_value(("broken.csv", bad, "text/csv")).run()
    _assert_clean(at)
    errors = _errors(at)
    assert errors and "broken.csv" in errors[0]
    assert _points(_chart(at)) == 6  # the last data that loaded stays explorable
    assert any("Still showing" in c.value for c in at.caption)

    at.file_uploader(key=state.UPLOAD).set_value(("notes.docx", b"PK\x03\x04", "application/octet-stream")).run()
    _assert_clean(at)
    assert any("unsupported file type" in e for e in _errors(at))


def test_projector_files_load_without_a_model(media):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 5)).astype(np.float32)
    vectors_tsv = "\n".join("\t".join(f"{v:.6f}" for v in row) for row in vectors).encode() + b"\n"
    metadata_tsv = ("word\tgroup\n" + "".join(f"w{i}\t{'ab'[i % 2]}\n" for i in range(20))).encode()
    at = _start()
    at.radio(key=state.SOURCE).set_value("Projector files").run()
    at.file_uploader(key=state.VECTORS_UPLOAD).set_value(("vectors.tsv", vectors_tsv, "text/tab-separated-values"))
    at.file_uploader(key=state.METADATA_UPLOAD).set_value(("metadata.tsv", metadata_tsv, "text/tab-separated-values"))
    at.run()
    _assert_clean(at)
    assert not _errors(at)
    spec = _chart(at)
    assert _points(spec) == 20
    assert {t["name"] for t in spec["data"]} == {"a", "b"}
    files = _zip_files(_download(at, media, PROJECTOR_LABEL))
    assert len(files["vectors.tsv"].splitlines()) == 20
    assert files["metadata.tsv"].splitlines()[0] == "word\tgroup"


def test_paste_texts_and_token_level():
    at = _start()
    at.radio(key=state.SOURCE).set_value("Paste texts").run()
    at.text_area(key=state.PASTE).input("The river bank was muddy.\nThe bank raised rates.\nI love rivers.").run()
    _assert_clean(at)
    assert _points(_chart(at)) == 3
    at.radio(key=state.LEVEL).set_value("tokens").run()
    _assert_clean(at)
    assert not _errors(at)
    spec = _chart(at)
    tokens = _points(spec)
    assert 12 <= tokens <= 30  # one point per (non-special) token
    assert at.slider(key=state.LAYER).value == 6


def test_unknown_model_is_one_error_line_and_the_page_keeps_working():
    at = _start()
    at.text_input(key=state.MODEL).input("no-such-org/no-such-model-xyz").run()
    _assert_clean(at)
    errors = _errors(at)
    assert errors and "no-such-model-xyz" in errors[0]
    assert all("\n" not in e.strip() for e in errors)
    assert _points(_chart(at)) == 300


# ------------------------------------------------------------------ explore


def test_search_highlights_and_a_bad_regex_is_an_error_line():
    at = _start()
    at.text_input(key=state.SEARCH).input("bank").run()
    _assert_clean(at)
    spec = _chart(at)
    dimmed = [t for t in spec["data"] if t["name"] == "other points"]
    assert dimmed and 0 < len(dimmed[0]["hovertext"]) < 300
    assert _points(spec) == 300
    assert any("match “bank”" in c.value for c in at.caption)

    at.checkbox(key=state.SEARCH_REGEX).check()
    at.text_input(key=state.SEARCH).input("(unclosed").run()
    _assert_clean(at)
    assert any("invalid regular expression" in e for e in _errors(at))
    assert _points(_chart(at)) == 300


def test_selection_neighbours_isolate_and_export_the_selection(media):
    at = _start()
    _select(at, list(range(40)))
    at.run()
    _assert_clean(at)
    assert at.selectbox(key=state.INSPECT_POINT).value == 0
    (neighbours,) = _frames(at)
    assert len(neighbours.value) == 10 and 0 not in set(neighbours.value["row"])
    spec = _chart(at)
    overlays = {t["name"]: len(t["hovertext"]) for t in spec["data"] if t.get("meta") == "overlay"}
    assert overlays == {"marked": 11, "inspected": 1}  # the point and its 10 neighbours; the point
    bright = sum(len(t["hovertext"]) for t in spec["data"] if t.get("meta") == "points" and t["name"] != "other points")
    assert bright >= 40  # the selection and the neighbourhood stay bright, the rest is dimmed

    at.radio(key=state.EXPORT_SCOPE).set_value("Selection (40 points)").run()
    files = _zip_files(_download(at, media, PROJECTOR_LABEL))
    assert len(files["vectors.tsv"].splitlines()) == 40
    assert len(files["metadata.tsv"].splitlines()) == 41

    at.button(key=state.ISOLATE).click().run()
    _assert_clean(at)
    assert _points(_chart(at)) == 40
    assert any("isolated" in i.value for i in at.info)
    at.button(key=state.SHOW_ALL).click().run()
    _assert_clean(at)
    assert _points(_chart(at)) == 300


def test_neighbours_of_a_typed_query():
    at = _start()
    at.number_input(key=state.NEIGHBORS_K).set_value(5)
    at.text_input(key=state.QUERY).input("a goal in the last minute of the match").run()
    _assert_clean(at)
    assert not _errors(at)
    frames = _frames(at)
    assert frames and len(frames[0].value) == 5
    assert set(frames[0].value.columns) == {"row", "point", "distance"}
    assert (frames[0].value["distance"].diff().dropna() >= 0).all()


def test_a_stopped_encoding_waits_for_resume():
    from app.sections.data import _digest, default_model

    texts = "Stopped before it finished.\nA second text.\nAnd a third one."
    at = _start()
    at.session_state[state.STOPPED] = f"paste:{_digest(texts)}|{default_model()}|text|-1|False"
    at.radio(key=state.SOURCE).set_value("Paste texts").run()
    at.text_area(key=state.PASTE).input(texts).run()
    _assert_clean(at)
    assert any("stopped" in i.value for i in at.info)
    assert _points(_chart(at)) == 300  # the last data that loaded stays on screen
    at.button(key=state.RESUME_ENCODING).click().run()
    _assert_clean(at)
    assert _points(_chart(at)) == 3


@pytest.mark.slow
def test_custom_axes_between_two_typed_texts():
    """Custom axes with typed texts: encoded by the points' model, cooking at one end, football at the other."""
    import base64

    at = _start()
    at.selectbox(key=state.METHOD).select("Custom").run()
    at.text_input(key=state.AXIS_X_START).input("cooking food in the kitchen").run()
    at.text_input(key=state.AXIS_X_END).input("a football match with goals").run()
    _assert_clean(at)
    assert not _errors(at)
    spec = _chart(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "cooking food in the kitchen \u2192 a football match with goals"

    def mean_x(trace: dict) -> float:
        x = trace["x"]
        values = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]) if isinstance(x, dict) else x
        return float(np.mean(values))

    means = {t["name"]: mean_x(t) for t in spec["data"] if t.get("meta") == "points"}
    assert means["cooking"] == min(means.values()) and means["football"] == max(means.values())
    assert any("Custom 2D" in c.value for c in at.caption)
