"""Projector export: every row survives the projector's own parsing, files are written all-or-nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embeddings.projector as projector
from embeddings.data import load_sample, read_projector
from embeddings.errors import InputError
from embeddings.projector import (
    CHUNK_BYTES,
    clean_value,
    decode_like_projector,
    parse_metadata,
    parse_projector,
    parse_vectors,
    projector_zip,
    write_projector,
)


def squash(text: str) -> str:
    return " ".join(text.split())


def random_vectors(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def read_back(out: Path) -> tuple[np.ndarray, list[str] | None, list[list[str]]]:
    metadata = out / "metadata.tsv"
    return parse_projector(
        decode_like_projector((out / "vectors.tsv").read_bytes()),
        decode_like_projector(metadata.read_bytes()) if metadata.exists() else None,
    )


# ------------------------------------------------------------------ cleaning


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a\tb", "a b"),
        ("a\r\nb", "a b"),
        ("a\rb", "a b"),
        ("a\nb", "a b"),
        ("\t\n", "  "),
        ("keep\u2028these\u2029\x85\x0b\x0c", "keep\u2028these\u2029\x85\x0b\x0c"),
        ("  spaces  ", "  spaces  "),
        ("NA", "NA"),
        (None, ""),
        (float("nan"), ""),
        (pd.NA, ""),
        (3, "3"),
        (0.1, "0.1"),
        (np.float32(0.1), "0.1"),
        (np.float64(2.5), "2.5"),
        (np.int64(7), "7"),
        (True, "True"),
        ("lone\ud800surrogate", "lone\ufffdsurrogate"),
    ],
)
def test_clean_value(value: object, expected: str) -> None:
    assert clean_value(value) == expected


# ------------------------------------------------------------------ round trips


def test_awkward_sample_round_trips_row_for_row(tmp_path: Path) -> None:
    dataset = load_sample("awkward")
    vectors = random_vectors(len(dataset), 16)
    paths = write_projector(tmp_path / "out", vectors, dataset.metadata, tensor_name="awkward")
    assert set(paths) == {"vectors", "metadata", "config"}
    parsed, header, rows = read_back(tmp_path / "out")
    assert header == ["text", "kind"]
    assert len(rows) == len(dataset) == parsed.shape[0]
    assert parsed.dtype == np.float32 and np.array_equal(parsed, vectors)
    for row, text, kind in zip(rows, dataset.texts, dataset.metadata["kind"]):
        assert squash(row[0]) == squash(text)
        assert row[1] == kind
        assert "\t" not in row[0] and "\n" not in row[0] and "\r" not in row[0]
    by_kind = dict(zip(dataset.metadata["kind"], (r[0] for r in rows)))
    assert by_kind["na-like"] == "NaN" and by_kind["tab"] == "before after a tab"
    assert by_kind["crlf"] == "windows line ending"  # CR LF is one space, not two
    assert by_kind["unicode-line-separators"] == "first part\u2028second part\u2029third part"
    assert [r[0] for r in rows if r[0].startswith("The same sentence")] == ["The same sentence appears twice."] * 2


def test_single_column_has_no_header(tmp_path: Path) -> None:
    texts = ["alpha", "beta", "NA", "gamma delta"]
    write_projector(tmp_path, random_vectors(4), pd.DataFrame({"text": texts}))
    raw = (tmp_path / "metadata.tsv").read_text(encoding="utf-8")
    assert raw == "alpha\nbeta\nNA\ngamma delta\n"
    _, header, rows = read_back(tmp_path)
    assert header is None and rows == [[t] for t in texts]


def test_two_columns_have_a_header(tmp_path: Path) -> None:
    write_projector(tmp_path, random_vectors(2), pd.DataFrame({"text": ["a", "b"], "n": [1, 2]}))
    assert (tmp_path / "metadata.tsv").read_text() == "text\tn\na\t1\nb\t2\n"
    _, header, rows = read_back(tmp_path)
    assert header == ["text", "n"] and rows == [["a", "1"], ["b", "2"]]


def test_blank_single_column_values_keep_their_rows(tmp_path: Path) -> None:
    # The projector skips every line that is blank after trim(); a row column keeps them.
    texts = ["first", "", "   ", "\t", "\u3000", "last"]
    write_projector(tmp_path, random_vectors(len(texts)), pd.DataFrame({"text": texts}))
    _, header, rows = read_back(tmp_path)
    assert header == ["text", "row"]
    assert len(rows) == len(texts)
    assert [r[1] for r in rows] == [str(i) for i in range(len(texts))]
    assert [r[0] for r in rows] == ["first", "", "   ", " ", "\u3000", "last"]


def test_all_blank_multi_column_row_keeps_its_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x", "", "z"], "b": ["1", " ", "3"]})
    write_projector(tmp_path, random_vectors(3), frame)
    _, header, rows = read_back(tmp_path)
    assert header == ["a", "b", "row"] and rows == [["x", "1", "0"], ["", " ", "1"], ["z", "3", "2"]]


def test_without_blank_rows_no_row_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x", ""], "b": ["1", "2"]})  # one empty value, line not blank
    write_projector(tmp_path, random_vectors(2), frame)
    _, header, _ = read_back(tmp_path)
    assert header == ["a", "b"]


def test_column_names_cleaned_and_made_unique(tmp_path: Path) -> None:
    frame = pd.DataFrame([["1", "2", "3"]], columns=["a\tb", "a b", "row"])
    write_projector(tmp_path, random_vectors(1), frame)
    _, header, rows = read_back(tmp_path)
    assert header == ["a b", "a b.1", "row"] and rows == [["1", "2", "3"]]
    frame = pd.DataFrame({"row": [""], "x": [""]})  # blank line -> row column, name taken
    write_projector(tmp_path, random_vectors(1), frame)
    _, header, rows = read_back(tmp_path)
    assert header == ["row", "x", "row.1"] and rows == [["", "", "0"]]


def test_token_level_metadata_frame(tmp_path: Path) -> None:
    texts = ["the cat sat", "tab\there"]
    tokens = pd.DataFrame(
        {
            "token": ["[CLS]", "the", "cat", "sat", "[SEP]", "[CLS]", "tab", "\t", "##here", "[SEP]"],
            "position": [0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
            "text_index": [0] * 5 + [1] * 5,
        }
    )
    tokens["text"] = [texts[i] for i in tokens["text_index"]]
    vectors = random_vectors(len(tokens), 4)
    write_projector(tmp_path, vectors, tokens)
    parsed, header, rows = read_back(tmp_path)
    assert header == ["token", "position", "text_index", "text"]
    assert np.array_equal(parsed, vectors)
    assert [r[0] for r in rows] == [clean_value(t) for t in tokens["token"]]
    assert [r[1] for r in rows] == [str(p) for p in tokens["position"]]
    assert rows[7] == [" ", "2", "1", "tab here"]


def test_float32_values_are_exact() -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**32, size=40_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)][:30_000].reshape(-1, 6)
    values[0] = [np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45, -0.0, 0.1, 1 / 3]
    text = b"".join(projector._vectors_bytes(values)).decode("ascii")
    parsed = parse_vectors(text)
    assert np.array_equal(parsed.view(np.uint32), values.view(np.uint32))


def test_chunk_boundaries_never_cut_a_character(tmp_path: Path) -> None:
    # Lines of 2-byte characters that straddle 1,000,000-byte chunk boundaries unless moved.
    texts = ["é" * (k % 37 + 1) + "x" * (k % 3) for k in range(60_000)]
    frame = pd.DataFrame({"text": texts})
    raw = "".join(t + "\n" for t in texts).encode("utf-8")
    assert len(raw) > 2 * CHUNK_BYTES
    assert "\ufffd" in decode_like_projector(raw)  # the naive file would be damaged
    write_projector(tmp_path, random_vectors(len(texts), 2), frame)
    content = (tmp_path / "metadata.tsv").read_bytes()
    decoded = decode_like_projector(content)
    assert "\ufffd" not in decoded
    header, rows = parse_metadata(decoded)
    assert header is None and [r[0] for r in rows] == texts
    assert content.count(b"\n") > len(texts)  # it took blank lines, which the projector skips


def test_leading_zero_width_no_break_space_is_not_eaten_as_a_bom(tmp_path: Path) -> None:
    texts = ["\ufeffstarts with U+FEFF", "plain"]
    assert decode_like_projector("\n".join(texts).encode("utf-8")).startswith("starts")  # what would happen
    write_projector(tmp_path, random_vectors(2), pd.DataFrame({"text": texts}))
    _, header, rows = read_back(tmp_path)
    assert header is None and rows == [[t] for t in texts]


def test_every_file_ends_with_a_newline(tmp_path: Path) -> None:
    write_projector(tmp_path, random_vectors(3), pd.DataFrame({"t": ["a", "b", "c"]}))
    for name in ("vectors.tsv", "metadata.tsv", "projector_config.json"):
        assert (tmp_path / name).read_bytes().endswith(b"\n")
        assert not (tmp_path / name).read_bytes().startswith(b"\xef\xbb\xbf")


# ------------------------------------------------------------------ config


def test_config_relative_by_default(tmp_path: Path) -> None:
    paths = write_projector(tmp_path / "new" / "dir", random_vectors(5, 3), pd.DataFrame({"t": list("abcde")}),
                            tensor_name="my tensor")
    config = json.loads(paths["config"].read_text(encoding="utf-8"))
    assert config == {
        "embeddings": [
            {"tensorName": "my tensor", "tensorShape": [5, 3], "tensorPath": "vectors.tsv", "metadataPath": "metadata.tsv"}
        ]
    }


@pytest.mark.parametrize("base_url", ["https://example.org/data/", "https://example.org/data"])
def test_config_with_base_url(tmp_path: Path, base_url: str) -> None:
    write_projector(tmp_path, random_vectors(2), pd.DataFrame({"t": ["a", "b"]}), base_url=base_url)
    tensor = json.loads((tmp_path / "projector_config.json").read_text())["embeddings"][0]
    assert tensor["tensorPath"] == "https://example.org/data/vectors.tsv"
    assert tensor["metadataPath"] == "https://example.org/data/metadata.tsv"


def test_without_metadata(tmp_path: Path) -> None:
    write_projector(tmp_path, random_vectors(2), pd.DataFrame({"t": ["a", "b"]}))
    paths = write_projector(tmp_path, random_vectors(2), None)
    assert set(paths) == {"vectors", "config"}
    assert not (tmp_path / "metadata.tsv").exists()  # a stale one would not match
    tensor = json.loads((tmp_path / "projector_config.json").read_text())["embeddings"][0]
    assert "metadataPath" not in tensor
    assert parse_projector((tmp_path / "vectors.tsv").read_text(), None)[1:] == (None, [])


def test_zip_holds_the_same_files(tmp_path: Path) -> None:
    dataset = load_sample("awkward")
    vectors = random_vectors(len(dataset), 5)
    write_projector(tmp_path, vectors, dataset.metadata, tensor_name="t")
    archive = zipfile.ZipFile(io.BytesIO(projector_zip(vectors, dataset.metadata, tensor_name="t")))
    assert sorted(archive.namelist()) == ["metadata.tsv", "projector_config.json", "vectors.tsv"]
    for name in archive.namelist():
        assert archive.read(name) == (tmp_path / name).read_bytes(), name


# ------------------------------------------------------------------ errors and atomicity


@pytest.mark.parametrize(
    "vectors, metadata, needles",
    [
        (np.array([[1.0, np.nan], [1.0, 2.0]]), None, ["row 1", "column 2", "not finite"]),
        (np.ones((3, 1)), None, ["1 dimension", "at least 2"]),
        (np.ones((0, 4)), None, ["no vectors"]),
        (np.ones(4), None, ["2-D"]),
        (np.ones((3, 2)), pd.DataFrame({"t": ["a", "b"]}), ["2 rows", "3 vectors"]),
    ],
    ids=["nan", "one-dim", "empty", "1-d", "row-mismatch"],
)
def test_bad_exports_write_nothing(tmp_path: Path, vectors, metadata, needles: list[str]) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputError) as info:
        write_projector(out, vectors, metadata)
    for needle in needles:
        assert needle in str(info.value)
    assert not out.exists()


def test_failure_while_writing_leaves_old_files_and_no_partials(tmp_path: Path, monkeypatch) -> None:
    write_projector(tmp_path, random_vectors(2), pd.DataFrame({"t": ["old a", "old b"]}))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(lines):
        yield b"partial\n"
        raise OSError("disk full")

    monkeypatch.setattr(projector, "_metadata_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        write_projector(tmp_path, random_vectors(3, seed=5), pd.DataFrame({"t": ["x", "y", "z"]}))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # old export intact, no temporary files left


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_projector(target, random_vectors(2), None)


# ------------------------------------------------------------------ parsing as the projector does


def test_parse_metadata_mirrors_the_projector() -> None:
    # Blank lines anywhere are skipped; CR stays in the value; short rows read as missing ("").
    header, rows = parse_metadata("\n  \nname\tn\na\t1\r\n\t\nb\n")
    assert header == ["name", "n"] and rows == [["a", "1\r"], ["b", ""]]
    header, rows = parse_metadata("only\ncolumn\n")
    assert header is None and rows == [["only"], ["column"]]


def test_parse_vectors_mirrors_the_projector() -> None:
    assert parse_vectors("1\t2\t\n\n 3\t4 \n").tolist() == [[1, 2], [3, 4]]  # trim, skip blank
    with pytest.raises(InputError, match="label"):
        parse_vectors("word\t1\t2\n")
    with pytest.raises(InputError, match="earlier lines have 2"):
        parse_vectors("1\t2\n1\t2\t3\t4\n")
    with pytest.raises(InputError, match="one dimension"):
        parse_vectors("1\n2\n")


def test_read_projector_reads_our_export(tmp_path: Path) -> None:
    dataset = load_sample("awkward")
    vectors = random_vectors(len(dataset), 4)
    write_projector(tmp_path, vectors, dataset.metadata)
    back = read_projector(tmp_path / "vectors.tsv", tmp_path / "metadata.tsv")
    assert np.array_equal(back.vectors, vectors)
    assert [squash(t) for t in back.texts] == [squash(t) for t in dataset.texts]
    assert list(back.metadata["kind"]) == list(dataset.metadata["kind"])
