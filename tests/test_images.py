"""Images as points, with real images and offline: scikit-learn's 1,797 handwritten digits written
as PNG files at test time, and a tiny random CLIP built from a config (conftest).

What a user relies on: a folder of images (or a table's image column) reads as one point per
image with its path and sub-folder; pixel vectors are the pixels; an image model's vectors are
the model's, cached by the image's bytes; a typed text lands in the images' space; the
projector files carry a sprite that reads back tile for tile; the map's payload carries one
atlas; and every bad input is one line naming the file (and row), with nothing lost.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import write_digits
from embeddings.errors import InputError, ModelError
from embeddings.pipeline import embed_points, embed_query, load_input, takes_queries
from test_cli import assert_one_line_error, run_cli


def _png(path: Path, pixels: np.ndarray, mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8), mode).save(path)
    return path


@pytest.fixture()
def few_digits(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """The first 60 digits as PNG files (a quick folder for the model and the bad-input tests)."""
    return write_digits(tmp_path / "few", 60)


# ---------------------------------------------------------------- reading


def test_a_folder_of_digits_is_one_point_per_image_with_its_path_and_folder(digits_dir) -> None:
    folder, pixels, targets = digits_dir
    dataset = load_input(folder)
    assert len(dataset) == 1797 and dataset.texts is None and dataset.vectors is None
    assert list(dataset.metadata.columns) == ["image", "folder"] and dataset.text_column == "image"
    assert dataset.metadata["folder"].tolist() == [str(t) for t in targets]  # the sub-folder: the digit
    assert dataset.metadata["image"].iloc[0] == "0/0000.png"
    assert dataset.images.sizes.tolist() == [[8, 8]] * 1797 and dataset.images.notes() == []


def test_pixel_vectors_are_the_digits_pixels(digits_dir) -> None:
    folder, pixels, _ = digits_dir
    points = embed_points(load_input(folder), "pixels")
    assert points.level == "image" and points.model == "pixels" and points.fingerprint == "pixels:8x8x1"
    assert points.vectors.shape == (1797, 64)  # one value per pixel: every digit is grey
    np.testing.assert_array_equal(points.vectors, pixels.reshape(1797, 64).astype(np.float32) / np.float32(255))
    assert not takes_queries(points)
    with pytest.raises(InputError, match="raw pixels have no text"):
        embed_query(points, "a three")


def test_colour_images_give_three_values_a_pixel_and_transparency_counts_as_black(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (4, 5, 3))
    rgba = np.concatenate([colour, np.full((4, 5, 1), 255)], axis=2)
    rgba[0, 0, 3] = 0  # one transparent pixel
    _png(tmp_path / "c" / "a.png", rgba, "RGBA")
    _png(tmp_path / "c" / "b.png", colour, "RGB")
    points = embed_points(load_input(tmp_path / "c"), "pixels")
    assert points.vectors.shape == (2, 4 * 5 * 3) and points.fingerprint == "pixels:5x4x3"
    expected = colour.astype(np.float32) / 255
    np.testing.assert_allclose(points.vectors[1], expected.reshape(-1))
    expected[0, 0] = 0.0
    np.testing.assert_allclose(points.vectors[0], expected.reshape(-1))


def test_photos_are_read_as_a_viewer_shows_them_and_shrunk_fast(tmp_path: Path) -> None:
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[1][:400, :600]  # a flower, 600 x 400
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held on its side: viewers turn it a quarter clockwise
    (tmp_path / "p").mkdir()
    Image.fromarray(photo).save(tmp_path / "p" / "turned.jpg", quality=95, exif=exif)
    images = load_input(tmp_path / "p").images
    assert images.sizes.tolist() == [[400, 600]]  # as shown: 400 wide, 600 high
    picture = np.asarray(images.rgba(0))[..., :3].astype(float)
    turned = np.rot90(photo, k=-1).astype(float)  # a quarter clockwise
    assert picture.shape == turned.shape and np.abs(picture - turned).mean() < 3
    # thumbnails decode a JPEG at a fraction of its size (draft) and still show the same picture
    thumb = images.thumbnails((40, 60))[0][..., :3].astype(float)
    full = np.asarray(Image.fromarray(turned.astype(np.uint8)).resize((40, 60), Image.Resampling.LANCZOS), float)
    assert np.abs(thumb - full).mean() < 6


def test_a_big_atlas_of_photos_goes_as_jpeg_and_grey_ones_as_png() -> None:
    from sklearn.datasets import load_sample_images

    from embeddings.images import Images
    from embeddings.sprites import map_atlas

    photo = load_sample_images().images[0]
    rng = np.random.default_rng(0)
    tiles = np.full((1100, 64, 64, 4), 255, dtype=np.uint8)
    for k in range(len(tiles)):
        y, x = rng.integers(0, photo.shape[0] - 64), rng.integers(0, photo.shape[1] - 64)
        tiles[k, ..., :3] = photo[y:y + 64, x:x + 64]
    atlas = map_atlas(Images.from_tiles(tiles, "photos"))
    assert atlas.format == "jpeg" and atlas.tile == (64, 64) and atlas.columns == 34  # 34 x 64 = 2176 px
    decoded = np.asarray(Image.open(io.BytesIO(atlas.data)).convert("RGB"), dtype=float)
    assert decoded.shape == (33 * 64, 34 * 64, 3)
    assert np.abs(decoded[64:128, 128:192] - tiles[34 + 2, ..., :3]).mean() < 4  # tile 36: row 1, column 2
    grey = tiles.copy()
    grey[..., 1] = grey[..., 2] = grey[..., 0]
    assert map_atlas(Images.from_tiles(grey, "scans")).format == "png"


def test_a_table_names_its_images_relative_to_itself_and_keeps_every_column(few_digits, tmp_path: Path) -> None:
    folder, pixels, targets = few_digits
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    table = pd.DataFrame({"file": [f"few/{n}" for n in names], "digit": targets, "note": ["x"] * len(names)})
    table.to_csv(tmp_path / "digits.csv", index=False)
    dataset = load_input(tmp_path / "digits.csv", image_column="file")
    assert len(dataset) == 60 and list(dataset.metadata.columns) == ["file", "digit", "note"]
    assert dataset.text_column == "file" and dataset.metadata["digit"].tolist() == targets.tolist()
    points = embed_points(dataset, "pixels")
    np.testing.assert_array_equal(points.vectors * 255, pixels.reshape(60, 64))
    named = load_input(tmp_path / "digits.csv", image_column="file", text_column="note")
    assert named.text_column == "note" and named.images.names == dataset.images.names


# ---------------------------------------------------------------- sprites and the projector files


def test_the_export_writes_a_sprite_that_reads_back_tile_for_tile(digits_dir, tmp_path: Path) -> None:
    folder, pixels, targets = digits_dir
    points = embed_points(load_input(folder), "pixels")
    paths = points.write_projector(tmp_path / "out")
    config = json.loads(paths["config"].read_text())["embeddings"][0]
    assert config["sprite"] == {"imagePath": "sprite.png", "singleImageDim": [8, 8]}
    sheet = Image.open(paths["sprite"])
    assert sheet.size == (43 * 8, 43 * 8)  # ceil(sqrt(1797)) = 43 columns, a square grid
    grid = np.asarray(sheet.convert("L"))
    for i in (0, 1, 42, 43, 1000, 1796):  # row-major: tile i at row i // 43, column i % 43
        row, column = divmod(i, 43)
        np.testing.assert_array_equal(grid[row * 8:(row + 1) * 8, column * 8:(column + 1) * 8], pixels[i])
    assert not grid[(1797 // 43) * 8 + 8:].any()  # nothing after the last tile

    back = load_input(tmp_path / "out")
    assert len(back.images) == 1797 and back.images.tiles.shape == (1797, 8, 8, 4)
    np.testing.assert_array_equal(back.images.tiles[..., 0], pixels)
    assert (back.images.tiles[..., 3] == 255).all()
    assert back.metadata["folder"].astype(str).tolist() == [str(t) for t in targets]
    again = embed_points(back, None)
    assert again.level == "image" and again.images is not None
    assert again.write_projector(tmp_path / "again")["sprite"].read_bytes() == paths["sprite"].read_bytes()


def test_a_sprite_stays_within_the_sheet_limit_by_shrinking_its_tiles() -> None:
    from embeddings.images import Images
    from embeddings.sprites import MAX_SPRITE_SIDE, cut_sprite, sprite_sheet, tile_size

    assert tile_size((28, 28), 100, 100, 128, MAX_SPRITE_SIDE) == (28, 28)  # MNIST's 10k: 2800 px
    assert tile_size((28, 28), 317, 317, 128, MAX_SPRITE_SIDE) == (25, 25)  # 100k: 317 x 25 = 7925 px
    assert tile_size((640, 480), 10, 10, 128, MAX_SPRITE_SIDE) == (128, 96)  # photos: 128 px, aspect kept
    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 256, (100, 30, 40, 4), dtype=np.uint8)
    tiles[..., 3] = 255
    sprite = sprite_sheet(Images.from_tiles(tiles, "t"), max_side=256)
    assert sprite.columns == 10 and sprite.tile == (25, 19)  # 10 x 40 px > 256: x 0.64, aspect kept
    sheet = Image.open(io.BytesIO(sprite.data))
    assert sheet.size == (250, 190) and max(sheet.size) <= 256
    back = cut_sprite(sprite.data, 100, sprite.tile, "sprite.png")
    expected = np.asarray(Image.fromarray(tiles[57]).resize((25, 19), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(back[57], expected)


def test_a_tensorboard_config_names_its_sprite_too(few_digits, tmp_path: Path) -> None:
    folder, pixels, _ = few_digits
    points = embed_points(load_input(folder), "pixels")
    out = tmp_path / "log"
    points.write_projector(out)
    (out / "projector_config.json").unlink()
    (out / "projector_config.pbtxt").write_text(
        'embeddings {\n  tensor_name: "digits"\n  tensor_path: "vectors.tsv"\n  metadata_path: "metadata.tsv"\n'
        '  sprite {\n    image_path: "sprite.png"\n    single_image_dim: 8\n    single_image_dim: 8\n  }\n}\n')
    back = load_input(out)
    np.testing.assert_array_equal(back.images.tiles[..., 0], pixels)


def test_a_sprite_too_small_for_the_points_is_one_line(few_digits, tmp_path: Path) -> None:
    folder, _, _ = few_digits
    out = tmp_path / "out"
    embed_points(load_input(folder), "pixels").write_projector(out)
    _png(out / "sprite.png", np.zeros((16, 16)))
    with pytest.raises(InputError, match=r"sprite\.png: a 16 x 16 px sheet holds 4 tiles of 8 x 8 px, fewer than "
                                         r"the 60 points$"):
        load_input(out)


def test_the_map_payload_carries_one_atlas_of_every_image(few_digits) -> None:
    from embeddings.mapdata import pack_map_data, unpack_map_data

    folder, pixels, _ = few_digits
    points = embed_points(load_input(folder), "pixels")
    rows = np.arange(0, 60, 3)  # a part of the points, as an isolated selection sends it
    part = points.subset(rows)
    payload = pack_map_data(np.zeros((len(rows), 2)), part.table, images=part.images)
    header, sections = unpack_map_data(payload)
    assert header["images"] == {"tile": [8, 8], "columns": 5, "count": 20, "format": "png"}
    atlas = np.asarray(Image.open(io.BytesIO(sections["images/atlas"].tobytes())).convert("L"))
    assert atlas.shape == (4 * 8, 5 * 8)
    for k, i in enumerate(rows):
        r, c = divmod(k, 5)
        np.testing.assert_array_equal(atlas[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8], pixels[i])


# ---------------------------------------------------------------- an image model (CLIP)


def test_clip_vectors_are_the_models_and_cached_by_the_images_bytes(few_digits, tiny_clip_dir: Path,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sentence_transformers import SentenceTransformer

    import embeddings.models as models

    folder, pixels, _ = few_digits
    points = embed_points(load_input(folder), str(tiny_clip_dir), batch_size=64)
    assert points.level == "image" and points.vectors.shape == (60, 16) and points.cached == 0
    direct = SentenceTransformer(str(tiny_clip_dir), device="cpu", local_files_only=True)
    expected = direct.encode([Image.fromarray(p, "L").convert("RGB") for p in pixels], batch_size=64)
    np.testing.assert_allclose(points.vectors, expected, atol=1e-5)

    # A copy of the folder under other names: every image is found by its bytes; no model is loaded.
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    for path in sorted(moved.rglob("*.png")):
        path.rename(path.with_name("renamed-" + path.name))
    monkeypatch.setattr(models, "_load", lambda *a: pytest.fail("a fully cached run loaded the model"))
    again = embed_points(load_input(moved), str(tiny_clip_dir))
    assert again.cached == 60
    np.testing.assert_array_equal(again.vectors, points.vectors)


def test_a_typed_text_lands_among_the_images_through_the_text_tower(few_digits, tiny_clip_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    folder, _, _ = few_digits
    points = embed_points(load_input(folder), str(tiny_clip_dir), batch_size=64)
    assert takes_queries(points)
    query = embed_query(points, "a handwritten three")
    direct = SentenceTransformer(str(tiny_clip_dir), device="cpu", local_files_only=True)
    np.testing.assert_allclose(query, direct.encode(["a handwritten three"])[0], atol=1e-5)
    assert query.shape == (points.dim,)


def test_a_text_model_on_images_is_one_line(few_digits, tiny_bert_dir: Path) -> None:
    folder, _, _ = few_digits
    with pytest.raises(ModelError, match=r"reads text only, not images; use an image model .* the model 'pixels'"):
        embed_points(load_input(folder), "all-MiniLM-L6-v2")
    with pytest.raises(ModelError, match=r"tiny-bert.*: reads text only, not images"):
        embed_points(load_input(folder), str(tiny_bert_dir))
    with pytest.raises(ModelError, match="pixels: reads images as their raw pixels"):
        embed_points(load_input(folder).__class__(["a"], pd.DataFrame({"text": ["a"]}), "text", "t"), "pixels")


# ---------------------------------------------------------------- bad input: one line each, nothing lost


def test_a_file_that_is_not_an_image_is_one_line(few_digits) -> None:
    folder, _, _ = few_digits
    (folder / "3" / "notes.png").write_text("not a picture", encoding="utf-8")
    with pytest.raises(InputError, match=r"few/3/notes\.png: not an image Pillow can read$"):
        load_input(folder)


def test_a_damaged_image_is_one_line_when_its_pixels_are_read(few_digits, tmp_path: Path) -> None:
    folder, _, _ = few_digits
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8), "L").save(big)
    (folder / "7" / "cut.png").write_bytes(big.read_bytes()[:200])  # the header is whole, the data is not
    dataset = load_input(folder)  # the header reads: the file is checked again when decoded
    assert "7/cut.png" in dataset.images.names
    with pytest.raises(InputError, match=r"few/7/cut\.png: cannot be read as an image \("):
        embed_points(dataset, "pixels")


def test_a_missing_file_names_the_row_and_column(few_digits, tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    pd.DataFrame({"file": ["few/0/0000.png", "few/0/missing.png"], "n": [1, 2]}).to_csv(table, index=False)
    with pytest.raises(InputError, match=r"t\.csv: row 2, column 'file' \(few/0/missing\.png\): no such file"):
        load_input(table, image_column="file")
    pd.DataFrame({"file": ["few/0/0000.png", ""]}).to_csv(table, index=False)
    with pytest.raises(InputError, match=r"t\.csv: row 2, column 'file': no image path$"):
        load_input(table, image_column="file")
    with pytest.raises(InputError, match=r"t\.csv: no column 'picture' for the images; columns: file"):
        load_input(table, image_column="picture")


@pytest.mark.parametrize("path", ["../outside.png", "few/../../outside.png", "ABSOLUTE"])
def test_a_path_outside_the_tables_folder_is_refused(few_digits, tmp_path: Path, path: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    outside = _png(tmp_path / "outside.png", np.zeros((8, 8)))
    shutil.copytree(few_digits[0], data / "few")
    value = str(outside) if path == "ABSOLUTE" else path
    pd.DataFrame({"file": ["few/0/0000.png", value]}).to_csv(data / "t.csv", index=False)
    with pytest.raises(InputError, match=r"row 2, column 'file' .*: leads outside the table's folder"):
        load_input(data / "t.csv", image_column="file")


def test_a_link_out_of_the_folder_is_refused(few_digits, tmp_path: Path) -> None:
    folder, _, _ = few_digits
    outside = _png(tmp_path / "secret" / "s.png", np.zeros((8, 8)))
    (folder / "5" / "link.png").symlink_to(outside)
    with pytest.raises(InputError, match=r"few/5/link\.png: leads outside .*only images inside the folder are read"):
        load_input(folder)


def test_images_of_mixed_sizes_are_resized_and_said(few_digits) -> None:
    folder, pixels, _ = few_digits
    odd = np.kron(pixels[0], np.ones((2, 2), dtype=np.uint8))  # digit 0 at 16 x 16
    _png(folder / "0" / "big.png", odd)
    dataset = load_input(folder)
    assert dataset.images.notes() == [
        "60 of 61 images are 8 x 8 px; 1 has other sizes (the first: 0/big.png, 16 x 16); pixel vectors resize "
        "them to 8 x 8 and sprite tiles fit them into it"]
    points = embed_points(dataset, "pixels")
    assert points.vectors.shape == (61, 64) and len(points) == len(dataset)  # nothing lost
    big = dataset.images.names.index("0/big.png")
    np.testing.assert_allclose(points.vectors[big] * 255, pixels[0].reshape(-1), atol=1.5)  # 2x2 blocks -> 1 px


# ---------------------------------------------------------------- the command line


def test_cli_exports_a_folder_of_images_with_its_sprite(few_digits, tmp_path: Path) -> None:
    folder, pixels, _ = few_digits
    out = tmp_path / "out"
    result = run_cli("export", folder, "--model", "pixels", "--out", out, "--color", "folder")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["bookmarks.txt", "metadata.tsv", "projector_config.json",
                                                     "sprite.png", "vectors.tsv"]
    back = load_input(out)
    np.testing.assert_array_equal(back.images.tiles[..., 0], pixels)
    np.testing.assert_array_equal(back.vectors * 255, pixels.reshape(60, 64))


def test_cli_image_column_and_its_notes(few_digits, tmp_path: Path) -> None:
    folder, pixels, _ = few_digits
    _png(folder / "9" / "wide.png", np.zeros((8, 16)))
    names = sorted(p.relative_to(folder.parent).as_posix() for p in folder.rglob("*.png"))
    pd.DataFrame({"path": names}).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "v.npy"
    result = run_cli("encode", tmp_path / "t.csv", "--image-column", "path", "--model", "pixels", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "note: 60 of 61 images are 8 x 8 px; 1 has other sizes (the first: few/9/wide.png, 16 x 8)" in result.stderr
    assert np.load(out).shape == (61, 64)
    assert pd.read_csv(tmp_path / "v.images.csv")["path"].tolist() == names  # which row is which image


@pytest.mark.parametrize("extra, needle", [
    (["--model", "all-MiniLM-L6-v2"], "model all-MiniLM-L6-v2: reads text only, not images"),
    (["--model", "pixels", "--level", "token"], "holds images, one vector each; level 'token' reads texts"),
    (["--model", "pixels", "--text-column", "x"], "a folder of images is read as it is; a text column goes with a file"),
])
def test_cli_refuses_what_images_cannot_do_in_one_line(few_digits, tmp_path: Path, extra: list, needle: str) -> None:
    out = tmp_path / "v.npy"
    result = run_cli("encode", few_digits[0], "--out", out, *extra)
    assert_one_line_error(result, needle)
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_cli_a_bad_image_is_one_line_and_nothing_is_written(few_digits, tmp_path: Path) -> None:
    folder, _, _ = few_digits
    (folder / "2" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    result = run_cli("export", folder, "--model", "pixels", "--out", out)
    assert_one_line_error(result, "few/2/bad.jpg: ")
    assert not out.exists()
