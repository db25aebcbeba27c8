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
from app.components.map import PAYLOADS
from app.sections.export import COORDS_LABEL, PROJECTOR_LABEL
from embeddings.mapdata import unpack_map_data

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 600  # seconds per script run: a hang guard on a shared, loaded machine
SMALL_CSV = (
    "text,kind\n"
    "The cat sat on the mat.,animals\n"
    "Dogs love long walks.,animals\n"
    "Stocks fell sharply today.,finance\n"
    "The bank cut its rates.,finance\n"
    "Rain is expected tomorrow.,weather\n"
    "A storm is coming from the west.,weather\n"
).encode()


def _start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    _assert_clean(at)
    return at


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _chart(at: AppTest) -> dict:
    """The Explore tab's map as the browser gets it: its arguments, and its data decoded (the data
    goes to the browser once per data id, so it is read from where the page keeps it)."""
    maps = at.tabs[0].get("component_instance")
    assert maps, "no map on the Explore tab"
    args = json.loads(maps[0].proto.json_args)
    data_id, payload = at.session_state[PAYLOADS][args["key"]]
    assert data_id == args["data_id"]
    header, arrays = unpack_map_data(payload)
    columns = {c["name"]: c for c in header["columns"]}
    sent = [special.key for special in maps[0].proto.special_args]
    return {"args": args, "header": header, "arrays": arrays, "columns": columns, "sent": sent}


def _points(chart: dict) -> int:
    return chart["header"]["n"]


def _legend(chart: dict, column: str) -> list[str]:
    return [entry["name"] for entry in chart["columns"][column]["legend"]]


def _slot_of(chart: dict, column: str) -> dict[str, int]:
    """Colour slot of every value of a category column, as the browser colours it."""
    values = chart["arrays"][f"{column}/values"]
    return dict(zip(values, chart["arrays"][f"{column}/slots"].tolist()))


def _neighbours(at: AppTest) -> list:
    """The Explore tab's neighbour tables (static tables: the text wraps, whole)."""
    return list(at.tabs[0].table)


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


_seq = iter(range(10**13, 10**14))


def _map_reports(at: AppTest, event_type: str, changes: dict, **more) -> None:
    """What the map reports (its own event needs a browser): the look's keys it changed, and more."""
    digest = at.session_state[state.LOOK_FOR]
    at.session_state[state.CHART] = {"seq": next(_seq), "type": event_type, "changes": changes,
                                     "data_id": f"{digest}|pca|2|x", **more}


def _select(at: AppTest, rows: list[int]) -> None:
    """What a box selection on the map reports."""
    _map_reports(at, "select", {"sel": rows}, selection=rows)


# ------------------------------------------------------------------ first load and export


def test_first_load_shows_the_sample_sentences_coloured_by_topic(media):
    at = _start()
    assert not _errors(at)
    chart = _chart(at)
    assert _points(chart) == 300
    assert chart["header"]["panels"][0]["dims"] == 2
    assert chart["args"]["look"]["color"] == "topic"  # the look starts coloured by the default column
    assert len(_legend(chart, "topic")) == 10  # one colour per topic
    texts = chart["arrays"]["text/values"]
    assert texts[chart["arrays"]["text/codes"][0]] == "Brown the onions slowly so they turn sweet instead of bitter."
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


def test_a_rerun_sends_the_map_data_once_and_does_not_reproject():
    at = _start()
    assert _chart(at)["sent"] == ["payload"]  # the first run sends the points
    caption = next(c.value for c in at.caption if "points" in c.value and "PCA" in c.value)
    at.number_input(key=state.NEIGHBORS_K).set_value(5).run()
    _assert_clean(at)
    chart = _chart(at)
    assert chart["sent"] == [] and _points(chart) == 300  # the browser holds them: only the id again
    # the projection's own timing in the caption is unchanged: it came from the cache
    assert next(c.value for c in at.caption if "points" in c.value and "PCA" in c.value) == caption


def test_the_map_sends_its_data_again_when_the_browser_lacks_it():
    at = _start()
    data_id = _chart(at)["args"]["data_id"]
    # what a re-created iframe reports: it has not got this id
    at.session_state[state.CHART] = {"seq": 10**13, "type": "need", "need": data_id, "selection": []}
    at.run()
    _assert_clean(at)
    assert _chart(at)["sent"] == ["payload"]
    at.run()
    assert _chart(at)["sent"] == []  # once


def test_the_url_look_reaches_the_map_and_stays_in_the_url():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["data"] = "sample:sentences"
    at.query_params["search"] = r"ban\w+"
    at.query_params["regex"] = "1"
    at.query_params["color"] = "text"
    at.query_params["sel"] = "4,2"
    at.run()
    _assert_clean(at)
    look = _chart(at)["args"]["look"]
    assert (look["search"], look["regex"], look["color"], look["sel"]) == (r"ban\w+", True, "text", [4, 2])
    assert (at.query_params["search"], at.query_params["color"], at.query_params["sel"]) == (r"ban\w+", "text", "4,2")


