"""A converted model on disk and how it encodes: tokenizer, graph, pooling, no torch.

One folder per model fingerprint in the user's cache folder, beside the vector cache
(``models/<fingerprint>.v<FORMAT>/``), holding:

- ``model.onnx``: the transformer, dynamic batch and sequence axes, outputs hidden states 0..L;
- ``model.fused.onnx``: the same after ONNX Runtime's transformer fusions (BERT-like models);
- ``model.int8-<INT8_KIND>.onnx``: the same with int8 weights (built only when asked for);
- ``tokenizer.json`` and ``recipe.json``: the tokenizer and what sentence-transformers does
  around the transformer (``recipe.Recipe``);
- ``check.json`` / ``check-int8-<INT8_KIND>.json``: what the check batch found per runtime (cosine against
  torch, seconds); written last, so a folder without it is not used.

Everything is written under a temporary name and renamed into place: a crash leaves no half model.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.recipe import Recipe, Tokens, l2_normalized, mean_pool, pool
from embeddings.backends.runtimes import RUNTIMES, Runtime

# Bump when what a converted folder holds changes: older folders are then built again.
FORMAT = 1
PRECISIONS = ("fp32", "int8")
# Names the int8 recipe (embeddings.backends.convert.quantize): in the int8 graph's file name, its
# check and the vector cache's key, so a folder or cache entry of another recipe is never read as this one.
INT8_KIND = "s8c-h"
GRAPH_FILES = {"fp32": "model.onnx", "int8": f"model.int8-{INT8_KIND}.onnx"}
# ONNX Runtime's own fusions (attention, layer norm, GELU) of the fp32 graph, where its optimiser
# knows the architecture: about 20% faster on the bundled model; other runtimes read model.onnx.
FUSED_FILE = "model.fused.onnx"
CHECK_FILES = {"fp32": "check.json", "int8": f"check-int8-{INT8_KIND}.json"}


def cache_suffix(quantize: str) -> str:
    """Appended to the vector cache's representation: "" for exact vectors (every exact backend
    shares one entry), ":int8-<recipe>" for int8 ones, which never mix with exact ones or another recipe's."""
    return "" if quantize in ("none", "fp32") else f":{quantize}-{INT8_KIND}"


MODELS_ENV_VAR = "EMBEDDINGS_MODELS"


def models_root() -> Path:
    """Where converted models live: $EMBEDDINGS_MODELS, else ``models/`` beside the vector cache
    file (so $EMBEDDINGS_CACHE moves both, and tests never touch the user's folder)."""
    override = os.environ.get(MODELS_ENV_VAR)
    if override:
        return Path(override).expanduser()
    from embeddings.cache import default_path

    return default_path().parent / "models"


def model_folder(base_fingerprint: str) -> Path:
    return models_root() / f"{base_fingerprint}.v{FORMAT}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file under a temporary name beside it, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass(eq=False)
class ConvertedModel:
    """A converted model folder, opened lazily: runtimes start on first use, once per process."""

    folder: Path
    recipe: Recipe
    _tokens: Tokens | None = field(default=None, repr=False)
    _runtimes: dict[tuple[str, str], Runtime] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, folder: Path) -> "ConvertedModel":
        return cls(folder, Recipe.load(folder / "recipe.json"))

    def check(self, precision: str) -> dict | None:
        """What the check batch found for this precision, or None when it was not built."""
        return read_json(self.folder / CHECK_FILES[precision])

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:
            self._tokens = Tokens((self.folder / "tokenizer.json").read_text(encoding="utf-8"), self.recipe)
        return self._tokens

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the graph gets them (specials included, truncated to the window):
        sorting a whole input by these, not by characters, leaves about 5% less padding in its
        batches (5,000 mixed texts: 92% of the padded tokens were real, 97% sorted by tokens)."""
        step = 4096  # a slice at a time: a million encodings at once would hold gigabytes
        return [len(e.ids) for start in range(0, len(texts), step) for e in self.tokens.encode(texts[start : start + step])]

    def runtime(self, backend: str, precision: str, threads: int | None = None) -> Runtime:
        with self._lock:
            key = (backend, precision)
            if key not in self._runtimes:
                self._runtimes[key] = RUNTIMES[backend](self.graph(backend, precision), threads)
            return self._runtimes[key]

    def graph(self, backend: str, precision: str) -> Path:
        """The graph file a runtime reads: ONNX Runtime the fused fp32 graph when there is one."""
        fused = self.folder / FUSED_FILE
        if backend == "onnx" and precision == "fp32" and fused.is_file():
            return fused
        return self.folder / GRAPH_FILES[precision]

    # ------------------------------------------------------------ encoding

    def encode(self, texts: Sequence[str], batch_size: int, runtime: Runtime) -> np.ndarray:
        """One vector per text, as sentence-transformers' ``encode`` gives it (pooled, normalised
        when the model normalises)."""
        recipe = self.recipe
        out = np.empty((len(texts), recipe.dim), dtype=np.float32)
        for rows, feed in self.tokens.batches(texts, batch_size):
            (hidden,) = runtime.hidden_states(feed, [recipe.layers])
            vectors = pool(hidden, feed["attention_mask"], recipe.pooling)
            out[rows] = l2_normalized(vectors) if recipe.normalize else vectors
        return out

    def pooled_layers(
        self, texts: Sequence[str], batch_size: int, runtime: Runtime, layers: Sequence[int]
    ) -> list[np.ndarray]:
        """Mean-pooled hidden states of each of `layers` (as ``@layerN`` pools), one pass per batch."""
        out = [np.empty((len(texts), self.recipe.hidden), dtype=np.float32) for _ in layers]
        for rows, feed in self.tokens.batches(texts, batch_size):
            states = runtime.hidden_states(feed, list(layers))
            for k, hidden in enumerate(states):
                out[k][rows] = mean_pool(hidden, feed["attention_mask"])
        return out


def feed_of(recipe: Recipe, ids: Any, mask: Any, types: Any = None) -> dict[str, np.ndarray]:
    """The graph's inputs from token ids and mask (torch tensors or arrays) tokenized elsewhere."""
    ids = np.asarray(ids, dtype=np.int64)
    values = {
        "input_ids": ids,
        "attention_mask": np.asarray(mask, dtype=np.int64),
        "token_type_ids": np.zeros_like(ids) if types is None else np.asarray(types, dtype=np.int64),
    }
    return {name: values[name] for name in recipe.inputs}
