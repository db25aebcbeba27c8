"""Projector configs in: projector_config.json, TensorBoard's projector_config.pbtxt, .bytes tensors,
bookmarks; every bad input is one line naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.errors import InputError
from embeddings.pipeline import load_input
from embeddings.projector_config import parse_pbtxt, read_projector_config

ROOT = Path(__file__).resolve().parent.parent


def demo_layout(folder: Path, n: int = 6, d: int = 4, seed: int = 0) -> np.ndarray:
    """The projector's demo layout: a .bytes tensor, a one-column labels TSV, a JSON config."""
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.random.default_rng(seed).standard_normal((n, d)).astype("<f4")
    (folder / "iris_tensors.bytes").write_bytes(vectors.tobytes())
    (folder / "iris_labels.tsv").write_text("".join(f"label {i}\n" for i in range(n)), encoding="utf-8")
    config = {"embeddings": [{"tensorName": "Iris", "tensorShape": [n, d], "tensorPath": "iris_tensors.bytes",
                              "metadataPath": "iris_labels.tsv"}], "modelCheckpointPath": "Demo datasets"}
    (folder / "projector_config.json").write_text(json.dumps(config), encoding="utf-8")
    return vectors


def write_config(folder: Path, embeddings: list[dict]) -> Path:
    path = folder / "projector_config.json"
    path.write_text(json.dumps({"embeddings": embeddings}), encoding="utf-8")
    return path


