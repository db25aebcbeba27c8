"""Texts in, vectors out: one vector per text, per token, or per vocabulary entry.

- ``encode_texts``: one vector per text, batched and length-sorted (sentence-transformers'
  own ``encode`` for plain models; mean pooling of a layer, or of the input embedding table,
  for the ``@layerN`` and ``@static`` variants), cached on disk per model fingerprint.
- ``tokenize``: how the tokenizer splits a text: tokens, ids, character offsets, specials.
- ``token_embeddings``: the contextual vector of every token of every text from a chosen layer
  (texts longer than the model's window are read in consecutive windows, so no token is lost).
- ``vocabulary_embeddings``: rows of the input embedding table for given words or for the N
  most useful vocabulary entries, like the projector's word2vec demo.

A run whose vectors are all cached computes the model's fingerprint from its files and reads
the cache: no model is loaded and torch is not even imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from embeddings.backends.converted import cache_suffix
from embeddings.checks import ProgressFn, StopFn, report, whole_number
from embeddings.choices import DEFAULT_MODEL
from embeddings.errors import InputError, ModelError
from embeddings.models import LoadedModel, ModelSpec, fingerprint, layer_count, load_model, token_window
from embeddings.options import EncodeOptions

# Texts handed to sentence-transformers per call: small enough for smooth progress and a
# prompt stop, large enough that the per-call overhead stays well under 1%.
CHUNK_BATCHES = 8
# Below this many texts, starting worker processes (each loads the model) costs more than it saves.
POOL_MIN_TEXTS = 2000
# "auto" uses worker processes only on machines with this many cores. Measured on 2 cores
# (2,000 docstrings): one process with 2 torch threads 14 s, two 1-thread workers 26 s, so
# small machines stay with one process; torch's own threads already use every core there.
POOL_MIN_CORES = 8
# Texts per model call when the options name none: whole texts, and tokens (longer inputs, every
# hidden state kept).
TEXT_BATCH_SIZE = 32
TOKEN_BATCH_SIZE = 16
TOKEN_ROW_COLUMNS = ("text_index", "position", "token", "token_id", "start", "end", "special")


class Stopped(Exception):
    """Raised when the caller's stop() asked the encoding to end early."""


@dataclass(frozen=True, eq=False)
class Embeddings:
    """Vectors and what made them: which model (and its fingerprint), which level and layer.

    ``rows`` describes each vector at token and vocabulary level (one row per vector).
    """

    vectors: np.ndarray
    model: str
    fingerprint: str
    level: str  # "text" | "token" | "vocab"
    layer: int | None = None
    rows: pd.DataFrame | None = None
    cached: int = field(default=0, compare=False)  # how many texts came from the cache
    backend: str = field(default="", compare=False)  # what ran the model ("onnx", "onnx int8", "torch"); "": cache only
    # Why the model ran on another backend than asked (a fallback to torch, in one line); "" if none.
    backend_note: str = field(default="", compare=False)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def subset(self, rows: Sequence[int] | np.ndarray) -> "Embeddings":
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        rows = None if self.rows is None else self.rows.iloc[idx].reset_index(drop=True)
        return Embeddings(self.vectors[idx], self.model, self.fingerprint, self.level, self.layer, rows)


@dataclass(frozen=True)
class Tokenization:
    """How a tokenizer splits one text. ``offsets[i]`` is token i's (start, end) in ``text``."""

    text: str
    tokens: list[str]
    ids: list[int]
    offsets: list[tuple[int, int]]
    special: list[bool]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "position": range(len(self.tokens)),
                "token": self.tokens,
                "id": self.ids,
                "start": [s for s, _ in self.offsets],
                "end": [e for _, e in self.offsets],
                "special": self.special,
                "text": ["" if sp else self.text[s:e] for (s, e), sp in zip(self.offsets, self.special)],
            }
        )


# ---------------------------------------------------------------- helpers


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("texts must be a list of strings, not one string")
    out = list(texts)
    if not out:
        raise InputError("no texts to encode")
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(f"text {i}: expected a string, got {type(text).__name__}")
    return out


def _check_stop(stop: StopFn | None) -> None:
    if stop is not None and stop():
        raise Stopped("stopped before the encoding finished")


