"""Backends: the converted model gives torch's vectors, is built once and atomically, and every
reason not to use it falls back to torch with one line.

The tiny BERT and GPT-2 of conftest convert in seconds; the bundled model's conversion and
speed are measured in the benchmark (section ``backends``), not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.backends import BACKENDS, Backend, choose_backend
from embeddings.backends import convert as converting
from embeddings.backends.converted import CHECK_FILES, GRAPH_FILES, INT8_KIND, model_folder, models_root
from embeddings.errors import InputError
from embeddings.models import ModelSpec, fingerprint, load_model

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "The cat sat on the mat.",
    "A much longer sentence about the weather, which was cold and wet all week in the hills.",
    "short",
    "",
    "  spaces around  ",
    " ".join(["words words words"] * 40),  # past the tiny models' 48/64-token windows
]


@pytest.fixture(autouse=True)
def own_models_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test converts into its own folder (conftest may share one across the session)."""
    folder = tmp_path / "models"
    monkeypatch.setenv("EMBEDDINGS_MODELS", str(folder))
    monkeypatch.delenv("EMBEDDINGS_BACKEND", raising=False)  # conftest pins auto to torch elsewhere
    import embeddings.backends as backends

    monkeypatch.setattr(backends, "_memo", {})
    return folder


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)  # GPT-2 has no specials: an empty text is no tokens, a zero vector
    return np.where(both_zero, 1.0, (a * b).sum(1) / np.maximum(na * nb, 1e-30))


@pytest.mark.parametrize("name", ["onnx", "openvino"])
def test_converted_bert_gives_the_torch_vectors(tiny_bert_dir: Path, name: str) -> None:
    spec = ModelSpec.parse(str(tiny_bert_dir))
    backend = choose_backend(spec, name)
    assert (backend.name, backend.precision, backend.note) == (name, "fp32", "")
    torch_vectors = load_model(spec).st.encode(TEXTS, batch_size=4)
    ours = backend.encode(TEXTS, 4)
    assert ours.shape == torch_vectors.shape
    assert _cosines(ours, torch_vectors).min() >= 0.9999
    np.testing.assert_allclose(ours, torch_vectors, atol=1e-4)


def test_layers_come_from_the_same_graph(tiny_bert_dir: Path) -> None:
    from embeddings.encode import pooled_layers

    spec = ModelSpec.parse(str(tiny_bert_dir))
    backend = choose_backend(spec, "onnx")
    torch_layers = pooled_layers(load_model(spec), TEXTS, 4)
    ours = backend.pooled_layers(TEXTS, 4, range(len(torch_layers)))
    assert len(ours) == 3  # layers 0 (embeddings), 1, 2
    for mine, theirs in zip(ours, torch_layers):
        assert _cosines(mine, theirs).min() >= 0.9999