def raises(parts: list[str], fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


def test_demo_layout_reads_bytes_and_labels(tmp_path: Path) -> None:
    vectors = demo_layout(tmp_path)
    dataset = load_input(tmp_path / "projector_config.json")
    assert np.array_equal(dataset.vectors, vectors)
    assert dataset.texts == [f"label {i}" for i in range(6)]
    assert list(dataset.metadata.columns) == ["label"]
    assert dataset.bookmarks == ()
    # The folder opens the same way.
    assert np.array_equal(load_input(tmp_path).vectors, vectors)


def test_several_tensors_pick_by_name(tmp_path: Path) -> None:
    a = np.arange(8, dtype="<f4").reshape(4, 2)
    b = np.arange(12, dtype="<f4").reshape(4, 3) * 2
    a.tofile(tmp_path / "a.bytes")
    (tmp_path / "b.tsv").write_text("\n".join("\t".join(str(v) for v in row) for row in b) + "\n")
    path = write_config(tmp_path, [{"tensorName": "A", "tensorShape": [4, 2], "tensorPath": "a.bytes"},
                                   {"tensorName": "B", "tensorPath": "b.tsv"}])
    assert np.array_equal(load_input(path).vectors, a)  # the first by default
    assert np.array_equal(load_input(path, tensor="B").vectors, b)
    raises(["projector_config.json", "no tensor 'C'", "'A', 'B'"], load_input, path, tensor="C")


def test_pbtxt_log_folder(tmp_path: Path) -> None:
    vectors = np.random.default_rng(1).standard_normal((5, 3)).astype("<f4")
    run = tmp_path / "run1"
    run.mkdir()
    vectors.tofile(run / "tensor.bytes")
    (run / "meta.tsv").write_text("word\tcount\nw0\t1\nw1\t2\nw2\t3\nw3\t4\nw4\t5\n", encoding="utf-8")
    (run / "projector_config.pbtxt").write_text(
        '# written by hand\nembeddings {\n  tensor_name: "words:0"\n  tensor_path: "tensor.bytes"\n'
        "  metadata_path: 'meta.tsv'\n  tensor_shape: 5\n  tensor_shape: 3\n}\n"
        'embeddings < tensor_name: "ckpt" >\n', encoding="utf-8")
    dataset = load_input(tmp_path)  # the log folder; its run folder holds the config
    assert np.array_equal(dataset.vectors, vectors)
    assert dataset.texts == [f"w{i}" for i in range(5)]
    assert dataset.metadata["count"].tolist() == [1, 2, 3, 4, 5]
    assert np.array_equal(load_input(tmp_path, tensor="words").vectors, vectors)  # ":0" dropped, as TensorBoard does
    raises(["projector_config.pbtxt", "'ckpt'", "checkpoint tensors are not supported"],
           load_input, tmp_path, tensor="ckpt")
    # A second run: names carry their run folder.
    other = tmp_path / "run2"
    other.mkdir()
    (other / "v.tsv").write_text("1\t2\n3\t4\n", encoding="utf-8")
    (other / "projector_config.pbtxt").write_text('embeddings { tensor_name: "words" tensor_path: "v.tsv" }')
    assert load_input(tmp_path, tensor="run2/words").vectors.tolist() == [[1, 2], [3, 4]]
    raises(["no tensor 'words'", "'run1/words', 'run1/ckpt', 'run2/words'"], load_input, tmp_path, tensor="words")


def test_pbtxt_parser_reads_the_text_format() -> None:
    message = parse_pbtxt('a: 1 b: "x\\ty" "z" c { d: [1, 2] e: true } c: < d: 3 >; f: 1.5e2 # comment\n', "t")
    assert message == {"a": [1], "b": ["x\tyz"], "c": [{"d": [1, 2], "e": [True]}, {"d": [3]}], "f": [150.0]}
    assert parse_pbtxt('s: "\\303\\251t\\xc3\\xa9"', "t") == {"s": ["été"]}
    raises(["t: line 2", "expected ':'"], parse_pbtxt, "a: 1\nb 2", "t")
    raises(["t:", "not closed"], parse_pbtxt, "a {\n b: 1", "t")


@pytest.mark.parametrize(
    ("entry", "files", "parts"),
    [
        ({"tensorName": "T", "tensorShape": [3, 2], "tensorPath": "t.bytes"}, {"t.bytes": b"\0" * 20},
         ["t.bytes", "20 bytes", "[3, 2]", "24 bytes", "truncated"]),
        ({"tensorName": "T", "tensorShape": [3, 2], "tensorPath": "t.bytes"}, {"t.bytes": b"\0" * 22},
         ["t.bytes", "not a whole number of float32"]),
        ({"tensorName": "T", "tensorPath": "t.bytes"}, {"t.bytes": b"\0" * 24},
         ["projector_config.json", "'T'", ".bytes tensor needs tensorShape"]),
        ({"tensorName": "T", "tensorShape": [3, 2], "tensorPath": "missing.bytes"}, {},
         ["projector_config.json", "'T'", "missing.bytes", "no such file"]),
        ({"tensorName": "T", "tensorShape": [2, 2], "tensorPath": "v.tsv"}, {"v.tsv": b"1\t2\n3\t4\n5\t6\n"},
         ["v.tsv", "3 x 2 vectors", "tensorShape", "[2, 2]"]),
        ({"tensorName": "T", "tensorShape": [2], "tensorPath": "v.tsv"}, {"v.tsv": b"1\t2\n"},
         ["projector_config.json", "tensorShape must be [points, dimensions]"]),
        ({"tensorName": "T", "tensorPath": "v.tsv", "metadataPath": "https://example.com/m.tsv"},
         {"v.tsv": b"1\t2\n"}, ["'T'", "metadataPath is a URL", "nothing is fetched", "as m.tsv"]),
        ({"tensorName": "T", "tensorPath": "v.tsv", "metadataPath": "m.tsv"},
         {"v.tsv": b"1\t2\n3\t4\n", "m.tsv": b"a\n"}, ["2 vectors", "m.tsv", "1 metadata rows"]),
        ({"tensorName": "T"}, {}, ["'T'", "checkpoint tensors are not supported"]),
    ],
    ids=["truncated", "ragged", "no-shape", "missing", "wrong-shape", "bad-shape", "url", "metadata-rows",
         "checkpoint"],
)
def test_bad_configs_say_one_line(tmp_path: Path, entry: dict, files: dict, parts: list[str]) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    raises(parts, load_input, write_config(tmp_path, [entry]))


def test_published_demo_config_reads_the_files_beside_it(tmp_path: Path) -> None:
    """The projector's demo configs name their files by URL; downloaded beside the config, they open."""
    vectors = demo_layout(tmp_path)
    config = json.loads((tmp_path / "projector_config.json").read_text())
    base = "https://storage.googleapis.com/embedding-projector/data/"
    config["embeddings"][0].update(tensorPath=base + "iris_tensors.bytes", metadataPath=base + "iris_labels.tsv")
    (tmp_path / "oss_demo_projector_config.json").write_text(json.dumps(config))
    dataset = load_input(tmp_path / "oss_demo_projector_config.json")
    assert np.array_equal(dataset.vectors, vectors) and dataset.texts[0] == "label 0"


def test_bad_config_files(tmp_path: Path) -> None:
    (tmp_path / "projector_config.json").write_text("{nope", encoding="utf-8")
    raises(["projector_config.json", "not valid JSON", "line 1"], load_input, tmp_path / "projector_config.json")
    (tmp_path / "projector_config.json").write_text('{"embeddings": []}', encoding="utf-8")
    raises(["projector_config.json", "lists no embeddings"], load_input, tmp_path)
    (tmp_path / "other.json").write_text('[1]', encoding="utf-8")
    raises(["other.json", "not a projector config"], load_input, tmp_path / "other.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    raises(["empty", "holds no", "projector_config.pbtxt"], load_input, empty)
    raises(["tensor is picked", "projector config"], load_input, ROOT / "sample_data" / "sentences.csv", tensor="x")


def test_cli_reads_a_config_and_names_unknown_tensors(tmp_path: Path) -> None:
    vectors = demo_layout(tmp_path / "demo")
    out = tmp_path / "coords.csv"
    run = [sys.executable, "-m", "embeddings", "project", str(tmp_path / "demo" / "projector_config.json"),
           "--out", str(out), "-q"]
    result = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    import pandas as pd

    table = pd.read_csv(out)
    assert table["label"].tolist() == [f"label {i}" for i in range(len(vectors))]
    result = subprocess.run(run + ["--tensor", "Nope"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'demo' / 'projector_config.json'}: no tensor 'Nope'; its tensors: 'Iris'"]
    assert not out.with_name("coords.csv.part").exists()


def test_read_projector_config_source_names_the_tensor(tmp_path: Path) -> None:
    demo_layout(tmp_path)
    assert read_projector_config(tmp_path / "projector_config.json").source == "projector_config.json [Iris]"


def test_the_projectors_own_demo_config_opens(tmp_path: Path) -> None:
    """oss_data/oss_demo_projector_config.json names oss_data/iris_tensors.bytes, relative to the site's root:
    not found beside the config (oss_data/oss_data/...), it is found one folder up, as the projector finds it."""
    from projector_demo import IRIS_COLUMNS, iris, projector_demo_site

    config = projector_demo_site(tmp_path / "site")
    vectors, classes = iris()
    dataset = load_input(config, tensor="Iris")
    assert np.array_equal(dataset.vectors, vectors)
    assert list(dataset.metadata.columns) == IRIS_COLUMNS
    assert dataset.metadata["class"].tolist() == classes  # the blank line at the end is no 151st row
    assert dataset.metadata["sepal-width"].tolist()[:3] == [3.5, 3.0, 3.2]
    assert dataset.source == "oss_demo_projector_config.json [Iris]"
    # The first tensor's files were not downloaded: one line with every path tried, in order.
    site = tmp_path / "site"
    message = raises(["oss_demo_projector_config.json", "'Word2Vec 10K'",
                      "tensorPath oss_data/word2vec_10000_200d_tensors.bytes: no such file"], load_input, config)
    tried = message.split("(tried ", 1)[1].rstrip(")").split(", ")
    assert tried[:2] == [str(site / "oss_data" / "oss_data" / "word2vec_10000_200d_tensors.bytes"),
                         str(site / "oss_data" / "word2vec_10000_200d_tensors.bytes")]
    assert len(tried) == 4  # the config's folder and the three folders above it


def test_a_file_beside_the_config_wins_over_one_above(tmp_path: Path) -> None:
    near = np.arange(4, dtype="<f4").reshape(2, 2)
    far = near + 10
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "v.bytes").write_bytes(far.tobytes())  # site-root relative
    (tmp_path / "data" / "data").mkdir()
    (tmp_path / "data" / "data" / "v.bytes").write_bytes(near.tobytes())  # config-relative
    path = write_config(tmp_path / "data", [{"tensorName": "T", "tensorShape": [2, 2], "tensorPath": "data/v.bytes"}])
    assert np.array_equal(load_input(path).vectors, near)
    (tmp_path / "data" / "data" / "v.bytes").unlink()
    assert np.array_equal(load_input(path).vectors, far)