def _cache(enabled: bool) -> Any:
    if not enabled:
        return None
    from embeddings.cache import shared_cache

    return shared_cache()


def _cached(store: Any, spec: ModelSpec, representation: str, texts: list[str]) -> tuple[str | None, dict[int, tuple[np.ndarray, Any]]]:
    """(the model's fingerprint or None without a cache, {index: (vectors, extra)} found in the cache).

    The fingerprint comes from the model's files, so a fully cached run loads no model.
    """
    if store is None:
        return None, {}
    fp = fingerprint(spec)
    return fp, store.get_many(fp, representation, texts)


def _fill_missing(
    texts: list[str],
    found: dict[int, Any],
    step: int,
    compute: Callable[[list[str]], list[tuple[np.ndarray, Any]]],
    store: Any,
    fp: str,
    representation: str,
    progress: ProgressFn | None,
    stop: StopFn | None,
    lengths: Callable[[list[str]], Sequence[int]] | None = None,
) -> dict[str, tuple[np.ndarray, Any]]:
    """Compute each text the cache did not hold, once, `step` texts at a time, and cache each chunk.

    Longest first, as sentence-transformers does: similar lengths share a batch (little padding),
    and the slowest batches come first so the progress estimate is honest. The length is
    `lengths(texts)` (the converted model's token counts) where given, else characters. Progress
    counts texts (a repeated text counts each time); stop() is asked between chunks.
    """
    total = len(texts)
    counts: dict[str, int] = {}
    for i, text in enumerate(texts):
        if i not in found:
            counts[text] = counts.get(text, 0) + 1
    unique = list(counts)
    if lengths is not None and len(unique) > step:  # one chunk is sorted by tokens in its own batching
        size = dict(zip(unique, lengths(unique)))
        unique.sort(key=lambda text: (-size[text], -len(text)))
    else:
        unique.sort(key=lambda text: -len(text))
    computed: dict[str, tuple[np.ndarray, Any]] = {}
    done = len(found)
    report(progress, done, total)
    for start in range(0, len(unique), step):
        _check_stop(stop)
        chunk = unique[start : start + step]
        results = compute(chunk)
        computed.update(zip(chunk, results))
        if store is not None:
            store.put_many(fp, representation, ((t, v, extra) for t, (v, extra) in zip(chunk, results)))
        done += sum(counts[t] for t in chunk)
        report(progress, min(done, total), total)
    report(progress, total, total)
    return computed


def _normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _inputs(lm: LoadedModel, encoded: Any) -> dict[str, Any]:
    """The tensors the transformer takes, on its device."""
    keys = ("input_ids", "attention_mask", "token_type_ids")
    return {k: encoded[k].to(lm.transformer.device) for k in keys if k in encoded}


# ---------------------------------------------------------------- texts


def encode_texts(
    texts: Sequence[str],
    options: EncodeOptions | ModelSpec | str | None = None,
    *,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    **option_overrides: Any,
) -> Embeddings:
    """One vector per text, in input order. Texts already in the cache are not encoded again.

    `options`: EncodeOptions, or a model spec (default: the bundled model) with keyword options
    (batch_size, normalize, cache, processes, device, trust_remote_code...). ``processes``: worker
    processes on CPU (one torch thread each), or "auto": one per core on machines with at least
    POOL_MIN_CORES cores and POOL_MIN_TEXTS texts to encode, else one.
    """
    texts = _check_texts(texts)
    options = EncodeOptions.of(options, **option_overrides)
    spec, batch_size = options.model, options.batch_size or TEXT_BATCH_SIZE
    store = _cache(options.cache)
    representation = f"text{cache_suffix(options.quantize)}"
    fp, found = _cached(store, spec, representation, texts)
    total = len(texts)
    dim: int | None = None
    used, note = "", ""
    computed: dict[str, tuple[np.ndarray, Any]] = {}
    if len(found) < total:
        chosen = _choose(options, progress)
        used, note = chosen.label, chosen.note
        if store is not None and f"text{chosen.cache_suffix}" != representation:  # int8 fell back to exact
            representation = f"text{chosen.cache_suffix}"
            fp, found = _cached(store, spec, representation, texts)
        if chosen.model is not None:
            fp = fingerprint(spec) or fp
            dim = chosen.model.recipe.dim if spec.variant is None else chosen.model.recipe.hidden
            layer = spec.layer

            def compute(chunk: list[str]) -> list[tuple[np.ndarray, Any]]:
                if layer is None:
                    return [(vector, None) for vector in chosen.encode(chunk, batch_size)]
                return [(vector, None) for vector in chosen.pooled_layers(chunk, batch_size, [layer])[0]]

            computed = _fill_missing(texts, found, batch_size * CHUNK_BATCHES, compute, store, fp or "",
                                     representation, progress, stop, chosen.model.token_counts)
        else:
            computed, fp, dim = _encode_with_torch(texts, found, options, batch_size, store, representation,
                                                   progress, stop)
    if dim is None:
        dim = next(iter(found.values()))[0].shape[-1]
    out = np.empty((total, dim), dtype=np.float32)
    for i in range(total):
        out[i] = found[i][0] if i in found else computed[texts[i]][0]
    if options.normalize:
        out = _normalized(out)
    return Embeddings(out, spec.name, fp or "", "text", spec.layer, None, cached=len(found), backend=used,
                      backend_note=note)