def test_a_link_without_a_colour_is_coloured_as_a_fresh_page_and_no_colour_is_kept():
    typed = AppTest.from_file(APP, default_timeout=TIMEOUT)
    typed.query_params["data"] = "sample:sentences"  # a link typed by hand: no colour named
    typed.query_params["method"] = "pca"
    typed.run()
    _assert_clean(typed)
    assert _chart(typed)["args"]["look"]["color"] == "topic" and typed.query_params["color"] == "topic"
    _map_reports(typed, "look", {"color": ""})  # the colour turned off on the map
    typed.run()
    _assert_clean(typed)
    assert typed.query_params["color"] == ""  # said in the link as color= (empty)
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key in ("data", "method", "color"):
        reloaded.query_params[key] = typed.query_params[key]
    reloaded.run()
    _assert_clean(reloaded)
    assert _chart(reloaded)["args"]["look"]["color"] == ""  # the reload keeps it off


def test_what_the_map_changes_reaches_the_url_and_a_method_change_keeps_it():
    at = _start()
    _map_reports(at, "look", {"color": "text", "label": "topic", "search": "ball"})
    at.run()
    _assert_clean(at)
    assert (at.query_params["color"], at.query_params["label"], at.query_params["search"]) == ("text", "topic", "ball")
    rev = _chart(at)["args"]["look_rev"]
    at.selectbox(key=state.METHOD).select("UMAP").run()
    _assert_clean(at)
    args = _chart(at)["args"]
    assert (args["look"]["color"], args["look"]["label"], args["look"]["search"]) == ("text", "topic", "ball")
    assert args["look_rev"] == rev  # the page did not change the look: the map keeps its own
    assert at.query_params["method"] == "umap" and at.query_params["search"] == "ball"


# ------------------------------------------------------------------ projection


@pytest.mark.slow
def test_umap_in_3d_and_tsne_in_2d():
    at = _start()
    at.selectbox(key=state.METHOD).select("UMAP").run()
    at.radio(key=state.DIMS).set_value(3).run()
    _assert_clean(at)
    assert not _errors(at)
    chart = _chart(at)
    assert chart["header"]["panels"][0]["dims"] == 3
    assert _points(chart) == 300 and len(chart["arrays"]["coords/0"]) == 900
    assert any("UMAP 3D" in c.value for c in at.caption)

    at.selectbox(key=state.METHOD).select("t-SNE").run()
    at.radio(key=state.DIMS).set_value(2).run()
    _assert_clean(at)
    assert not _errors(at)
    chart = _chart(at)
    assert chart["header"]["panels"][0]["dims"] == 2 and _points(chart) == 300
    assert any("t-SNE 2D" in c.value for c in at.caption)


def test_pca_components_per_axis_and_variance():
    at = _start()
    at.selectbox(key=f"{state.PCA_AXES}_x").select(2).run()
    _assert_clean(at)
    caption = next(c.value for c in at.caption if "variance explained" in c.value)
    assert "PC3" in caption and "PC2" in caption
    assert _chart(at)["header"]["axis_titles"] == ["PC3", "PC2"]
    at.selectbox(key=f"{state.PCA_AXES}_y").select(2).run()  # the same component twice
    assert any("different component" in e for e in _errors(at))
    _assert_clean(at)
    last = _chart(at)  # the last good map stays drawn, whole, under the one error line
    assert _points(last) == 300 and last["header"]["axis_titles"] == ["PC3", "PC2"]


# ------------------------------------------------------------------ data sources


def test_upload_a_csv_then_a_bad_one_keeps_the_page(media):
    at = _start()
    at.radio(key=state.SOURCE).set_value("Upload a file").run()
    at.file_uploader(key=state.UPLOAD).set_value(("mini.csv", SMALL_CSV, "text/csv")).run()
    _assert_clean(at)
    assert not _errors(at)
    chart = _chart(at)
    assert _points(chart) == 6
    assert _legend(chart, "kind") == ["animals", "finance", "weather"]

    bad = b'text,kind\n"never closed,animals\nok,x\n'
    at.file_uploader(key=state.UPLOAD).set_value(("broken.csv", bad, "text/csv")).run()
    _assert_clean(at)
    errors = _errors(at)
    assert errors and "broken.csv" in errors[0]
    assert _points(_chart(at)) == 6  # the last data that loaded stays explorable
    assert any("Still showing" in c.value for c in at.caption)
    compare_tab = next(t for t in at.tabs if t.label == "Compare models")  # and comparable: the Compare tab keeps the last texts, not a "needs texts" note
    assert any(b.label == "Compare" for b in compare_tab.button)
    assert any("last texts that loaded (mini.csv)" in c.value for c in compare_tab.caption)

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
    chart = _chart(at)
    assert _points(chart) == 20
    assert _legend(chart, "group") == ["a", "b"]
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
    tokens = _points(_chart(at))
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


