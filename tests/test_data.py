"""Readers: every format, every bad-input message, samples, vectors and projector files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.data import (
    SAMPLES,
    SUPPORTED_SUFFIXES,
    Dataset,
    from_texts,
    load_sample,
    parse_pasted,
    read_data,
    read_projector,
    read_vectors,
)
from embeddings.errors import InputError

REPO = Path(__file__).resolve().parent.parent

# Texts every format can hold (TXT cannot hold line breaks, so those are tested per format).
PLAIN_TEXTS = [
    "A plain sentence.",
    "NA",
    "null",
    "None",
    "12345",
    'She said "hi", then left.',
    "  padded  ",
    "emoji 🍕 and Arabic سلام and 中文",
    "<b>html</b> & more",
]


def raises(match_all: list[str], func, *args, **kwargs) -> str:
    """Call func, expect a one-line InputError containing every needle; return the message."""
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    for needle in match_all:
        assert needle in message, (needle, message)
    return message


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"{i:02d}" for i in range(len(PLAIN_TEXTS))],  # leading zeros: must stay text
            "text": PLAIN_TEXTS,
            "score": [i * 0.5 for i in range(len(PLAIN_TEXTS))],
            "topic": ["a", "b"] * (len(PLAIN_TEXTS) // 2) + ["a"],
        }
    )


def write_all_formats(frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    paths = {suffix: folder / f"data{suffix}" for suffix in SUPPORTED_SUFFIXES}
    frame.to_csv(paths[".csv"], index=False)
    frame.to_csv(paths[".tsv"], index=False, sep="\t")
    with open(paths[".jsonl"], "w", encoding="utf-8") as handle:
        for record in frame.to_dict("records"):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    frame.to_parquet(paths[".parquet"], index=False)
    paths[".txt"].write_text("\n".join(frame["text"]) + "\n", encoding="utf-8")
    return paths


# ------------------------------------------------------------------ formats


def test_every_format_reads_the_same_content(frame: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_all_formats(frame, tmp_path)
    for suffix, path in paths.items():
        dataset = read_data(path)
        assert dataset.texts == PLAIN_TEXTS, suffix
        assert dataset.text_column == "text"
        assert dataset.source == path.name
        assert len(dataset) == len(PLAIN_TEXTS)
        if suffix == ".txt":
            assert list(dataset.metadata.columns) == ["text"]
            continue
        assert list(dataset.metadata.columns) == ["id", "text", "score", "topic"], suffix
        assert list(dataset.metadata["text"]) == PLAIN_TEXTS
        assert list(dataset.metadata["id"]) == list(frame["id"]), suffix  # "01" not 1
        assert list(dataset.metadata["topic"]) == list(frame["topic"])
        assert pd.api.types.is_numeric_dtype(dataset.metadata["score"]), suffix
        assert list(dataset.metadata["score"]) == list(frame["score"])


def test_upload_bytes_read_like_the_file(frame: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_all_formats(frame, tmp_path)
    for suffix, path in paths.items():
        from_path = read_data(path)
        uploaded = read_data(path.read_bytes(), filename=f"upload{suffix}")
        assert uploaded.texts == from_path.texts
        assert uploaded.source == f"upload{suffix}"
        pd.testing.assert_frame_equal(uploaded.metadata, from_path.metadata)


def test_upload_without_filename_is_refused() -> None:
    raises(["file name"], read_data, b"text\nhello\n")


def test_csv_keeps_quoted_newlines_tabs_and_cr(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b'text,n\n"line one\nline two",1\n"a\tb",2\n"cr\rhere",3\n"crlf\r\nhere",4\n')
    dataset = read_data(path)
    assert dataset.texts == ["line one\nline two", "a\tb", "cr\rhere", "crlf\r\nhere"]
    assert list(dataset.metadata["n"]) == [1, 2, 3, 4]


def test_awkward_sample_reads_exactly_as_csv_module(tmp_path: Path) -> None:
    import csv

    with open(SAMPLES["awkward"], encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    dataset = load_sample("awkward")
    assert dataset.texts == [row[0] for row in rows[1:]]
    assert list(dataset.metadata["kind"]) == [row[1] for row in rows[1:]]
    assert dataset.source == "sample:awkward"


def test_na_like_texts_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "na.csv"
    path.write_text("text,other\nNA,NA\nnull,\nNone,None\nNaN,x\n,y\n", encoding="utf-8")
    dataset = read_data(path)
    assert dataset.texts == ["NA", "null", "None", "NaN", ""]
    assert list(dataset.metadata["other"]) == ["NA", "", "None", "x", "y"]


def test_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,topic\nhello,a\n".encode("utf-8"))
    dataset = read_data(path)
    assert list(dataset.metadata.columns) == ["text", "topic"]
    assert dataset.texts == ["hello"]
    txt = tmp_path / "bom.txt"
    txt.write_bytes("\ufefffirst\nsecond\n".encode("utf-8"))
    assert read_data(txt).texts == ["first", "second"]


def test_txt_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"one\r\n\r\nthree  \nfour")  # CRLF, an empty line inside, no final newline
    assert read_data(path).texts == ["one", "", "three  ", "four"]
    path.write_bytes(b"one\ntwo\n")  # the final newline does not make an empty text
    assert read_data(path).texts == ["one", "two"]


def test_jsonl_blank_lines_and_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "n": 1}\n\n{"text": "b", "extra": true}\n', encoding="utf-8")
    dataset = read_data(path)
    assert dataset.texts == ["a", "b"]
    assert list(dataset.metadata.columns) == ["text", "n", "extra"]


# ------------------------------------------------------------------ text column


def test_text_column_choice(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,body,text\n1,first body,first text\n2,second body,second text\n")
    assert read_data(path).texts == ["first text", "second text"]  # "text" wins
    assert read_data(path, text_column="body").texts == ["first body", "second body"]
    chosen = read_data(path, text_column="id")  # a numeric-looking column named on purpose stays text
    assert chosen.texts == ["1", "2"] and chosen.text_column == "id"
    path.write_text("id,body,topic\n1,first body,a\n2,second body,b\n")
    dataset = read_data(path)
    assert dataset.text_column == "body"  # first column of strings; id became numbers
    assert list(dataset.metadata["id"]) == [1, 2]


def test_numeric_looking_text_column_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("text,n\n1,1\n2.5,2\n")
    dataset = read_data(path)
    assert dataset.texts == ["1", "2.5"]
    assert list(dataset.metadata["n"]) == [1, 2]


def test_missing_text_column_names_file_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("text,topic\nhi,a\n")
    raises(["c.csv", "'body'", "text, topic"], read_data, path, text_column="body")


def test_no_text_column(tmp_path: Path) -> None:
    path = tmp_path / "nums.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    raises(["nums.csv", "no text column", "a, b"], read_data, path)


# ------------------------------------------------------------------ bad input


def test_missing_file(tmp_path: Path) -> None:
    raises(["nope.csv", "no such file"], read_data, tmp_path / "nope.csv")


@pytest.mark.parametrize("content", [b"", b"  \n\n", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".txt"])
def test_empty_file(tmp_path: Path, suffix: str, content: bytes) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(content)
    raises([path.name, "empty"], read_data, path)


def test_header_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("text,topic\n")
    raises(["h.csv", "header", "text, topic", "no rows"], read_data, path)


def test_unknown_suffix_lists_supported(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    raises(["data.xlsx", "'.xlsx'", ".csv, .tsv, .jsonl, .parquet, .txt"], read_data, path)


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(b"fine line\nsecond\n\xff\xfe\x00 broken\n")
    raises(["blob.txt", "not UTF-8", "offset 17", "line 3", "0xff"], read_data, path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    raises(["latin.csv", "offset 8", "line 2"], read_data, latin)


def test_malformed_csv_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('text,topic\n"multi\nline",a\nok,b\nc,d,e\n')
    raises(["bad.csv", "row 3", "3 fields", "header has 2"], read_data, path)
    path.write_text('text,topic\nok,a\n"never closed,b\n')
    raises(["bad.csv", "row 2", "quoted field"], read_data, path)


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": "b",}\n')
    raises(["bad.jsonl", "line 3", "not valid JSON"], read_data, path)
    path.write_text('{"text": "a"}\n["text", "b"]\n')
    raises(["bad.jsonl", "line 2", "JSON object"], read_data, path)


def test_jsonl_missing_and_non_string_text(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a"}\n{"text": null}\n')
    raises(["t.jsonl", "line 2", "'text'", "missing"], read_data, path)
    path.write_text('{"text": "a"}\n\n{"other": 1}\n')
    raises(["t.jsonl", "line 3", "'text'", "missing"], read_data, path)
    path.write_text('{"text": "a"}\n{"text": 5}\n')
    raises(["t.jsonl", "line 2", "'text'", "expected text", "int"], read_data, path)
    path.write_text('{"text": "a"}\n{"text": ["a", "b"]}\n')
    raises(["t.jsonl", "line 2", "'text'", "expected text", "list"], read_data, path)


def test_parquet_missing_and_non_string_text(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"text": ["a", None, "c"]}).to_parquet(path)
    raises(["t.parquet", "row 2", "'text'", "missing"], read_data, path)
    pd.DataFrame({"label": ["a", "b"], "n": [1, 2]}).to_parquet(path)
    raises(["t.parquet", "row 1", "'n'", "expected text"], read_data, path, text_column="n")
    path.write_bytes(b"this is not parquet")
    raises(["t.parquet", "Parquet"], read_data, path)


def test_csv_short_row_leaves_text_empty_not_missing(tmp_path: Path) -> None:
    # pandas fills a short row with "" when nothing is read as NA; the row is kept.
    path = tmp_path / "short.csv"
    path.write_text("topic,text\na,first\nb\n")
    assert read_data(path).texts == ["first", ""]


# ------------------------------------------------------------------ pasted, samples, Dataset


def test_parse_pasted() -> None:
    dataset = parse_pasted("first line\r\n\n   \n  second line \nthird")
    assert dataset.texts == ["first line", "  second line ", "third"]
    assert dataset.source == "pasted" and dataset.text_column == "text"
    assert list(dataset.metadata["text"]) == dataset.texts
    raises(["pasted", "no non-blank"], parse_pasted, " \n\n\t\n")


def test_from_texts_checks_items() -> None:
    dataset = from_texts(["a", "b"], source="mine")
    assert dataset.texts == ["a", "b"] and dataset.source == "mine"
    raises(["item 2", "int"], from_texts, ["a", 3])


def test_samples() -> None:
    sentences = load_sample("sentences")
    assert len(sentences) == 300 and list(sentences.metadata.columns) == ["text", "topic"]
    assert sentences.metadata["topic"].value_counts().to_dict() == dict.fromkeys(
        ["cooking", "football", "astronomy", "programming", "finance", "music", "medicine", "weather",
         "travel", "gardening"], 30)
    assert len(set(sentences.texts)) == 300
    words = load_sample("words")
    assert list(words.metadata.columns) == ["text", "category"] and len(words) == 250
    assert (words.metadata["category"].value_counts() == 25).all()
    assert load_sample().source == "sample:sentences"
    raises(["'nope'", "sentences"], load_sample, "nope")
    for path in SAMPLES.values():
        assert path.parent == REPO / "sample_data"


def test_subset_keeps_order_and_rows() -> None:
    base = read_data(b"text,n\na,1\nb,2\nc,3\n", filename="x.csv")
    sub = base.subset([2, 0])
    assert sub.texts == ["c", "a"] and list(sub.metadata["n"]) == [3, 1]
    assert list(sub.metadata.index) == [0, 1] and len(sub) == 2
    vec = Dataset(None, pd.DataFrame(index=range(3)), None, "v", np.arange(6, dtype=np.float32).reshape(3, 2))
    assert vec.subset(np.array([1])).vectors.tolist() == [[2.0, 3.0]] and len(vec) == 3


# ------------------------------------------------------------------ vectors


def test_npy_vectors(tmp_path: Path) -> None:
    path = tmp_path / "v.npy"
    np.save(path, np.arange(6, dtype=np.float64).reshape(3, 2))
    array = read_vectors(path)
    assert array.dtype == np.float32 and array.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert read_vectors(path.read_bytes(), filename="up.npy").tolist() == array.tolist()


def test_npy_bad_inputs(tmp_path: Path) -> None:
    path = tmp_path / "v.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    raises(["v.npy", "Python objects"], read_vectors, path)
    np.save(path, np.zeros(5))
    raises(["v.npy", "2-D", "(5,)"], read_vectors, path)
    np.save(path, np.array([["a", "b"]]))
    raises(["v.npy", "numbers"], read_vectors, path)
    bad = np.ones((3, 4))
    bad[2, 1] = np.inf
    np.save(path, bad)
    raises(["v.npy", "row 3", "column 2", "not finite"], read_vectors, path)
    path.write_bytes(b"not an npy file at all")
    raises(["v.npy", "not a readable .npy"], read_vectors, path)


@pytest.mark.parametrize(
    "content, needles",
    [
        ("1\t2\t3\n4\t5\n", ["row 2", "2 values", "row 1 has 3"]),
        ("1\t2\n3\tabc\n", ["row 2", "column 2", "'abc'"]),
        ("1\t2\nnan\t4\n", ["row 2", "column 1", "not finite"]),
        ("1\t2\n3\tinf\n", ["row 2", "column 2", "not finite"]),
        ("", ["empty"]),
        ("\n\n", ["empty"]),
        ("1\t2\n\n3\t4\n", ["row 2", "blank"]),
    ],
    ids=["ragged", "non-numeric", "nan", "inf", "empty", "blank-only", "blank-inside"],
)
def test_bad_vectors_tsv(tmp_path: Path, content: str, needles: list[str]) -> None:
    path = tmp_path / "vectors.tsv"
    path.write_text(content)
    raises(["vectors.tsv", *needles], read_vectors, path)


def test_vectors_tsv_crlf_and_trailing_newlines(tmp_path: Path) -> None:
    path = tmp_path / "v.tsv"
    path.write_bytes(b"1\t2.5\r\n-3e-2\t4\r\n\r\n")
    assert read_vectors(path).tolist() == [[1.0, 2.5], [np.float32(-0.03), 4.0]]


# ------------------------------------------------------------------ projector files in


def test_read_projector_single_column_has_no_header(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.tsv"
    vectors.write_text("1\t2\n3\t4\n")
    metadata = tmp_path / "metadata.tsv"
    metadata.write_text("first\nsecond\n")
    dataset = read_projector(vectors, metadata)
    assert dataset.texts == ["first", "second"] and dataset.text_column == "label"
    assert list(dataset.metadata.columns) == ["label"]
    assert dataset.vectors.tolist() == [[1, 2], [3, 4]]
    assert dataset.source == "vectors.tsv"


def test_read_projector_header_and_numbers(tmp_path: Path) -> None:
    dataset = read_projector(
        b"1\t2\n3\t4\n", b"word\tcount\tcolour\nfirst\t10\tred\nsecond\t\tblue\n",
        vectors_name="v.tsv", metadata_name="m.tsv",
    )
    assert list(dataset.metadata.columns) == ["word", "count", "colour"]
    assert dataset.texts == ["first", "second"] and dataset.text_column == "word"
    assert list(dataset.metadata["count"]) == ["10", ""]  # not every value is a number: kept as text
    numbers = read_projector(b"1\t2\n3\t4\n", b"w\tn\na\t1\nb\t2.5\n", vectors_name="v.tsv", metadata_name="m.tsv")
    assert list(numbers.metadata["n"]) == [1.0, 2.5]


def test_read_projector_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "v.npy"
    np.save(path, np.ones((4, 3), dtype=np.float32))
    dataset = read_projector(path)
    assert dataset.texts is None and dataset.text_column is None
    assert len(dataset) == 4 and dataset.metadata.shape == (4, 0)


def test_read_projector_count_mismatch_names_both_files(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.tsv"
    vectors.write_text("1\t2\n3\t4\n5\t6\n")
    metadata = tmp_path / "metadata.tsv"
    metadata.write_text("a\nb\n")
    raises(["vectors.tsv", "3 vectors", "metadata.tsv", "2 metadata rows"], read_projector, vectors, metadata)
    metadata.write_text("w\tn\na\t1\nb\t2\n")
    raises(["3 vectors", "2 metadata rows", "header not counted"], read_projector, vectors, metadata)
    metadata.write_text("")
    raises(["metadata.tsv", "empty"], read_projector, vectors, metadata)


# ------------------------------------------------------------------ large vectors files, in blocks


def whole_file_read(path: Path, monkeypatch) -> str | list:
    """The vectors TSV read as one block, line by line: the reference for the block reader."""
    from embeddings import data as data_module

    with monkeypatch.context() as patch:
        patch.setattr(data_module, "TSV_BLOCK_BYTES", 1 << 24)
        patch.setattr(data_module, "_fast_tsv_block", lambda block, width: None)
        return outcome(read_vectors, path)


def outcome(func, *args, **kwargs):
    try:
        return func(*args, **kwargs).tolist()
    except InputError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "content",
    [
        b"1\t2.5\n-3e-2\t4\n" * 40,
        b"\xef\xbb\xbf" + b"1\t2\r\n3\t4\r\n" * 30 + b"\r\n\r\n  \n",
        b"1\t2\r" * 50,  # lone CR line endings
        b"1\t2\n" * 30 + b"\n" * 90 + b"5\t6\n",  # a long run of blank lines inside
        b"1\t2\n" * 30 + b"\n \n\t\n" * 20,  # only blank lines at the end
        b"1\t2\n" * 30 + b"3\t4\t5\n" + b"1\t2\n" * 30 + b"x\t1\n",  # ragged before not-a-number
        b"1\t2\n" * 30 + b"x\t1\n" + b"1\t2\n" * 30 + b"3\t4\t5\n",  # ragged wins, though later
        b"1\t2\n" * 30 + b"inf\t1\n" + b"1\t2\n" * 30 + b"y\t1\n",  # not-a-number wins over inf
        b"1\t2\n" * 30 + b"nan\t1\n" + b"1\t2\n" * 30 + b"3\tinf\n",  # the first non-finite value
        b"1\t2\n" * 30 + b"x\t1\n" + b"1\t2\n" * 30 + b"\xff\t1\n",  # UTF-8 trouble wins over all
        b"1\t2\n" * 30 + b'"3"\t4\n',  # quotes are not numbers
        b"1\t2\n" * 30 + b"1_000\t4\n",  # Python's float() takes this; so do we, as before
        b"1\t2\n" * 30 + b"1\t2\t\n",  # a trailing tab is an empty cell
        b" 1\t2 \n" * 40,  # spaces around numbers
        b"1e39\t2\n" * 3,
    ],
)
def test_vectors_tsv_blocks_read_like_the_whole_file(tmp_path: Path, monkeypatch, content: bytes) -> None:
    from embeddings import data as data_module

    path = tmp_path / "vectors.tsv"
    path.write_bytes(content)
    want = whole_file_read(path, monkeypatch)
    for block in (7, 16, 64, 1 << 20):
        monkeypatch.setattr(data_module, "TSV_BLOCK_BYTES", block)
        assert outcome(read_vectors, path) == want, block
        uploaded = outcome(read_vectors, content, filename=str(path))  # the app's upload path
        assert uploaded == want, block


def test_vectors_tsv_fast_path_values_are_the_exact_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    array = (rng.normal(size=(3000, 17)) * 10.0 ** rng.integers(-8, 8, size=(3000, 17))).astype(np.float32)
    from embeddings.projector import write_projector

    write_projector(tmp_path, array, None)
    back = read_vectors(tmp_path / "vectors.tsv")
    assert back.dtype == np.float32 and back.flags.c_contiguous
    np.testing.assert_array_equal(back, array)


def test_npy_blocks_float64_and_truncated(tmp_path: Path, monkeypatch) -> None:
    from embeddings import data as data_module

    monkeypatch.setattr(data_module, "NPY_BLOCK_ROWS", 7)
    path = tmp_path / "v.npy"
    array = np.random.default_rng(2).normal(size=(50, 3))
    np.save(path, array)
    np.testing.assert_array_equal(read_vectors(path), array.astype(np.float32))
    np.save(path, array.astype(np.float32))
    np.testing.assert_array_equal(read_vectors(path), array.astype(np.float32))
    np.save(path, np.asfortranarray(array))
    np.testing.assert_array_equal(read_vectors(path), array.astype(np.float32))
    array[40, 2] = np.nan
    np.save(path, array)
    raises(["v.npy", "row 41", "column 3", "not finite"], read_vectors, path)
    path.write_bytes(path.read_bytes()[:-30])
    raises(["v.npy", "ends early", "50 x 3"], read_vectors, path)
