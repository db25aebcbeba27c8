"""Points: one value for vectors with their rows, made by one entry point for every level.

The CLI (`embeddings export`, a subprocess) and the app (the function its download button
calls) write byte-identical vectors.tsv and metadata.tsv for the same input, at each level.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.data import from_texts, read_data
from embeddings.errors import InputError
from embeddings.pipeline import embed_points
from embeddings.points import Points

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "sample_data" / "sentences.csv"


@pytest.fixture()
def small_csv(tmp_path: Path) -> Path:
    """One sentence per topic with its metadata, one with a tab and one with a line break in a value."""
    frame = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False).groupby("topic").head(1)
    frame = frame.reset_index(drop=True)
    frame.loc[0, "topic"] = "tab\there"
    frame.loc[1, "text"] = "a line\nbreak inside the text"
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return path


def _cli_export(out: Path, *args: str) -> dict[str, bytes]:
    result = subprocess.run(
        [sys.executable, "-m", "embeddings", "export", *args, "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=900, env=dict(os.environ), cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return {name: (out / name).read_bytes() for name in ("vectors.tsv", "metadata.tsv")}


def _app_export(path: Path | None, model: str, level: str, vocab_size: int = 5_000) -> dict[str, bytes]:
    from app.sections.data import DataChoice, encode_choice, read_uploaded
    from app.sections.export import projector_zip_for

    if path is not None:
        dataset, key = read_uploaded(path.read_bytes(), path.name)
    else:
        dataset, key = from_texts(["unused"]), "none"
    choice = DataChoice(dataset, key, model=model, level=level, vocab_size=vocab_size)
    points = encode_choice(choice, lambda done, total: None)
    archive = zipfile.ZipFile(io.BytesIO(projector_zip_for(points, np.arange(len(points)))))
    return {name: archive.read(name) for name in ("vectors.tsv", "metadata.tsv")}


@pytest.mark.slow
@pytest.mark.parametrize("level", ["text", "token", "vocab"])
def test_cli_and_app_export_the_same_files(level: str, small_csv: Path, tiny_bert_dir: Path, tmp_path: Path) -> None:
    model = str(tiny_bert_dir)
    if level == "vocab":
        cli = _cli_export(tmp_path / "cli", "--level", "vocab", "--vocab-size", "40", "--model", model)
        app = _app_export(None, model, "vocab", vocab_size=40)
    else:
        cli = _cli_export(tmp_path / "cli", str(small_csv), "--level", level, "--model", model)
        app = _app_export(small_csv, model, level)
    assert cli == app
    header = cli["metadata.tsv"].decode("utf-8").split("\n", 1)[0].split("\t")
    rows = cli["vectors.tsv"].decode("ascii").count("\n")
    texts = len(pd.read_csv(small_csv))
    if level == "text":
        assert header == ["text", "topic"] and rows == texts
    elif level == "token":
        assert header[:6] == ["token", "position", "token_id", "text_index", "text", "topic"]
        assert rows > texts
    else:
        assert header == ["token", "token_id", "pieces"] and rows == 40


def test_token_points_carry_the_text_and_its_metadata(small_csv: Path, tiny_bert_dir: Path) -> None:
    data = read_data(small_csv)
    points = embed_points(data, str(tiny_bert_dir), level="token", layer=1)
    assert points.level == "token" and points.layer == 1 and points.model == str(tiny_bert_dir)
    assert points.fingerprint and points.source == data.source and points.label_column == "token"
    assert len(points.table) == len(points.vectors) == points.vectors.shape[0]
    for row in (0, len(points) - 1):
        text_index = int(points.table["text_index"].iat[row])
        assert points.table["text"].iat[row] == data.texts[text_index]
        assert points.table["topic"].iat[row] == data.metadata["topic"].iat[text_index]


def test_precomputed_vectors_become_points_as_they_are() -> None:
    data = read_data(SENTENCES)
    vectors = np.random.default_rng(0).normal(size=(len(data), 5)).astype(np.float32)
    from embeddings.data import Dataset

    points = embed_points(Dataset(None, data.metadata, data.text_column, "vectors.npy", vectors), None)
    assert points.model is None and points.level == "text" and points.source == "vectors.npy"
    np.testing.assert_array_equal(points.vectors, vectors)
    with pytest.raises(InputError, match="precomputed vectors"):
        embed_points(Dataset(None, data.metadata, None, "v.npy", vectors), None, level="token")


def _points(n: int = 8) -> Points:
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"text": [f"t{i}" for i in range(n)], "group": list("ab" * (n // 2))})
    return Points(rng.normal(size=(n, 4)), table, level="text", model="m", fingerprint="fp", source="src",
                  text_column="text")


def test_subset_keeps_provenance_and_the_original_rows(tmp_path: Path) -> None:
    points = _points()
    assert points.row_ids.tolist() == list(range(8))  # always an array: the rows as loaded
    part = points.subset([5, 1, 6])
    assert (part.model, part.fingerprint, part.level, part.source) == ("m", "fp", "text", "src")
    assert part.row_ids.tolist() == [5, 1, 6]
    assert part.table["text"].tolist() == ["t5", "t1", "t6"]
    np.testing.assert_array_equal(part.vectors, points.vectors[[5, 1, 6]])
    assert part.subset([2, 0]).row_ids.tolist() == [6, 5]  # rows of a subset of a subset: still the originals
    assert part.vectors.dtype == np.float32
    with pytest.raises(InputError, match="out of range"):
        points.subset([8])


def test_digest_names_the_points_and_changes_with_them() -> None:
    a, b = _points(), _points()
    assert a.digest == b.digest and len(a.digest) == 20
    assert a.subset([0, 1]).digest != a.digest
    assert a.subset(range(8)).digest == a.digest  # the same rows in the same order are the same points
    changed = Points(a.vectors, a.table.assign(group="c"), level="text", model="m", fingerprint="fp", source="src",
                     text_column="text")
    assert changed.digest != a.digest
    assert Points(a.vectors, a.table, level="text", model="other", fingerprint="fp2", source="src",
                  text_column="text").digest != a.digest


def test_project_and_write_projector_use_the_points(tmp_path: Path) -> None:
    points = _points()
    projection = points.project("pca", dims=2)
    assert projection.coords.shape == (8, 2) and projection.method == "pca"
    paths = points.write_projector(tmp_path / "out")
    metadata = paths["metadata"].read_text(encoding="utf-8").splitlines()
    assert metadata[0] == "text\tgroup" and metadata[1] == "t0\ta" and len(metadata) == 9
    assert len(paths["vectors"].read_text().splitlines()) == 8


def test_points_refuse_a_table_that_does_not_match() -> None:
    with pytest.raises(InputError, match="3 vectors but 2 table rows"):
        Points(np.zeros((3, 2)), pd.DataFrame({"a": [1, 2]}), source="x")
    with pytest.raises(InputError, match="x: 2 row ids for 3 vectors"):
        Points(np.zeros((3, 2)), pd.DataFrame({"a": [1, 2, 3]}), source="x", row_ids=[0, 1])
    with pytest.raises(TypeError):  # everything after the table is named
        Points(np.zeros((3, 2)), pd.DataFrame({"a": [1, 2, 3]}), "text")


def test_vocabulary_points_and_the_neighbour_count(tiny_bert_dir: Path) -> None:
    from app.sections.tokens import NEIGHBOURS_SHOWN, nearest_tokens

    points = embed_points(None, str(tiny_bert_dir), level="vocab", vocab_size=30)
    assert len(points) == 30 and points.level == "vocab"
    assert points.source == f"vocabulary of {tiny_bert_dir}"
    tokens = points.table["token"].tolist()
    table, rows = nearest_tokens(points.vectors, tokens, 3)
    assert len(table) == len(rows) == NEIGHBOURS_SHOWN == 10  # ten, not eleven
    assert 3 not in rows and tokens[3] not in table["token"].tolist()
    few, few_rows = nearest_tokens(points.vectors[:4], tokens[:4], 0)
    assert sorted(few_rows) == [1, 2, 3]


def test_the_level_is_checked() -> None:
    with pytest.raises(InputError, match="level must be one of text, token, vocab"):
        embed_points(from_texts(["a"]), "x", level="sentence")
    with pytest.raises(InputError, match="needs data"):
        embed_points(None, "x", level="token")


def test_a_typed_query_lands_in_the_points_own_space(tiny_bert_dir: Path) -> None:
    from embeddings.encode import encode_texts
    from embeddings.pipeline import embed_query

    texts = ["a cat sat on the mat", "dogs bark at night", "bread rises in the oven"]
    points = embed_points(from_texts(texts), str(tiny_bert_dir))
    np.testing.assert_allclose(embed_query(points, texts[1]), points.vectors[1], rtol=1e-5, atol=1e-6)
    assert embed_query(points, "cat").shape == (points.dim,)
    np.testing.assert_array_equal(embed_query(points, "night"), encode_texts(["night"], str(tiny_bert_dir)).vectors[0])
    tokens = embed_points(from_texts(texts), str(tiny_bert_dir), level="token")
    with pytest.raises(InputError, match="no vector at token level"):
        embed_query(tokens, "cat")
    with pytest.raises(InputError, match="query is empty"):
        embed_query(points, "  ")


def test_a_comparison_samples_above_its_limit() -> None:
    from embeddings.compare import compared_rows

    assert compared_rows(10, limit=20).tolist() == list(range(10))
    rows = compared_rows(100, seed=3, limit=20)
    assert len(rows) == 20 and (np.diff(rows) > 0).all()
    assert compared_rows(100, seed=3, limit=20).tolist() == rows.tolist()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["export", str(SENTENCES), "--level", "vocab"], "give no DATA with it"),
        (["export"], "DATA is missing"),
    ],
)
def test_the_cli_says_when_data_goes_with_the_level(args: list[str], needle: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "embeddings", *args, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr
    assert not (tmp_path / "out").exists()