def _choose(options: EncodeOptions, progress: ProgressFn | None) -> Any:
    """The backend for this encoding (``embeddings.backends.choose_backend``): converts the model
    on first use; a fallback to torch is logged once as one line (the CLI prints it)."""
    from embeddings.backends import choose_backend

    return choose_backend(options.model, options.backend, options.quantize, device=options.device,
                          progress=progress)


def _encode_with_torch(
    texts: list[str], found: dict[int, Any], options: EncodeOptions, batch_size: int, store: Any,
    representation: str, progress: ProgressFn | None, stop: StopFn | None,
) -> tuple[dict[str, tuple[np.ndarray, Any]], str, int]:
    """The texts the cache did not hold, encoded by sentence-transformers (torch)."""
    lm = load_model(options.model, device=options.device)
    total = len(texts)
    workers = _worker_count(options.processes, lm, len({texts[i] for i in range(total) if i not in found}))
    pool = _start_pool(lm, workers) if workers > 1 else None

    def compute(chunk: list[str]) -> list[tuple[np.ndarray, Any]]:
        return [(vector, None) for vector in _encode_chunk(lm, chunk, batch_size, pool)]

    try:
        computed = _fill_missing(texts, found, batch_size * CHUNK_BATCHES * workers, compute, store, lm.fingerprint,
                                 representation, progress, stop)
    finally:
        if pool is not None:
            lm.st.stop_multi_process_pool(pool)
    return computed, lm.fingerprint, lm.dim