def test_a_model_that_does_not_convert_says_why_under_the_model_box(tiny_bert_dir, tmp_path):
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(tiny_bert_dir))
    pooling = models.Pooling(transformer.get_embedding_dimension())
    folder = tmp_path / "with-dense"
    dense = models.Dense(pooling.get_embedding_dimension(), 8)
    SentenceTransformer(modules=[transformer, pooling, dense], device="cpu").save(str(folder))
    at = _start()
    at.radio(key=state.SOURCE).set_value("Paste texts").run()
    at.text_area(key=state.PASTE).input("The river bank was muddy.\nThe bank raised rates.\nI love rivers.").run()
    at.text_input(key=state.MODEL).input(str(folder))
    at.selectbox(key=state.BACKEND).select("onnx").run()  # one rerun: the model's first encoding asks for onnx
    _assert_clean(at)
    assert _points(_chart(at)) == 3  # encoded all the same, by torch
    notes = [c.value for c in at.sidebar.caption if c.value.startswith("Note:")]
    assert notes == ["Note: onnx: with-dense does not convert (module Dense runs only in torch); using torch."]
    at.selectbox(key=state.BACKEND).select("torch").run()  # asked for torch: nothing to explain
    assert not [c.value for c in at.sidebar.caption if c.value.startswith("Note:")]
    assert _points(_chart(at)) == 3


# ------------------------------------------------------------------ explore


def test_a_click_on_the_map_inspects_that_point():
    at = _start()
    # what the browser reports when point 7 is clicked (AppTest runs no JavaScript)
    _map_reports(at, "click", {"sel": [7]}, clicked=7, selection=[7])
    at.run()
    _assert_clean(at)
    assert at.selectbox(key=state.INSPECT_POINT).value == 7
    (neighbours,) = _neighbours(at)
    assert list(neighbours.value.columns) == ["distance", "point"] and neighbours.value.index.name == "row"
    chart = _chart(at)
    assert chart["args"]["focus"] == 7
    assert chart["args"]["selection"] is None and chart["args"]["look"]["sel"] == [7]  # the look holds it
    assert chart["args"]["highlight"] == [7, *neighbours.value.index.tolist()]
    assert not any("Isolate" in b.proto.label for b in at.button)  # one Isolate: the map's


def test_selection_neighbours_isolate_and_export_the_selection(media):
    at = _start()
    rows = list(range(0, 80, 2))
    _select(at, rows)
    at.run()
    _assert_clean(at)
    # a box selection inspects no point by itself: the selection stays lit, and the panel says why
    assert at.selectbox(key=state.INSPECT_POINT).value is None and not _neighbours(at)
    assert any("40 points selected: pick one" in c.value for c in at.caption)
    chart = _chart(at)
    assert chart["args"]["look"]["sel"] == rows and chart["args"]["highlight"] == []
    at.selectbox(key=state.INSPECT_POINT).select(0).run()
    (neighbours,) = _neighbours(at)
    assert len(neighbours.value) == 10 and 0 not in set(neighbours.value.index)
    chart = _chart(at)
    assert chart["args"]["focus"] == 0 and len(chart["args"]["highlight"]) == 11  # the point and its 10 neighbours
    colours = _slot_of(chart, "topic")

    at.radio(key=state.EXPORT_SCOPE).set_value("selection").run()
    files = _zip_files(_download(at, media, PROJECTOR_LABEL))
    assert len(files["vectors.tsv"].splitlines()) == 40
    assert len(files["metadata.tsv"].splitlines()) == 41

    # the map's one Isolate, with re-project ticked: the page lays the 40 points out on their own
    _map_reports(at, "action", {"iso": rows, "reproject": True}, action="isolate", selection=rows)
    at.run()
    _assert_clean(at)
    isolated = _chart(at)
    assert _points(isolated) == 40
    assert isolated["header"]["rows"] == rows  # source rows, for events
    # every topic keeps its colour in the isolated layout (ranked on all the points, not these 40)
    assert all(colours[topic] == slot for topic, slot in _slot_of(isolated, "topic").items())
    assert any("40 isolated points laid out on their own" in c.value for c in at.caption)
    assert at.query_params["iso"] == ",".join(map(str, rows)) and at.query_params["reproject"] == "1"
    assert at.radio(key=state.EXPORT_SCOPE).options[0] == "What the map shows (40 points of 300)"
    _map_reports(at, "action", {"iso": []}, action="show_all", selection=rows)  # the map's Show all
    at.run()
    _assert_clean(at)
    assert _points(_chart(at)) == 300 and "iso" not in at.query_params


