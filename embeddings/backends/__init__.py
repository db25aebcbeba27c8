"""Backends: what runs the model. torch, or the same model converted once for ONNX Runtime or
OpenVINO, which encode the same vectors two to three times faster on a CPU.

``choose_backend(spec, backend, quantize)`` resolves what the user asked for into a ``Backend``:

- ``torch``: the model as sentence-transformers runs it (the reference);
- ``onnx`` / ``openvino``: the converted model (``embeddings.backends.convert``), built once per
  model fingerprint in the user's cache folder and checked against torch on a check batch;
- ``auto`` (the default; ``$EMBEDDINGS_BACKEND`` pins it): the fastest of those that gave the torch vectors on the check batch
  (cosine >= 0.9999), timed on this machine at conversion; torch on a GPU, for ``@static``
  (no transformer pass to speed up), and whenever a runtime is missing or the model does not
  convert: ``Backend.note`` then says why in one line.

``quantize="int8"`` asks for the int8 graph (ONNX Runtime): faster, not exact, so its vectors
are cached apart (``Backend.cache_suffix``); the exact backends share one cache entry.
A converted model whose files are all on disk opens without importing torch.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from embeddings.backends.converted import CHECK_FILES, ConvertedModel, cache_suffix, model_folder
from embeddings.backends.recipe import NotConvertible
from embeddings.backends.runtimes import RUNTIMES, Runtime, installed
from embeddings.checks import ProgressFn
from embeddings.choices import BACKENDS, QUANTIZE
from embeddings.errors import InputError

log = logging.getLogger("embeddings")
# Pins what "auto" resolves to (torch, onnx or openvino): e.g. torch on a machine where converting
# is not wanted; the test suite pins torch so only the backend tests convert models.
AUTO_ENV_VAR = "EMBEDDINGS_BACKEND"

__all__ = ["BACKENDS", "QUANTIZE", "RUNTIMES", "Backend", "cache_suffix", "choose_backend"]


@dataclass(frozen=True, eq=False)
class Backend:
    """The resolved choice: which runtime encodes, at which precision, and why (``note``)."""

    name: str  # "torch" | "onnx" | "openvino"
    precision: str = "fp32"  # "fp32" | "int8"
    note: str = ""  # why this is not what was asked for (a fallback), else ""
    model: ConvertedModel | None = None  # the converted model; None for torch

    @property
    def exact(self) -> bool:
        return self.precision == "fp32"

    @property
    def cache_suffix(self) -> str:
        """Appended to the vector cache's kind: int8 vectors never mix with exact ones."""
        return cache_suffix(self.precision)

    @property
    def label(self) -> str:
        return self.name if self.exact else f"{self.name} {self.precision}"

    def runtime(self) -> Runtime:
        if self.model is None:
            raise RuntimeError("the torch backend runs through embeddings.models.load_model")
        return self.model.runtime(self.name, self.precision)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Sentence vectors of `texts` (as sentence-transformers' encode gives them)."""
        assert self.model is not None
        return self.model.encode(texts, batch_size, self.runtime())

    def pooled_layers(self, texts: Sequence[str], batch_size: int, layers: Sequence[int]) -> list[np.ndarray]:
        assert self.model is not None
        return self.model.pooled_layers(texts, batch_size, self.runtime(), layers)

    def hidden_states(self, feed: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        return self.runtime().hidden_states(feed, layers)


TORCH = Backend("torch")
_memo: dict[tuple[str, str, str], Backend] = {}
_memo_lock = threading.Lock()


def choose_backend(
    spec: Any,
    backend: str = "auto",
    quantize: str = "none",
    *,
    device: str | None = None,
    progress: ProgressFn | None = None,
) -> Backend:
    """The backend that will encode `spec` (an ``embeddings.models.ModelSpec``).

    Converts the model on first use (needs torch; progress in steps), then only reads the folder.
    Bad names are an InputError; a model or runtime that cannot serve falls back to torch with a note.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if quantize not in QUANTIZE:
        raise InputError(f"quantize must be one of {', '.join(QUANTIZE)}, not {quantize!r}")
    precision = "int8" if quantize == "int8" else "fp32"
    pinned = os.environ.get(AUTO_ENV_VAR, "")
    if backend == "auto" and pinned in BACKENDS[1:] and not (pinned != "onnx" and precision == "int8"):
        backend = pinned  # what auto means on this machine, when the user (or a test run) pinned it
    if backend == "torch":
        if precision != "fp32":
            raise InputError("int8 quantisation runs on the onnx backend (or auto), not on torch")
        return TORCH
    if precision == "int8" and backend == "openvino":
        raise InputError("int8 quantisation runs on the onnx backend (or auto), not on openvino")
    asked = backend
    if device not in (None, "cpu"):
        return _torch_because(asked, f"the converted model runs on the CPU and device {device} was asked for")
    if spec.variant == "static":
        return _torch_because(asked, "@static reads the input embedding table; no transformer pass to speed up")
    wanted = ["onnx", "openvino"] if backend == "auto" else [backend]
    if precision == "int8":
        wanted = ["onnx"]
    missing = [name for name in wanted if not installed(name)]
    if len(missing) == len(wanted):
        return _torch_because(asked, f"the {' and '.join(missing)} runtime is not installed")
    key = (_weights_key(spec), asked, precision)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    chosen = _resolve(spec, asked, precision, [name for name in wanted if name not in missing], progress)
    with _memo_lock:
        if key not in _memo and chosen.note:
            log.warning(chosen.note)  # once per model and choice in a process: the CLI prints it as a line
        _memo[key] = chosen
    return chosen


def _weights_key(spec: Any) -> str:
    from embeddings.models import fingerprint

    return fingerprint(spec.base()) or spec.location


def _torch_because(asked: str, reason: str) -> Backend:
    """Torch, and why (no note when auto simply has nothing to speed up)."""
    return Backend("torch", note="" if asked == "auto" and "static" in reason else f"{asked}: {reason}; using torch")


def _resolve(spec: Any, asked: str, precision: str, usable: list[str], progress: ProgressFn | None) -> Backend:
    from embeddings.backends import convert as converting
    from embeddings.models import fingerprint

    if not _cpu_only():
        return _torch_because(asked, "torch has a GPU here") if asked != "auto" else TORCH
    base_fp = fingerprint(spec.base())
    try:
        if base_fp is not None and (model_folder(base_fp) / CHECK_FILES["fp32"]).is_file():
            model = ConvertedModel.open(model_folder(base_fp))
        else:
            failed = converting.known_failure(base_fp) if base_fp is not None else None
            if failed is not None:
                raise NotConvertible(failed)
            log.info(f"{spec.name}: converting the model for the faster runtimes, once (about a minute)")
            model = converting.convert(spec, progress)
        if precision == "int8":
            if model.check("int8") is None:
                log.info(f"{spec.name}: building the int8 graph, once")
            model = converting.quantize(model, progress)
    except NotConvertible as exc:
        return _torch_because(asked, f"{spec.name} does not convert ({exc})")
    check = model.check(precision) or {}
    results = check.get("runtimes", {})
    passed = {name: results[name] for name in usable if results.get(name, {}).get("ok")}
    if not passed:
        reasons = "; ".join(f"{name}: {results.get(name, {}).get('reason', 'not checked')}" for name in usable)
        return _torch_because(asked, f"{spec.name} did not pass the check ({reasons})")
    name = min(passed, key=lambda n: passed[n]["seconds"])
    torch_seconds = check.get("torch", {}).get("seconds")
    if asked == "auto" and precision == "fp32" and torch_seconds is not None and torch_seconds < passed[name]["seconds"]:
        return TORCH  # torch was the fastest on this machine: auto means fastest exact
    return Backend(name, precision, "", model)


def _cpu_only() -> bool:
    """True when torch would run on the CPU: asked without importing torch when it is not loaded."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        mps = getattr(torch.backends, "mps", None)
        return not torch.cuda.is_available() and not (mps is not None and mps.is_available())
    from importlib.util import find_spec

    # A CPU-only torch build ships no CUDA libraries; without torch loaded, that is the cheap sign.
    spec = find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return True

    import re
    from pathlib import Path

    version = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    text = version.read_text(encoding="utf-8", errors="replace") if version.is_file() else ""
    return all(re.search(rf"^{name}(: [^=]*)? = None$", text, re.M) for name in ("cuda", "hip", "xpu"))
