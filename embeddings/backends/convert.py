"""Convert a model once for the faster runtimes, check it against torch, keep it on disk.

``convert(spec)`` loads the model with torch (the only step that needs it), exports its
transformer with ``torch.onnx.export`` (dynamic batch and sequence axes, every hidden state an
output, so text, token and layer vectors all come from one graph), and runs the check batch
through torch and through each installed runtime: a runtime passes when every text's vector and
every layer's mean-pooled vector has cosine >= EXACT_COSINE with torch's. The runtimes are timed
on the same batch, so ``auto`` can pick the fastest. ``quantize(folder)`` adds the int8 graph
(ONNX Runtime's dynamic quantisation) from the fp32 one, checked against torch's vectors saved at
conversion, so it needs no torch.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.converted import (
    CHECK_FILES, FUSED_FILE, GRAPH_FILES, ConvertedModel, model_folder, models_root, read_json, write_atomic,
)
from embeddings.backends.recipe import NotConvertible, Recipe, mean_pool, recipe_of
from embeddings.backends.runtimes import RUNTIMES, installed
from embeddings.checks import ProgressFn, report

# A runtime gives "the torch vectors" when every check vector has at least this cosine with torch's.
EXACT_COSINE = 0.9999
# int8 is a choice for speed, not exactness; below this the quantised graph is broken, not rough.
INT8_MIN_COSINE = 0.95
CHECK_BATCH = 4  # sorted by length, so the one long text pads only its own batch
TIMING_ROUNDS = 2

# The check batch: short and long (past every model's window), cased, accented, non-Latin, code,
# numbers, surrounding spaces, and an empty text (specials only).
CHECK_TEXTS = (
    "A man is playing a guitar on the street.",
    "The new movie is awesome",
    "  Leading and trailing spaces matter to some tokenizers.  ",
    "Return the number of items in a container.",
    "def mean(xs):\n    return sum(xs) / len(xs)",
    "Café au lait, naïve façade, Zürich, São Paulo.",
    "東京は日本の首都です。",
    "Ceci n'est pas une pipe.",
    "3.14159 is roughly pi; 2.71828 is roughly e.",
    "",
    "OK",
    "Dynamic int8 quantisation trades a little accuracy for a lot of speed on CPUs without VNNI.",
    " ".join(["A very long text that goes past the model's window, so truncation is checked too."] * 40),
    "Debian package: command-line tools for manipulating PDF documents",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Why is the sky blue? Rayleigh scattering of sunlight by the atmosphere.",
)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("torch", "transformers", "onnxruntime", "openvino"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = ""
    return out


def failure_file(base_fingerprint: str) -> Path:
    return model_folder(base_fingerprint).with_name(model_folder(base_fingerprint).name + ".failed.json")


def known_failure(base_fingerprint: str) -> str | None:
    """Why this model could not be converted last time, with today's library versions; else None."""
    record = read_json(failure_file(base_fingerprint))
    if record and record.get("versions") == _versions():
        return str(record.get("reason", "it could not be converted"))
    return None


# ---------------------------------------------------------------- fp32