def test_neighbours_of_a_typed_query():
    at = _start()
    at.number_input(key=state.NEIGHBORS_K).set_value(5)
    at.text_input(key=state.QUERY).input("a goal in the last minute of the match").run()
    _assert_clean(at)
    assert not _errors(at)
    frames = _neighbours(at)
    assert frames and len(frames[0].value) == 5
    assert set(frames[0].value.columns) == {"point", "distance"}
    assert (frames[0].value["distance"].astype(float).diff().dropna() >= 0).all()


def test_a_stopped_encoding_waits_for_resume():
    from app.sections.data import DataChoice, _digest
    from embeddings.choices import DEFAULT_MODEL
    from embeddings.data import parse_pasted

    texts = "Stopped before it finished.\nA second text.\nAnd a third one."
    at = _start()
    # the job the page names for these texts with the sidebar's defaults (the digest's format is the page's)
    job = DataChoice(parse_pasted(texts), f"paste:{_digest(texts)}", model=DEFAULT_MODEL, level="text").job_digest
    at.session_state[state.STOPPED] = job
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
    at = _start()
    at.selectbox(key=state.METHOD).select("Custom").run()
    at.text_input(key=state.AXIS_X_START).input("cooking food in the kitchen").run()
    at.text_input(key=state.AXIS_X_END).input("a football match with goals").run()
    _assert_clean(at)
    assert not _errors(at)
    chart = _chart(at)
    assert chart["header"]["axis_titles"][0] == "cooking food in the kitchen \u2192 a football match with goals"
    x = chart["arrays"]["coords/0"].reshape(_points(chart), -1)[:, 0]
    topics = np.asarray([chart["arrays"]["topic/values"][c] for c in chart["arrays"]["topic/codes"]])
    means = {topic: float(x[topics == topic].mean()) for topic in set(topics)}
    assert means["cooking"] == min(means.values()) and means["football"] == max(means.values())
    assert any("Custom 2D" in c.value for c in at.caption)


def test_the_map_downloads_as_one_html_file(media):
    """The export's map.html holds the points on screen and their look (the browser test of the
    file itself: tests/test_map_html.py)."""
    import base64
    import gzip
    import re

    from app.sections.export import MAP_HTML_LABEL
    from embeddings.mapdata import unpack_map_data

    page = _download(_start(), media, MAP_HTML_LABEL).decode("utf-8")
    payload = re.search(r'id="emap-payload"[^>]*>([^<]*)<', page).group(1)
    header, arrays = unpack_map_data(gzip.decompress(base64.b64decode(payload)))
    assert header["n"] == 300 and [c["name"] for c in header["columns"]] == ["text", "topic"]
    assert arrays["text/values"][arrays["text/codes"][0]] == "Brown the onions slowly so they turn sweet instead of bitter."
    setup = json.loads(re.search(r'id="emap-setup">([^<]*)<', page).group(1))
    assert setup["color"] == "topic"
    assert "300 points · PCA 2D" in page


def test_a_link_reopens_the_whole_look():
    """Filters, clusters, isolation and density in a link: the page shows them all, and writes them back."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"data": "sample:sentences", "method": "pca", "color": "topic", "density": "1",
                            "filters": '{"topic":["football","cooking"]}', "iso": "0,1,2,3", "clusters": "auto"})
    at.run()
    _assert_clean(at)
    chart = _chart(at)
    assert _points(chart) == 60  # two topics of 30
    look = chart["args"]["look"]
    assert (look["color"], look["density"], look["iso"]) == ("topic", True, [0, 1, 2, 3])
    assert "cluster_label" in chart["columns"] and at.session_state[state.LOOK].clusters is not None
    assert at.multiselect(key=state.FILTER_PREFIX + "topic").value == ["football", "cooking"]
    assert at.query_params["filters"] == '{"topic":["football","cooking"]}' and at.query_params["clusters"] == "auto"
    # what the map shows: the two topics, less the rows the isolation hides in place
    assert at.radio(key=state.EXPORT_SCOPE).options[0].startswith("What the map shows (4 points of 300)")


def test_other_data_clear_the_selection_visibly_and_keep_the_colour():
    at = _start()
    _select(at, [1, 2, 3])
    at.run()
    assert at.session_state[state.LOOK].selection == (1, 2, 3)
    at.radio(key=state.SOURCE).set_value("Paste texts").run()
    at.text_area(key=state.PASTE).input("one text\nanother text\na third text\nand a fourth").run()
    _assert_clean(at)
    look = at.session_state[state.LOOK]
    assert look.selection == () and _chart(at)["args"]["look"]["sel"] == []
    assert any("the selection and the isolation were cleared" in i.value for i in at.info)
    assert "sel" not in at.query_params