def _worker_count(processes: int | str, lm: LoadedModel, texts: int) -> int:
    """How many processes to encode with (EncodeOptions checked the number): more than one only
    for plain models on CPU."""
    if processes == "auto":
        cores = os.cpu_count() or 1
        wanted = cores if cores >= POOL_MIN_CORES and texts >= POOL_MIN_TEXTS else 1
    else:
        wanted = int(processes)
    if lm.device != "cpu" or lm.spec.variant is not None:
        return 1
    return max(1, min(wanted, texts // 64 or 1))


def _start_pool(lm: LoadedModel, workers: int) -> Any:
    """sentence-transformers' worker pool, each worker with one torch thread (no oversubscription)."""
    saved = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({name: "1" for name in saved})  # read by each worker's torch at start-up
    try:
        # The pool pickles the model it starts from. A model that has run with
        # output_hidden_states (token level, @layerN) carries transformers' forward hooks, which
        # are local functions and cannot be pickled, so the pool starts from a fresh copy.
        from sentence_transformers import SentenceTransformer

        fresh = SentenceTransformer(
            lm.spec.location, device="cpu", trust_remote_code=lm.spec.trust_remote_code,
            local_files_only=lm.spec.origin != "hub",
        )
        return fresh.start_multi_process_pool(["cpu"] * workers)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _encode_chunk(lm: LoadedModel, texts: list[str], batch_size: int, pool: Any = None) -> np.ndarray:
    if lm.spec.variant is None:
        vectors = lm.st.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False, pool=pool,
        )
        return np.asarray(vectors, dtype=np.float32)
    return _pooled(lm, texts, batch_size)


def _pooled(lm: LoadedModel, texts: list[str], batch_size: int) -> np.ndarray:
    """Mean pooling of a layer's token vectors (@layerN) or of input-table rows (@static)."""
    import torch

    out = np.empty((len(texts), lm.dim), dtype=np.float32)
    window = token_window(lm)
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        encoded = lm.tokenizer(
            batch, padding=True, truncation=True, max_length=window, return_tensors="pt",
            return_special_tokens_mask=True,
        )
        inputs = _inputs(lm, encoded)
        mask = inputs["attention_mask"].clone()
        with torch.inference_mode():
            if lm.spec.variant == "static":
                hidden = lm.transformer.get_input_embeddings()(inputs["input_ids"])
                # A bag of the text's own tokens: [CLS]/[SEP] would pull every text the same way.
                content = mask * (1 - encoded["special_tokens_mask"].to(mask.device))
                has_content = content.sum(dim=1, keepdim=True) > 0
                mask = torch.where(has_content, content, mask)
            else:
                result = lm.transformer(**inputs, output_hidden_states=True)
                hidden = result.hidden_states[lm.spec.layer or 0]
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(dim=1)
            pooled = summed / weights.sum(dim=1).clamp(min=1e-9)
        out[start : start + len(batch)] = pooled.float().cpu().numpy()
    return out


def pooled_layers(lm: LoadedModel, texts: list[str], batch_size: int) -> list[np.ndarray]:
    """Mean-pooled vectors of every layer 0..L (as ``@layerN`` computes them) from one model pass."""
    import torch

    out: list[np.ndarray] = []
    window = token_window(lm)
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        encoded = lm.tokenizer(batch, padding=True, truncation=True, max_length=window, return_tensors="pt")
        inputs = _inputs(lm, encoded)
        with torch.inference_mode():
            states = lm.transformer(**inputs, output_hidden_states=True).hidden_states
            # (batch, 1, tokens) @ (batch, tokens, dim): the masked sum of each layer as one small
            # matmul, with no (batch, tokens, dim) temporary per layer.
            weights = inputs["attention_mask"].unsqueeze(1).to(states[0].dtype)
            total = weights.sum(dim=2).clamp(min=1e-9)
            if not out:
                out = [np.empty((len(texts), states[0].shape[-1]), dtype=np.float32) for _ in states]
            for layer, hidden in enumerate(states):
                pooled = torch.bmm(weights, hidden).squeeze(1) / total
                out[layer][start : start + len(batch)] = pooled.float().cpu().numpy()
    return out


# ---------------------------------------------------------------- tokens


def tokenize(text: str, model: str | ModelSpec = DEFAULT_MODEL, *, trust_remote_code: bool = False) -> Tokenization:
    """The tokens of one text as the model sees it (special tokens included, nothing truncated)."""
    if not isinstance(text, str):
        raise InputError(f"text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise InputError("text is empty; type something to tokenize")
    lm = load_model(model, trust_remote_code=trust_remote_code)
    tokenizer = lm.tokenizer
    fast = bool(getattr(tokenizer, "is_fast", False))
    encoded = tokenizer(
        text, add_special_tokens=True, return_special_tokens_mask=True, return_offsets_mapping=fast, verbose=False
    )
    ids = [int(i) for i in encoded["input_ids"]]
    special = [bool(s) for s in encoded["special_tokens_mask"]]
    offsets = [(int(s), int(e)) for s, e in encoded["offset_mapping"]] if fast else [(0, 0)] * len(ids)
    offsets = [(0, 0) if sp else span for span, sp in zip(offsets, special)]
    tokens = [str(t) for t in tokenizer.convert_ids_to_tokens(ids)]
    return Tokenization(text, tokens, ids, offsets, special)


def _resolve_layer(lm: LoadedModel, layer: int) -> int:
    """A layer index 0..L (0 = embedding layer output, L = last); negative counts from the end."""
    whole_number(layer, "layer")
    count = lm.num_layers
    if not -(count + 1) <= layer <= count:
        raise InputError(f"layer {layer} is out of range: model {lm.name} has layers 0..{count} (or -1 for the last)")
    return int(layer) % (count + 1)


def token_embeddings(
    texts: Sequence[str],
    options: EncodeOptions | ModelSpec | str | None = None,
    *,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    include_special: bool = False,
    **option_overrides: Any,
) -> Embeddings:
    """The contextual vector of every token of every text from the options' `layer` (one row per
    token).

    `options`: EncodeOptions, or a model spec with keyword options (layer, cache, batch_size,
    device, trust_remote_code...). ``rows`` has text_index, position (within its text), token,
    token_id, start and end (character offsets in the text) and special. A ``@static`` spec gives
    input-table rows, a ``@layerN`` spec fixes the layer.
    """
    texts = _check_texts(texts)
    options = EncodeOptions.of(options, **option_overrides)
    spec, batch_size = options.model, options.batch_size or TOKEN_BATCH_SIZE
    store = _cache(options.cache)
    lm: LoadedModel | None = None

    def loaded() -> LoadedModel:
        nonlocal lm
        if lm is None:
            lm = load_model(spec, device=options.device)
        return lm

    used_layer = _token_layer(spec, options.layer, loaded)
    exact = "token:static" if used_layer is None else f"token:layer={used_layer}"
    quantize = options.quantize if used_layer is not None else "none"  # @static reads the table: exact
    representation = f"{exact}{cache_suffix(quantize)}"
    fp, found = _cached(store, spec, representation, texts)
    computed: dict[str, tuple[np.ndarray, Any]] = {}
    used, note = "", ""
    if len(found) < len(texts):
        # Tokens (offsets, windows) come from the model's own tokenizer; the hidden states from the
        # chosen runtime, whose graph outputs every layer.
        from dataclasses import replace

        chosen = _choose(replace(options, quantize=quantize), progress)
        used, note = chosen.label, chosen.note
        if store is not None and f"{exact}{chosen.cache_suffix}" != representation:
            representation = f"{exact}{chosen.cache_suffix}"
            fp, found = _cached(store, spec, representation, texts)
        model_ = loaded()
        if used_layer is not None:
            used_layer = _resolve_layer(model_, used_layer)
        fp = model_.fingerprint
        layer_ = used_layer

        def compute(chunk: list[str]) -> list[tuple[np.ndarray, Any]]:
            return _token_vectors(model_, chunk, layer_, batch_size, chosen)

        computed = _fill_missing(texts, found, max(1, batch_size * 4), compute, store, fp, representation, progress,
                                 stop)
    results = [found[index] if index in found else computed[text] for index, text in enumerate(texts)]
    vectors, rows = _token_rows(results, include_special, lm.dim if lm else 0)
    return Embeddings(vectors, spec.name, fp or "", "token", used_layer, rows, cached=len(found), backend=used,
                      backend_note=note)


def _token_layer(spec: ModelSpec, layer: int, loaded: Callable[[], LoadedModel]) -> int | None:
    """The layer token vectors come from (0..L), or None for ``@static`` (input-table rows).

    A negative layer is resolved from config.json when it can be, so a cached run loads no model.
    """
    if spec.variant == "static":
        return None
    wanted = spec.layer if spec.layer is not None else layer
    if isinstance(wanted, int) and wanted >= 0:
        return int(wanted)
    layers_on_disk = layer_count(spec) if isinstance(wanted, int) else None
    if layers_on_disk is not None and -(layers_on_disk + 1) <= wanted:
        return wanted % (layers_on_disk + 1)
    return _resolve_layer(loaded(), wanted)


def _token_rows(
    results: list[tuple[np.ndarray, dict]], include_special: bool, dim: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """All texts' token vectors stacked, and one row per token (TOKEN_ROW_COLUMNS)."""
    pieces: list[np.ndarray] = []
    columns: dict[str, list] = {name: [] for name in TOKEN_ROW_COLUMNS}
    for index, (vectors, extra) in enumerate(results):
        keep = [i for i, sp in enumerate(extra["special"]) if include_special or not sp]
        pieces.append(np.asarray(vectors)[keep])
        columns["text_index"].extend([index] * len(keep))
        columns["position"].extend(range(len(keep)))
        columns["token"].extend(extra["tokens"][i] for i in keep)
        columns["token_id"].extend(extra["ids"][i] for i in keep)
        columns["start"].extend(extra["offsets"][i][0] for i in keep)
        columns["end"].extend(extra["offsets"][i][1] for i in keep)
        columns["special"].extend(extra["special"][i] for i in keep)
    dim = pieces[0].shape[1] if pieces else dim
    vectors = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros((0, dim), np.float32)
    if len(vectors) == 0:
        raise InputError("the texts hold no tokens to show (only special tokens)")
    return vectors, pd.DataFrame(columns)


def _token_vectors(
    lm: LoadedModel, texts: list[str], layer: int | None, batch_size: int, backend: Any = None
) -> list[tuple[np.ndarray, dict]]:
    """Per text: (tokens x dim vectors, {tokens, ids, offsets, special}), across all windows."""
    return [(by_layer[layer], extra)
            for by_layer, extra in token_vectors_by_layer(lm, texts, [layer], batch_size, backend)]


def token_vectors_by_layer(
    lm: LoadedModel, texts: list[str], layers: Sequence[int | None], batch_size: int, backend: Any = None
) -> list[tuple[dict[int | None, np.ndarray], dict]]:
    """Per text: ({layer: tokens x dim vectors}, {tokens, ids, offsets, special}) from one model pass.

    Layer None is the input embedding table's rows (no position); 0..L are hidden states, from
    torch or from `backend` (an ``embeddings.backends.Backend`` with a converted model).
    """
    import torch

    tokenizer = lm.tokenizer
    fast = bool(getattr(tokenizer, "is_fast", False))
    window = token_window(lm)
    encoded = tokenizer(
        texts,
        truncation=True,
        max_length=window,
        return_overflowing_tokens=fast,
        stride=0,
        return_offsets_mapping=fast,
        return_special_tokens_mask=True,
        add_special_tokens=True,
        verbose=False,
    )
    ids_list = encoded["input_ids"]
    owner = encoded["overflow_to_sample_mapping"] if fast else list(range(len(texts)))
    table = lm.transformer.get_input_embeddings()
    per_window: list[dict[int | None, np.ndarray]] = [{} for _ in ids_list]
    hidden_layers = [layer for layer in layers if layer is not None]
    order = sorted(range(len(ids_list)), key=lambda i: -len(ids_list[i]))
    pad = tokenizer.pad_token_id
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        width = max(len(ids_list[i]) for i in chosen)
        ids = torch.full((len(chosen), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, i in enumerate(chosen):
            ids[row, : len(ids_list[i])] = torch.tensor(ids_list[i])
            mask[row, : len(ids_list[i])] = 1
        ids, mask = ids.to(lm.transformer.device), mask.to(lm.transformer.device)
        with torch.inference_mode():
            outputs: dict[int | None, Any] = {}
            if None in layers:
                outputs[None] = table(ids)
            if hidden_layers and backend is not None and backend.model is not None:
                from embeddings.backends.converted import feed_of

                states = backend.hidden_states(feed_of(backend.model.recipe, ids.cpu(), mask.cpu()), hidden_layers)
                outputs.update({layer: torch.from_numpy(state) for layer, state in zip(hidden_layers, states)})
            elif hidden_layers:
                states = lm.transformer(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
                outputs.update({layer: states[layer] for layer in hidden_layers})
        for layer, hidden in outputs.items():
            hidden = hidden.float().cpu().numpy()
            for row, i in enumerate(chosen):
                per_window[i][layer] = hidden[row, : len(ids_list[i])]
    results: list[tuple[dict, dict]] = [
        ({layer: [] for layer in layers}, {"tokens": [], "ids": [], "offsets": [], "special": []}) for _ in texts
    ]
    for w, ids in enumerate(ids_list):
        vectors, extra = results[owner[w]]
        for layer in layers:
            vectors[layer].append(per_window[w][layer])
        extra["ids"].extend(int(i) for i in ids)
        extra["tokens"].extend(str(t) for t in tokenizer.convert_ids_to_tokens(list(ids)))
        special = [bool(s) for s in encoded["special_tokens_mask"][w]]
        extra["special"].extend(special)
        spans = encoded["offset_mapping"][w] if fast else [(0, 0)] * len(ids)
        extra["offsets"].extend([0, 0] if sp else [int(s), int(e)] for (s, e), sp in zip(spans, special))
    return [
        ({layer: np.concatenate(v) if v else np.zeros((0, lm.dim), np.float32) for layer, v in by_layer.items()}, extra)
        for by_layer, extra in results
    ]


# ---------------------------------------------------------------- vocabulary


def vocabulary_embeddings(
    options: EncodeOptions | ModelSpec | str | None = None,
    *,
    tokens: Sequence[str] | None = None,
    **option_overrides: Any,
) -> Embeddings:
    """Rows of the model's input embedding table: for `tokens` (words; default: the options'
    vocab_tokens), or the options' `vocab_size` most useful.

    A word the tokenizer splits into several pieces gets the mean of their rows (token_id -1,
    pieces > 1). The "most useful" entries are whole alphabetic words in vocabulary order,
    which for WordPiece and BPE vocabularies follows frequency closely; special tokens,
    unused slots, word pieces and byte junk are left out.
    """
    options = EncodeOptions.of(options, **option_overrides)
    tokens = options.vocab_tokens if tokens is None else tokens
    lm = load_model(options.model, device=options.device)
    tokenizer = lm.tokenizer
    table = lm.transformer.get_input_embeddings().weight.detach().float().cpu().numpy()
    if tokens is None:
        ids, words = _useful_vocabulary(tokenizer, min(options.vocab_size, table.shape[0]))
        vectors = table[ids]
        rows = pd.DataFrame({"token": words, "token_id": ids, "pieces": 1})
    else:
        words = list(dict.fromkeys(w.strip() for w in tokens if isinstance(w, str) and w.strip()))
        if not words:
            raise InputError("no words given for the vocabulary map")
        vectors = np.empty((len(words), table.shape[1]), dtype=np.float32)
        ids_out, pieces_out = [], []
        for i, word in enumerate(words):
            pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
            spaced = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
            if len(spaced) == 1 and len(pieces) != 1:
                pieces = spaced  # byte-level BPE: the word as it appears after a space
            if not pieces:
                raise InputError(f"word {word!r}: the tokenizer gives no tokens for it")
            vectors[i] = table[pieces].mean(axis=0)
            ids_out.append(int(pieces[0]) if len(pieces) == 1 else -1)
            pieces_out.append(len(pieces))
        rows = pd.DataFrame({"token": words, "token_id": ids_out, "pieces": pieces_out})
    return Embeddings(np.ascontiguousarray(vectors, dtype=np.float32), lm.name, lm.fingerprint, "vocab", None, rows)


def _useful_vocabulary(tokenizer: Any, top_n: int) -> tuple[list[int], list[str]]:
    vocab_size = len(tokenizer)
    raw = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    specials = set(getattr(tokenizer, "all_special_tokens", []) or [])
    # Byte-level BPE (GPT-2) and SentencePiece mark a word start with a prefix; word pieces
    # without it are word middles, so keep only prefixed ones when the vocabulary has them.
    starts = [p for p in ("Ġ", "▁") if sum(1 for t in raw if isinstance(t, str) and t.startswith(p)) > vocab_size // 10]
    prefix = starts[0] if starts else None
    ids: list[int] = []
    words: list[str] = []
    seen: set[str] = set()
    for token_id, token in enumerate(raw):
        if not isinstance(token, str) or token in specials or token.startswith(("##", "[unused", "<")):
            continue
        if prefix is not None:
            if not token.startswith(prefix):
                continue
            word = token[len(prefix):]
        else:
            word = token
        if len(word) < 2 or not word.isalpha() or word.lower() in seen:
            continue
        seen.add(word.lower())
        ids.append(token_id)
        words.append(word)
        if len(ids) >= top_n:
            break
    if not ids:
        raise ModelError("the model's vocabulary holds no whole-word tokens to show")
    return ids, words
