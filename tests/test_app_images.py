"""Images in the app (AppTest): a folder of digits or a table's image column opened by path, the
map given one atlas of the pictures, the download carrying the sprite, typed queries through a
CLIP model's text tower (not raw pixels), and a damaged image as one line with the page standing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app import state
from app.sections.export import PROJECTOR_LABEL
from conftest import write_digits
from embeddings.mapdata import unpack_map_data

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 600  # seconds per script run: a hang guard on a shared, loaded machine


@pytest.fixture()
def digits(tmp_path: Path):
    return write_digits(tmp_path / "digits", 60)


def _open(path: Path, **widgets) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = state.PATH_SOURCE  # as if picked: no sample is encoded first
    at.session_state[state.DATA_PATH] = str(path)
    for key, value in widgets.items():
        at.session_state[key] = value
    at.run()
    return at


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _map_data(at: AppTest) -> tuple[dict, dict]:
    maps = at.tabs[0].get("component_instance")
    assert maps, "no map on the Explore tab"
    args = json.loads(maps[0].proto.json_args)
    data_id, payload = at.session_state[state.MAP_PAYLOADS][args["key"]]
    return unpack_map_data(payload)


def _download(at: AppTest, media: list, label: str) -> bytes:
    (button,) = [b for b in at.get("download_button") if b.proto.label == label]
    name = button.proto.url.rsplit("/", 1)[-1]
    for storage in reversed(media):
        try:
            return storage.get_file(name).content
        except Exception:
            continue
    raise AssertionError(f"download {label!r} not found")


def test_a_folder_of_images_opens_with_pictures_on_the_map_and_a_sprite_in_the_download(digits, media) -> None:
    folder, pixels, targets = digits
    at = _open(folder)
    _clean(at)
    assert at.text_input(key=state.MODEL).value == "pixels"
    assert any("60 images from digits" in c.value for c in at.sidebar.caption)
    header, arrays = _map_data(at)
    assert header["n"] == 60 and header["images"] == {"tile": [8, 8], "columns": 8, "count": 60, "format": "png"}
    atlas = np.asarray(Image.open(io.BytesIO(arrays["images/atlas"].tobytes())).convert("L"))
    rows = header["rows"] or list(range(60))
    for k in (0, 7, 59):
        r, c = divmod(k, 8)
        np.testing.assert_array_equal(atlas[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8], pixels[rows[k]])
    # typed queries need a text tower: raw pixels have none
    assert at.text_input(key=state.QUERY).disabled
    files = zipfile.ZipFile(io.BytesIO(_download(at, media, PROJECTOR_LABEL)))
    config = json.loads(files.read("projector_config.json"))["embeddings"][0]
    assert config["sprite"] == {"imagePath": "sprite.png", "singleImageDim": [8, 8]}
    sheet = np.asarray(Image.open(io.BytesIO(files.read("sprite.png"))).convert("L"))
    np.testing.assert_array_equal(sheet[:8, 8:16], pixels[1])


def test_a_clip_model_places_a_typed_query_among_the_images(digits, tiny_clip_dir: Path) -> None:
    folder, _, _ = digits
    at = _open(folder, **{state.MODEL: str(tiny_clip_dir)})
    _clean(at)
    query = at.text_input(key=state.QUERY)
    assert not query.disabled
    query.set_value("a handwritten seven").run()
    _clean(at)
    neighbours = [f for f in at.tabs[0].table if "distance" in f.value.columns]  # static tables: the text wraps
    assert neighbours and len(neighbours[0].value) == 10
    assert set(neighbours[0].value["point"]) <= {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}


def test_a_table_with_an_image_column_opens_by_path(digits, tmp_path: Path) -> None:
    folder, pixels, targets = digits
    names = sorted(p.relative_to(tmp_path).as_posix() for p in folder.rglob("*.png"))
    pd.DataFrame({"file": names, "digit": [n.split("/")[1] for n in names]}).to_csv(tmp_path / "t.csv", index=False)
    at = _open(tmp_path / "t.csv", **{state.IMAGE_COLUMN: "file"})
    _clean(at)
    header, _ = _map_data(at)
    assert header["n"] == 60 and header["images"]["count"] == 60
    assert [c["name"] for c in header["columns"]] == ["file", "digit"]


def test_the_image_column_is_offered_only_where_a_column_names_images(digits, tmp_path: Path) -> None:
    folder, _, _ = digits
    names = sorted(p.relative_to(tmp_path).as_posix() for p in folder.rglob("*.png"))
    pd.DataFrame({"text": [f"a note on digit {n}" for n in range(8)]}).to_csv(tmp_path / "texts.csv", index=False)
    at = _open(tmp_path / "texts.csv")
    _clean(at)
    assert not [b for b in at.selectbox if b.label == "Image column"]  # a table of texts: no such field
    pd.DataFrame({"note": [f"n{i}" for i in range(len(names))], "file": names}).to_csv(tmp_path / "t.csv", index=False)
    at.session_state[state.DATA_PATH] = str(tmp_path / "t.csv")
    at.run()
    _clean(at)
    field = at.selectbox(key=state.IMAGE_COLUMN)
    assert field.options == ["none: the points are the texts", "file"] and field.value == ""
    assert _map_data(at)[0]["n"] == 60 and not _map_data(at)[0].get("images")  # not chosen: the texts
    field.select("file").run()
    _clean(at)
    header, _ = _map_data(at)
    assert header["n"] == 60 and header["images"]["count"] == 60


def test_a_damaged_image_is_one_line_and_the_page_stands(digits) -> None:
    folder, _, _ = digits
    (folder / "4" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    at = _open(folder)
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "digits/4/bad.png" in errors[0] and "\n" not in errors[0].strip()