def convert(spec: Any, progress: ProgressFn | None = None) -> ConvertedModel:
    """The converted folder of a spec's weights (built now if missing). NotConvertible says why not."""
    from embeddings.models import load_model, token_window

    steps = 4
    report(progress, 0, steps)
    lm = load_model(spec.base(), device="cpu")
    folder = model_folder(lm.fingerprint)
    if (folder / CHECK_FILES["fp32"]).is_file():
        return ConvertedModel.open(folder)
    try:
        recipe = recipe_of(lm)
        recipe = Recipe(**{**recipe.__dict__, "max_length": token_window(lm)})
        root = models_root()
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=root))
        try:
            report(progress, 1, steps)
            _export(lm, recipe, work / GRAPH_FILES["fp32"])
            _fuse(lm, work / GRAPH_FILES["fp32"], work / FUSED_FILE)
            recipe.save(work / "recipe.json")
            (work / "tokenizer.json").write_text(lm.tokenizer.backend_tokenizer.to_str(), encoding="utf-8")
            report(progress, 2, steps)
            check = _check_fp32(lm, ConvertedModel.open(work))
            report(progress, 3, steps)
            (work / CHECK_FILES["fp32"]).write_text(json.dumps(check, indent=1), encoding="utf-8")
            try:
                work.rename(folder)
            except OSError:  # another process finished the same conversion first: use theirs
                if not (folder / CHECK_FILES["fp32"]).is_file():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except NotConvertible as exc:
        _remember_failure(lm.fingerprint, str(exc))
        raise
    except Exception as exc:  # the exporter and runtimes fail in many ways; each is one line here
        reason = _first_line(exc)
        _remember_failure(lm.fingerprint, reason)
        raise NotConvertible(reason) from None
    report(progress, steps, steps)
    return ConvertedModel.open(folder)


def _remember_failure(base_fingerprint: str, reason: str) -> None:
    record = {"reason": reason, "versions": _versions()}
    write_atomic(failure_file(base_fingerprint), json.dumps(record).encode())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else type(exc).__name__)


def _torch_layers(lm: Any, texts: list[str], recipe: Recipe) -> list[np.ndarray]:
    """Torch's mean-pooled hidden states 0..L of `texts`: the reference for every layer."""
    import torch

    out: list[list[np.ndarray]] = [[] for _ in range(recipe.layers + 1)]
    for start in range(0, len(texts), CHECK_BATCH):
        encoded = lm.tokenizer(texts[start : start + CHECK_BATCH], padding=True, truncation=True,
                               max_length=recipe.max_length, return_tensors="pt")
        inputs = {name: encoded[name] for name in recipe.inputs if name in encoded}
        with torch.inference_mode():
            states = lm.transformer(**inputs, output_hidden_states=True).hidden_states
        mask = encoded["attention_mask"].numpy()
        for layer, hidden in enumerate(states):
            out[layer].append(mean_pool(hidden.float().numpy(), mask))
    return [np.concatenate(parts) for parts in out]


class _AllHiddenStates:
    """The transformer as the graph: inputs in, hidden states 0..L out (a plain tuple)."""

    def __new__(cls, transformer: Any, inputs: tuple[str, ...]) -> Any:
        import torch

        class Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, *tensors: Any) -> tuple:
                kwargs = dict(zip(inputs, tensors))
                return tuple(self.transformer(**kwargs, output_hidden_states=True).hidden_states)

        return Graph().eval()


def _export(lm: Any, recipe: Recipe, path: Path) -> None:
    """torch.onnx.export of the transformer with eager attention (a graph ONNX Runtime fuses well)."""
    import torch

    transformer = lm.transformer
    sample = lm.tokenizer(
        ["a short text", "a somewhat longer text to pad the batch"], padding=True, return_tensors="pt"
    )
    args = tuple(sample[name] if name in sample else torch.zeros_like(sample["input_ids"]) for name in recipe.inputs)
    outputs = [f"hidden_state_{i}" for i in range(recipe.layers + 1)]
    axes = {name: {0: "batch", 1: "sequence"} for name in (*recipe.inputs, *outputs)}
    setter = getattr(transformer, "set_attn_implementation", None)
    before = getattr(transformer.config, "_attn_implementation", None)
    try:
        if setter is not None and before not in (None, "eager"):
            setter("eager")
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # The TorchScript exporter: 10 s for the bundled model where the dynamo one takes 50.
            torch.onnx.export(
                _AllHiddenStates(transformer, recipe.inputs), args, str(path), dynamo=False,
                input_names=list(recipe.inputs), output_names=outputs, dynamic_axes=axes,
                opset_version=17, do_constant_folding=True,
            )
    finally:
        if setter is not None and before not in (None, "eager"):
            setter(before)


