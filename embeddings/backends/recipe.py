"""What sentence-transformers does around the transformer, as plain data and numpy.

A converted model is only the transformer (token ids in, hidden states out). Everything around
it, the tokenizer's settings, the pooling of token vectors into one vector and the final
normalising, is read from the loaded sentence-transformers model (which read the folder's
modules.json and pooling config) into a ``Recipe`` at conversion time and redone here in numpy,
so a converted model runs without torch. A model whose modules do more than that (a Dense
layer, a custom module) is not converted: ``recipe_of`` says why in one line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

POOLING_MODES = ("mean", "mean_sqrt_len_tokens", "cls", "max", "lasttoken", "weightedmean")


class NotConvertible(Exception):
    """The model cannot run outside torch; the message says why in one line."""


@dataclass(frozen=True)
class Recipe:
    """How to turn texts into the model's vectors around its transformer."""

    pooling: tuple[str, ...]  # sentence-transformers' pooling modes, concatenated in this order
    normalize: bool  # a Normalize module ends the pipeline
    max_length: int  # tokens per input (specials included); longer inputs are truncated
    lowercase: bool  # the Transformer module lowercases texts before tokenizing
    inputs: tuple[str, ...]  # the graph's inputs: input_ids, attention_mask[, token_type_ids]
    layers: int  # transformer layers; the graph outputs hidden states 0..layers
    hidden: int  # width of a hidden state
    dim: int  # width of a sentence vector
    pad_id: int

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Recipe":
        values = json.loads(path.read_text(encoding="utf-8"))
        values["pooling"] = tuple(values["pooling"])
        values["inputs"] = tuple(values["inputs"])
        return cls(**values)


def recipe_of(lm: Any) -> Recipe:
    """The recipe of a loaded model (``embeddings.models.LoadedModel``), or NotConvertible."""
    modules = [type(module).__name__ for module in lm.st]
    if not modules or modules[0] != "Transformer":
        raise NotConvertible(f"its first module is {modules[0] if modules else 'missing'}, not a Transformer")
    extra = [name for name in modules[1:] if name not in ("Pooling", "Normalize")]
    if extra:
        raise NotConvertible(f"module {extra[0]} runs only in torch")
    if modules.count("Pooling") != 1 or (len(modules) > 2 and modules[1] != "Pooling"):
        raise NotConvertible("its modules are not Transformer, Pooling[, Normalize]")
    pooling_module = lm.st[1]
    mode = getattr(pooling_module, "pooling_mode", "mean")
    modes = (mode,) if isinstance(mode, str) else tuple(mode)
    unknown = [m for m in modes if m not in POOLING_MODES]
    if unknown:
        raise NotConvertible(f"pooling mode {unknown[0]!r} is not supported outside torch")
    if getattr(pooling_module, "include_prompt", True) is False:
        raise NotConvertible("its pooling leaves out prompt tokens")
    if "Normalize" in modules and getattr(lm.st[modules.index("Normalize")], "module_input_name",
                                          "sentence_embedding") != "sentence_embedding":
        raise NotConvertible("its Normalize module works on token vectors")
    tokenizer = lm.tokenizer
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise NotConvertible("it has no fast (Rust) tokenizer")
    config = lm.transformer.config
    hidden = int(getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0) or 0)
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in getattr(tokenizer, "model_input_names", ()):
        names.append("token_type_ids")
    return Recipe(
        pooling=modes,
        normalize="Normalize" in modules,
        max_length=int(lm.max_seq_length),
        lowercase=bool(getattr(lm.st[0], "do_lower_case", False)),
        inputs=tuple(names),
        layers=int(lm.num_layers),
        hidden=hidden,
        dim=int(lm.dim),
        pad_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0),
    )


# ---------------------------------------------------------------- tokenizing


class Tokens:
    """Texts tokenized as the model's own tokenizer does, then batched longest first."""

    def __init__(self, tokenizer_json: str, recipe: Recipe) -> None:
        from tokenizers import Tokenizer

        self.recipe = recipe
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=recipe.max_length)

    def encode(self, texts: Sequence[str]) -> list[Any]:
        if self.recipe.lowercase:
            texts = [text.lower() for text in texts]
        return self.tokenizer.encode_batch(list(texts))

    def batches(self, texts: Sequence[str], batch_size: int) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """[(positions in texts, {input name: array})], longest texts first, padded per batch.

        Sorting by length, as sentence-transformers does, keeps padding (wasted work) small.
        """
        encodings = self.encode(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = []
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(1, max(len(encodings[i].ids) for i in rows))
            ids = np.full((len(rows), width), self.recipe.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
                types[row, :n] = encodings[i].type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            out.append((rows, {name: feed[name] for name in self.recipe.inputs}))
        return out


# ---------------------------------------------------------------- pooling


def pool(hidden: np.ndarray, mask: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """One vector per row of a (batch, tokens, width) hidden state, as sentence-transformers pools."""
    weights = mask[..., None].astype(np.float32)
    out = []
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    for mode in modes:
        if mode == "mean":
            out.append(np.einsum("btd,bt->bd", hidden, mask.astype(np.float32)) / counts)
        elif mode == "mean_sqrt_len_tokens":
            out.append(np.einsum("btd,bt->bd", hidden, mask.astype(np.float32)) / np.sqrt(counts))
        elif mode == "cls":
            out.append(hidden[np.arange(len(hidden)), mask.argmax(axis=1)])
        elif mode == "max":
            out.append(np.where(weights > 0, hidden, -np.inf).max(axis=1))
        elif mode == "lasttoken":
            last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
            last = np.where(mask.max(axis=1) == 0, mask.shape[1] - 1, last)
            out.append(hidden[np.arange(len(hidden)), last] * mask[np.arange(len(hidden)), last][:, None])
        elif mode == "weightedmean":
            position = np.arange(1, mask.shape[1] + 1, dtype=np.float32)[None, :] - mask.argmax(axis=1)[:, None]
            weighted = mask.astype(np.float32) * position
            out.append(np.einsum("btd,bt->bd", hidden, weighted) / np.clip(weighted.sum(1, keepdims=True), 1e-9, None))
        else:  # pragma: no cover - recipe_of admits only POOLING_MODES
            raise ValueError(f"unknown pooling mode {mode!r}")
    return np.concatenate(out, axis=1).astype(np.float32) if len(out) > 1 else out[0].astype(np.float32)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The masked mean of each row's token vectors (how ``@layerN`` pools a layer)."""
    return pool(hidden, mask, ("mean",))


def l2_normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows divided by their length, as torch's F.normalize (eps 1e-12) does."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