def test_built_once_atomically_and_reused_without_torch(tiny_bert_dir: Path, own_models_folder: Path) -> None:
    spec = ModelSpec.parse(str(tiny_bert_dir))
    backend = choose_backend(spec, "onnx")
    folder = backend.model.folder
    assert folder == model_folder(fingerprint(spec))
    assert folder.parent == own_models_folder
    check = json.loads((folder / CHECK_FILES["fp32"]).read_text())
    assert check["runtimes"]["onnx"]["ok"] and check["runtimes"]["onnx"]["min_cosine"] >= 0.9999
    assert [p.name for p in own_models_folder.iterdir()] == [folder.name]  # no temporary leftovers
    stamp = (folder / GRAPH_FILES["fp32"]).stat().st_mtime_ns
    # A new process finds the folder: no conversion, no torch, the same vectors.
    code = (
        "import sys, json; from embeddings.backends import choose_backend; from embeddings.models import ModelSpec\n"
        f"b = choose_backend(ModelSpec.parse({str(tiny_bert_dir)!r}), 'onnx')\n"
        f"v = b.encode({TEXTS!r}, 4)\n"
        "print(json.dumps({'name': b.name, 'torch': 'torch' in sys.modules, 'v': v.tolist()}))"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["name"] == "onnx" and result["torch"] is False
    np.testing.assert_allclose(np.asarray(result["v"]), backend.encode(TEXTS, 4), atol=1e-6)
    assert (folder / GRAPH_FILES["fp32"]).stat().st_mtime_ns == stamp


def test_a_crash_leaves_no_half_model_and_is_remembered(tiny_bert_dir: Path, own_models_folder: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec.parse(str(tiny_bert_dir))
    calls = []

    def broken_check(lm, model):
        calls.append(1)
        assert (model.folder / GRAPH_FILES["fp32"]).is_file()  # the graph was written, then...
        raise RuntimeError("simulated crash during the check\nsecond line")

    monkeypatch.setattr(converting, "_check_fp32", broken_check)
    backend = choose_backend(spec, "auto")
    assert backend.name == "torch"
    assert backend.note == f"auto: {spec.name} does not convert (simulated crash during the check); using torch"
    assert "\n" not in backend.note
    leftovers = [p.name for p in own_models_folder.iterdir()]
    assert leftovers == [model_folder(fingerprint(spec)).name + ".failed.json"]
    import embeddings.backends as backends

    backends._memo.clear()
    assert choose_backend(spec, "onnx").name == "torch"
    assert calls == [1]  # the failure was remembered: not converted again


def test_a_model_with_a_dense_module_stays_on_torch(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(tiny_bert_dir))
    pooling = models.Pooling(transformer.get_word_embedding_dimension())
    dense = models.Dense(pooling.get_sentence_embedding_dimension(), 8)
    folder = tmp_path / "with-dense"
    SentenceTransformer(modules=[transformer, pooling, dense], device="cpu").save(str(folder))
    backend = choose_backend(ModelSpec.parse(str(folder)), "onnx")
    assert backend.name == "torch"
    assert backend.note == "onnx: with-dense does not convert (module Dense runs only in torch); using torch"


def test_gpt2_converts_or_says_why(tiny_gpt2_dir: Path) -> None:
    spec = ModelSpec.parse(str(tiny_gpt2_dir))
    backend = choose_backend(spec, "onnx")
    torch_vectors = load_model(spec).st.encode(TEXTS, batch_size=4)
    if backend.name == "torch":
        assert backend.note.startswith("onnx: ") and "\n" not in backend.note
    else:
        assert _cosines(backend.encode(TEXTS, 4), torch_vectors).min() >= 0.9999


def test_missing_runtime_static_and_gpu_fall_back_with_a_note(tiny_bert_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import embeddings.backends as backends

    spec = ModelSpec.parse(str(tiny_bert_dir))
    monkeypatch.setattr(backends, "installed", lambda name: False)
    assert choose_backend(spec, "auto").note == "auto: the onnx and openvino runtime is not installed; using torch"
    monkeypatch.setattr(backends, "installed", lambda name: name == "openvino")
    assert choose_backend(spec, "onnx").note == "onnx: the onnx runtime is not installed; using torch"
    static = choose_backend(ModelSpec.parse(f"{tiny_bert_dir}@static"), "auto")
    assert (static.name, static.note) == ("torch", "")
    assert "no transformer pass" in choose_backend(ModelSpec.parse(f"{tiny_bert_dir}@static"), "onnx").note
    assert choose_backend(spec, "onnx", device="cuda").note.startswith("onnx: the converted model runs on the CPU")
    assert not list(models_root().glob("*"))  # none of these converted anything


def test_auto_can_be_pinned(tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec.parse(str(tiny_bert_dir))
    monkeypatch.setenv("EMBEDDINGS_BACKEND", "torch")
    assert choose_backend(spec, "auto").name == "torch"
    assert not list(models_root().glob("*"))  # pinned to torch: nothing converted
    assert choose_backend(spec, "auto", "int8").name == "onnx"  # int8 exists only on onnx


def test_bad_choices_are_one_line_errors(tiny_bert_dir: Path) -> None:
    spec = ModelSpec.parse(str(tiny_bert_dir))
    with pytest.raises(InputError, match="backend must be one of auto, torch, onnx, openvino, not 'tensorrt'"):
        choose_backend(spec, "tensorrt")
    with pytest.raises(InputError, match="quantize must be one of none, int8, not 'int4'"):
        choose_backend(spec, "auto", "int4")
    with pytest.raises(InputError, match="int8 quantisation runs on the onnx backend"):
        choose_backend(spec, "torch", "int8")
    assert BACKENDS[0] == "auto"


def test_int8_is_its_own_graph_close_but_apart(tiny_bert_dir: Path) -> None:
    spec = ModelSpec.parse(str(tiny_bert_dir))
    exact = choose_backend(spec, "onnx")
    int8 = choose_backend(spec, "auto", "int8")
    assert (int8.name, int8.precision, int8.cache_suffix, exact.cache_suffix) == ("onnx", "int8", f":int8-{INT8_KIND}", "")
    assert (int8.model.folder / GRAPH_FILES["int8"]).stat().st_size < (exact.model.folder / GRAPH_FILES["fp32"]).stat().st_size
    check = int8.model.check("int8")["runtimes"]["onnx"]
    assert check["ok"] and 0.95 <= check["min_cosine"] < 1.0
    ours, reference = int8.encode(TEXTS, 4), exact.encode(TEXTS, 4)
    assert _cosines(ours, reference).mean() > 0.9  # close...
    assert not np.allclose(ours, reference, atol=1e-5)  # ...but not the exact vectors
    assert isinstance(int8, Backend) and not int8.exact


def test_the_cache_never_mixes_int8_with_exact_vectors(tiny_bert_dir: Path, isolated_cache: Path) -> None:
    from embeddings.cache import VectorCache
    from embeddings.encode import encode_texts

    exact = encode_texts(TEXTS, str(tiny_bert_dir), backend="onnx")
    int8 = encode_texts(TEXTS, str(tiny_bert_dir), quantize="int8")
    assert (exact.backend, int8.backend, int8.cached) == ("onnx", "onnx int8", 0)  # int8 found no exact entry
    assert not np.allclose(exact.vectors, int8.vectors, atol=1e-6)
    again = encode_texts(TEXTS, str(tiny_bert_dir), backend="torch")  # the exact backends share one entry
    assert again.cached == len(TEXTS) and again.backend == ""
    np.testing.assert_array_equal(again.vectors, exact.vectors)
    np.testing.assert_array_equal(encode_texts(TEXTS, str(tiny_bert_dir), quantize="int8").vectors, int8.vectors)
    kinds = {row[0] for row in VectorCache(isolated_cache)._connect().execute("SELECT DISTINCT kind FROM vectors")}
    assert kinds == {"text", f"text:int8-{INT8_KIND}"}  # the int8 recipe is in the key: another recipe's vectors never mix in


def test_cli_encode_takes_backend_and_quantize(tiny_bert_dir: Path, tmp_path: Path, capsys) -> None:
    from embeddings.cli import main

    data = tmp_path / "texts.csv"
    data.write_text("text\n" + "\n".join(f'"{t}"' for t in TEXTS if t.strip()) + "\n", encoding="utf-8")
    outs = {}
    for backend in ("torch", "onnx", "openvino"):
        outs[backend] = tmp_path / f"{backend}.npy"
        assert main(["encode", str(data), "--model", str(tiny_bert_dir), "--backend", backend, "--no-cache",
                     "--out", str(outs[backend]), "-q"]) == 0
    torch_vectors = np.load(outs["torch"])
    for backend in ("onnx", "openvino"):
        assert _cosines(np.load(outs[backend]), torch_vectors).min() >= 0.9999
    assert main(["encode", str(data), "--backend", "torch", "--quantize", "int8", "--out", str(tmp_path / "x.npy")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: int8 quantisation runs on the onnx backend (or auto), not on torch")
    assert not (tmp_path / "x.npy").exists()


def test_a_large_input_is_ordered_by_tokens_and_keeps_each_texts_vector(tiny_bert_dir: Path) -> None:
    """Past one chunk, the converted path sorts by token count (less padding than by characters);
    every text still gets its own torch vector, in input order."""
    from embeddings.encode import _fill_missing, encode_texts

    spec = ModelSpec.parse(str(tiny_bert_dir))
    model = choose_backend(spec, "onnx").model
    # Characters and tokens disagree: ". " is a token per two characters, a word of characters the
    # tiny vocabulary lacks is one [UNK] however long.
    texts = [f"{'. ' * (i % 7)}{'ʘ' * (12 * (i % 3))} {i}" for i in range(40)]
    counts = dict(zip(texts, model.token_counts(texts)))
    seen: list[str] = []

    def compute(chunk: list[str]) -> list[tuple[np.ndarray, None]]:
        seen.extend(chunk)
        return [(np.zeros(1), None)] * len(chunk)

    _fill_missing(texts, {}, 8, compute, None, "", "text", None, None, model.token_counts)
    assert sorted(seen) == sorted(texts)
    assert [counts[t] for t in seen] == sorted(counts.values(), reverse=True)
    assert seen != sorted(texts, key=lambda t: -len(t))  # not what a sort by characters gives

    def padded(order: list[str]) -> int:
        return sum(feed["attention_mask"].size for start in range(0, len(order), 8)
                   for _, feed in model.tokens.batches(order[start : start + 8], 4))

    assert padded(seen) < padded(sorted(texts, key=lambda t: -len(t)))
    ours = encode_texts(texts, str(tiny_bert_dir), backend="onnx", batch_size=2, cache=False)
    assert ours.backend == "onnx"
    torch_vectors = load_model(spec).st.encode(texts, batch_size=4)
    assert _cosines(ours.vectors, torch_vectors).min() >= 0.9999