# ONNX Runtime's transformer optimiser knows these architectures as "bert" (encoder-only).
FUSIBLE = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "mpnet")


def _fuse(lm: Any, source: Path, target: Path) -> None:
    """ONNX Runtime's fusions of a BERT-like graph; none (and no file) for other models or on failure:
    the plain graph then serves, and the check decides either way."""
    config = lm.transformer.config
    if getattr(config, "model_type", None) not in FUSIBLE:
        return
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fused = optimize_model(str(source), model_type="bert", num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size), opt_level=0)
            fused.save_model_to_file(str(target))
    except Exception:  # an optimiser that does not match the graph leaves it as it was
        target.unlink(missing_ok=True)


def _check_fp32(lm: Any, model: ConvertedModel) -> dict:
    """Torch against each installed runtime on the check batch: cosines, tokens, seconds."""
    texts = list(CHECK_TEXTS)
    recipe = model.recipe
    torch_vectors = np.asarray(lm.st.encode(texts, batch_size=CHECK_BATCH, convert_to_numpy=True), np.float32)
    torch_layers = _torch_layers(lm, texts, recipe)
    np.save(model.folder / "reference.npy", torch_vectors)
    expected_ids = lm.tokenizer(texts, truncation=True, max_length=recipe.max_length)["input_ids"]
    same_tokens = [list(e.ids) for e in model.tokens.encode(texts)] == [list(ids) for ids in expected_ids]
    check: dict[str, Any] = {"versions": _versions(), "torch": {}, "runtimes": {}}
    timers: dict[str, Callable[[], Any]] = {"torch": lambda: lm.st.encode(texts, batch_size=CHECK_BATCH)}
    for backend in RUNTIMES:
        if not installed(backend):
            check["runtimes"][backend] = {"ok": False, "reason": f"{backend} runtime is not installed"}
            continue
        try:
            runtime = model.runtime(backend, "fp32")
            vectors = model.encode(texts, CHECK_BATCH, runtime)
            layers = model.pooled_layers(texts, CHECK_BATCH, runtime, range(recipe.layers + 1))
            text_cos = _min_cosine(vectors, torch_vectors)
            layer_cos = min(_min_cosine(a, b) for a, b in zip(layers, torch_layers))
        except Exception as exc:  # a runtime that cannot run the graph is left out, with why
            check["runtimes"][backend] = {"ok": False, "reason": _first_line(exc)}
            continue
        ok = same_tokens and min(text_cos, layer_cos) >= EXACT_COSINE
        reason = "" if ok else ("its tokenizer splits texts differently" if not same_tokens
                                else f"cosine {min(text_cos, layer_cos):.5f} < {EXACT_COSINE} against torch")
        check["runtimes"][backend] = {"ok": ok, "min_cosine": text_cos, "min_layer_cosine": layer_cos,
                                      "reason": reason}
        if ok:
            timers[backend] = lambda runtime=runtime: model.encode(texts, CHECK_BATCH, runtime)
    for name, seconds in _timed(timers).items():
        (check["torch"] if name == "torch" else check["runtimes"][name])["seconds"] = seconds
    model._runtimes.clear()  # the graph moves when the folder is renamed into place
    return check


