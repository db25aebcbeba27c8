"""Sharded input (a folder or glob of CSV/JSONL/Parquet) and Parquet vector shards out; no Ray here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.cli import main
from embeddings.errors import InputError
from embeddings.pipeline import load_input
from embeddings.shards import read_shards, read_vector_shards, write_vector_shards

ROOT = Path(__file__).resolve().parent.parent


def write_shards(folder: Path, frame: pd.DataFrame) -> Path:
    """The frame's rows split into a Parquet, a CSV and a JSONL shard whose names sort in row order."""
    folder.mkdir(parents=True, exist_ok=True)
    thirds = np.array_split(np.arange(len(frame)), 3)
    frame.iloc[thirds[0]].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[thirds[1]].to_csv(folder / "part-1.csv", index=False)
    with open(folder / "part-2.jsonl", "w", encoding="utf-8") as handle:
        for record in frame.iloc[thirds[2]].to_dict(orient="records"):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture()
def sentences() -> pd.DataFrame:
    return pd.read_csv(ROOT / "sample_data" / "sentences.csv", dtype=str, keep_default_na=False).head(30)


def test_a_folder_of_mixed_shards_reads_as_one_input_in_sorted_order(tmp_path: Path, sentences: pd.DataFrame) -> None:
    folder = write_shards(tmp_path / "shards", sentences)
    (folder / ".hidden.csv").write_text("text\nnot me\n", encoding="utf-8")
    (folder / "notes.md").write_text("ignored: not a shard type", encoding="utf-8")
    dataset = load_input(folder)
    assert dataset.texts == sentences["text"].tolist()
    assert dataset.text_column == "text"
    assert dataset.metadata["topic"].tolist() == sentences["topic"].tolist()
    # a glob names the same files; one that picks only the CSV gets only its rows
    assert load_input(str(folder / "part-*")).texts == dataset.texts
    assert load_input(str(folder / "*.csv")).texts == sentences["text"].tolist()[10:20]


def test_shards_that_disagree_are_one_line_errors(tmp_path: Path, sentences: pd.DataFrame) -> None:
    folder = write_shards(tmp_path / "shards", sentences)
    sentences.head(3).rename(columns={"topic": "label"}).to_csv(folder / "part-3.csv", index=False)
    with pytest.raises(InputError, match=r"part-3.csv: columns \(text, label\) differ from part-0.parquet's"):
        read_shards(folder)
    (folder / "part-3.csv").write_text("body,topic\nhello,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"part-3.csv: its text column is 'body'"):
        read_shards(folder)
    (folder / "part-3.csv").write_text("text,topic\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"part-3.csv: has a header \(text, topic\) but no rows"):
        read_shards(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no .csv, .jsonl, .parquet files"):
        load_input(empty)
    (folder / "part-3.csv").unlink()
    (folder / "readme.txt").write_text("a folder skips this; a glob that names it is refused", encoding="utf-8")
    assert len(load_input(folder)) == len(sentences)
    with pytest.raises(InputError, match="readme.txt: unsupported shard type"):
        load_input(str(folder / "*"))


def test_vector_shards_round_trip_in_row_order_and_replace_only_our_own_folder(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).standard_normal((25, 6)).astype(np.float32)
    out = tmp_path / "vectors"
    parts = write_vector_shards(out, vectors, rows_per_shard=10)
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    ids, back = read_vector_shards(out)
    np.testing.assert_array_equal(ids, np.arange(25))
    np.testing.assert_array_equal(back, vectors)
    write_vector_shards(out, vectors[:4])  # a re-run replaces the old shards, none is left over
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors"]  # no staging folder left
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="holds other files"):
        write_vector_shards(out, vectors)
    assert (out / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_cli_encodes_a_folder_to_parquet_shards(tmp_path: Path, sentences: pd.DataFrame, tiny_bert_dir: Path) -> None:
    from embeddings.encode import encode_texts

    folder = write_shards(tmp_path / "shards", sentences)
    out = tmp_path / "out"
    assert main(["encode", str(folder), "--model", str(tiny_bert_dir), "--out", str(out), "-q"]) == 0
    ids, vectors = read_vector_shards(out)
    np.testing.assert_array_equal(ids, np.arange(len(sentences)))
    expected = encode_texts(sentences["text"].tolist(), str(tiny_bert_dir)).vectors
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


@pytest.mark.parametrize("args, needle", [
    (["--actors", "2"], "--actors goes with --engine ray"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address goes with --engine ray"),
    (["--engine", "ray", "--level", "token"], "--engine ray encodes one vector per text"),
    (["--engine", "ray", "--processes", "2"], "--processes is for --engine local"),
])
def test_engine_options_that_do_not_fit_are_one_line_errors(
    tmp_path: Path, args: list[str], needle: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "x.npy"
    assert main(["encode", str(ROOT / "sample_data" / "sentences.csv"), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not out.exists()
