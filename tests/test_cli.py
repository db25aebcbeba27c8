"""The command line, run as a user runs it: a subprocess, its exit status, stderr and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.projector import parse_projector

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "sample_data" / "sentences.csv"
AWKWARD = REPO / "sample_data" / "awkward.csv"


def run_cli(*args: str, env_extra: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "embeddings", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture()
def small_csv(tmp_path: Path) -> Path:
    frame = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False).groupby("topic").head(4)
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- happy paths


def test_encode_writes_npy_matching_the_library(small_csv: Path, tmp_path: Path) -> None:
    from embeddings.encode import encode_texts

    out = tmp_path / "vectors.npy"
    result = run_cli("encode", small_csv, "--out", out)
    assert result.returncode == 0, result.stderr
    vectors = np.load(out, allow_pickle=False)
    texts = pd.read_csv(small_csv, dtype=str, keep_default_na=False)["text"].tolist()
    assert vectors.shape == (len(texts), 384)
    expected = encode_texts(texts, cache=False).vectors
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert not list(tmp_path.glob(".*.part")), "temporary files left behind"


def test_encode_token_level_writes_rows(tmp_path: Path, tiny_bert_dir: Path) -> None:
    data = tmp_path / "t.txt"
    data.write_text("hello world\nthe cat sat\n", encoding="utf-8")
    out = tmp_path / "tok.npy"
    result = run_cli("encode", data, "--out", out, "--model", tiny_bert_dir, "--level", "token", "--layer", "1")
    assert result.returncode == 0, result.stderr
    vectors = np.load(out)
    rows = pd.read_csv(tmp_path / "tok.tokens.csv", keep_default_na=False)
    assert len(rows) == len(vectors) > 4
    assert set(rows["text_index"]) == {0, 1}
    assert set(rows["text"]) == {"hello world", "the cat sat"}


def test_tokens_json_offsets_point_into_the_text() -> None:
    text = "Tokenizers split unbelievable words"
    result = run_cli("tokens", text, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    tokens = payload["tokens"]
    assert tokens[0]["token"] == "[CLS]" and tokens[0]["special"]
    pieces = [t for t in tokens if not t["special"]]
    assert "".join(text[t["start"]:t["end"]] for t in pieces).lower() == text.replace(" ", "").lower()


def test_project_pca_csv_has_every_row(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "coords.csv"
    result = run_cli("project", small_csv, "--method", "pca", "--dims", "3", "--out", out)
    assert result.returncode == 0, result.stderr
    coords = pd.read_csv(out, keep_default_na=False)
    source = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    assert list(coords["row"]) == list(range(len(source)))
    assert {"x", "y", "z", "text", "topic"} <= set(coords.columns)
    assert list(coords["text"]) == list(source["text"])
    assert "variance explained" in result.stderr


def test_export_round_trips_awkward_text_row_for_row(tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = run_cli("export", AWKWARD, "--out", out)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "projector_config.json").read_text(encoding="utf-8"))
    tensor = config["embeddings"][0]
    assert tensor["tensorPath"] == "vectors.tsv" and tensor["metadataPath"] == "metadata.tsv"
    vectors, header, rows = parse_projector(
        (out / "vectors.tsv").read_text(encoding="utf-8"), (out / "metadata.tsv").read_text(encoding="utf-8")
    )
    source = pd.read_csv(AWKWARD, dtype=str, keep_default_na=False)
    assert tensor["tensorShape"] == [len(source), 384]
    assert vectors.shape == (len(source), 384)
    assert header == list(source.columns)
    text_at = header.index("text")
    for row, original in zip(rows, source["text"]):
        assert " ".join(row[text_at].split()) == " ".join(original.split())


def test_export_with_base_url_writes_absolute_paths(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "pub"
    result = run_cli("export", small_csv, "--out", out, "--base-url", "https://example.org/data/")
    assert result.returncode == 0, result.stderr
    tensor = json.loads((out / "projector_config.json").read_text())["embeddings"][0]
    assert tensor["tensorPath"] == "https://example.org/data/vectors.tsv"
    assert tensor["metadataPath"] == "https://example.org/data/metadata.tsv"


def test_project_reads_precomputed_npy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    npy = tmp_path / "v.npy"
    np.save(npy, rng.normal(size=(50, 8)).astype(np.float32))
    out = tmp_path / "c.csv"
    result = run_cli("project", npy, "--method", "pca", "--out", out)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(out)) == 50


def test_compare_model_against_itself_and_a_variant(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_cli(
        "compare", small_csv, "--model", "all-MiniLM-L6-v2", "--model", "sentence-transformers/all-MiniLM-L6-v2",
        "--model", "all-MiniLM-L6-v2@static", "--k", "5", "--out", out,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    pairs = {(p["a"], p["b"]): p for p in report["pairs"]}
    same = pairs[("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")]
    assert same["mean_knn_overlap"] == pytest.approx(1.0)
    assert same["cka"] == pytest.approx(1.0, abs=1e-6)
    other = pairs[("all-MiniLM-L6-v2", "all-MiniLM-L6-v2@static")]
    assert 0.0 < other["mean_knn_overlap"] < 1.0
    assert 0.0 < other["cka"] < 1.0
    assert len(other["overlap"]) == len(pd.read_csv(small_csv))


# ---------------------------------------------------------------- error paths


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = run_cli("encode", missing, "--out", tmp_path / "x.npy")
    assert_one_line_error(result, "nope.csv")
    assert not (tmp_path / "x.npy").exists()


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_one_line_error(run_cli("encode", empty, "--out", tmp_path / "x.npy"), "empty.csv")


def test_missing_column(small_csv: Path, tmp_path: Path) -> None:
    result = run_cli("encode", small_csv, "--out", tmp_path / "x.npy", "--text-column", "body")
    assert_one_line_error(result, "body", small_csv.name)


def test_binary_bytes_are_not_text(tmp_path: Path) -> None:
    blob = tmp_path / "blob.txt"
    blob.write_bytes(b"fine line\n\xff\xfe\x00\x81 broken\n")
    assert_one_line_error(run_cli("encode", blob, "--out", tmp_path / "x.npy"), "blob.txt")


@pytest.mark.parametrize(
    "content, needle",
    [
        ("1\t2\t3\n4\t5\n", "row 2"),
        ("1\t2\n3\tabc\n", "row 2"),
        ("1\t2\nnan\t4\n", "row 2"),
    ],
    ids=["ragged", "non-numeric", "non-finite"],
)
def test_bad_vector_rows(tmp_path: Path, content: str, needle: str) -> None:
    vectors = tmp_path / "vectors.tsv"
    vectors.write_text(content)
    result = run_cli("export", vectors, "--out", tmp_path / "out")
    assert_one_line_error(result, "vectors.tsv", needle)
    assert not (tmp_path / "out" / "vectors.tsv").exists()


def test_vectors_and_metadata_of_different_lengths(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.tsv"
    vectors.write_text("1\t2\n3\t4\n5\t6\n")
    metadata = tmp_path / "metadata.tsv"
    metadata.write_text("a\nb\n")
    result = run_cli("export", vectors, "--metadata", metadata, "--out", tmp_path / "out")
    assert_one_line_error(result, "metadata.tsv")


def test_unknown_model_fails_fast(small_csv: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_cli("encode", small_csv, "--out", tmp_path / "x.npy", "--model", "no-such-org/no-such-model-xyz",
                     "--no-cache")
    elapsed = time.monotonic() - started
    assert_one_line_error(result, "no-such-org/no-such-model-xyz")
    # Not minutes of hub retries. ~5 CPU seconds of imports: ~20 s at a 1-minute load of 13 on
    # the shared 2 cores, so the bound leaves room for a suite running beside this one.
    assert elapsed < 180
    assert not (tmp_path / "x.npy").exists()


def test_missing_model_folder(small_csv: Path, tmp_path: Path) -> None:
    result = run_cli("encode", small_csv, "--out", tmp_path / "x.npy", "--model", str(tmp_path / "no_model_here"))
    assert_one_line_error(result, "no_model_here")


def test_usage_mistake_is_one_line(tmp_path: Path) -> None:
    result = run_cli("project", "data.csv", "--method", "isomap", "--out", tmp_path / "c.csv")
    assert_one_line_error(result, "isomap")


def test_wrong_output_suffix(small_csv: Path, tmp_path: Path) -> None:
    assert_one_line_error(run_cli("encode", small_csv, "--out", tmp_path / "x.txt"), ".npy")