def _timed(runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Each run's best time over interleaved rounds: the machine may be shared, so each contender
    meets the same load, and the fastest run of each is the least disturbed."""
    best = {name: float("inf") for name in runs}
    for _ in range(TIMING_ROUNDS):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na == 0) & (nb == 0)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-30)
    return float(np.where(both_zero, 1.0, cos).min())


# ---------------------------------------------------------------- int8


def quantize(model: ConvertedModel, progress: ProgressFn | None = None) -> ConvertedModel:
    """Add the int8 graph to a converted folder (if missing) and check it against torch's vectors."""
    if model.check("int8") is not None:
        return model
    report(progress, 0, 2)
    target = model.folder / GRAPH_FILES["int8"]
    work = Path(tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part.onnx", dir=model.folder)[1])
    try:
        _quantize_graph(model.graph("onnx", "fp32"), work)
        work.replace(target)
    finally:
        work.unlink(missing_ok=True)
    report(progress, 1, 2)
    texts = list(CHECK_TEXTS)
    reference = np.load(model.folder / "reference.npy")
    check: dict[str, Any] = {"versions": _versions(), "runtimes": {}}
    for backend in ("onnx",):  # OpenVINO runs ONNX Runtime's int8 operators slowly, if at all
        runtime = model.runtime(backend, "int8")
        vectors = model.encode(texts, CHECK_BATCH, runtime)
        cos = _cosines(vectors, reference)
        ok = float(cos.min()) >= INT8_MIN_COSINE
        check["runtimes"][backend] = {
            "ok": ok, "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
            "seconds": _timed({"int8": lambda: model.encode(texts, CHECK_BATCH, runtime)})["int8"],
            "reason": "" if ok else f"cosine {cos.min():.3f} < {INT8_MIN_COSINE} against torch",
        }
    write_atomic(model.folder / CHECK_FILES["int8"], json.dumps(check, indent=1).encode())
    report(progress, 2, 2)
    return model


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)


# Which nodes take int8 weights: the matrix products and the fused attention's input projection.
# The embedding tables (Gather, EmbedLayerNormalization) stay in float: quantising them costs
# accuracy at the very input and saves no time (a lookup is no product).
INT8_OPS = ["MatMul", "Attention"]


def _quantize_graph(source: Path, target: Path) -> None:
    """ONNX Runtime's dynamic int8 quantisation of `source` (the fused fp32 graph where there is one).

    Signed 8-bit weights, one scale per output channel, in the 7-bit range (reduce_range): on x86
    CPUs without VNNI (AVX2, as this project's machine) ONNX Runtime multiplies u8 activations by
    s8 weights with VPMADDUBSW, whose 16-bit sums the 7-bit range keeps from saturating; u8 weights
    (the first int8 graph here) take a slower u8 x u8 path: with the same nodes quantised, 0.55x of
    torch's time against 0.31x (see benchmarks/README, "Backends"). Activations are quantised per batch (dynamic), so no
    calibration data is needed.

    OpenVINO's own int8 (NNCF post-training quantisation of its model, calibrated) gave the same
    quality (10-NN 0.917) but no speed on that CPU: without VNNI its int8 products run oneDNN's
    ``jit_gemm_I8``, 1.11x the CPU time of its fp32 graph (README, "Performance", "Backends").
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)  # its advice to pre-process goes to the root logger
        try:
            quantize_dynamic(
                str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                op_types_to_quantize=INT8_OPS, nodes_to_exclude=_float_nodes(onnx.load(str(source), load_external_data=False)),
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            logging.disable(logging.NOTSET)


def _float_nodes(graph: Any) -> list[str]:
    """Matrix products kept in float:

    - products of two activations (attention scores and their weighted sum, where attention is not
      fused): their ranges vary most from batch to batch;
    - the feed-forward output projection of the first half of the layers: its input (after GELU)
      has the widest range, and an error made early passes through every later layer. Measured on
      the bundled model (1,000 mixed texts, against fp32): none in float, 10-NN overlap 0.896; the
      first three of six, 0.923 (all six: 0.926, for twice the cost).
    """
    weights = {tensor.name for tensor in graph.graph.initializer}
    out, ffn_outputs = [], []
    for node in graph.graph.node:
        if node.op_type != "MatMul":
            continue
        if not any(name in weights for name in node.input):
            out.append(node.name)
        layer = re.search(r"layer\.(\d+)/output/dense/MatMul$", node.name)
        if layer and "/attention/" not in node.name:
            ffn_outputs.append((int(layer.group(1)), node.name))
    ffn_outputs.sort()
    return out + [name for _, name in ffn_outputs[: (len(ffn_outputs) + 1) // 2]]
