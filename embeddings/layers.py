"""Walk through the layers: the same texts (mean-pooled) or tokens after every layer of a model.

- ``layer_vectors``: the representation after each layer, from the embedding layer's output
  (layer 0: the input table plus position embeddings) to the last, from ONE model pass with
  ``output_hidden_states``. Cached per layer under the keys the rest of the library uses, so a
  ``SPEC@layerN`` run (text level) or a token run at ``--layer N`` finds these vectors and the
  other way round.
- ``aligned_layer_projections``: a 2D/3D layout per layer, each Procrustes-aligned to the next
  layer's (the last layer's layout is the anchor), so the same point travels smoothly.
- ``walk_layers``: the layouts plus, per layer, the k-NN overlap with the last layer and, with
  labels, k-NN label accuracy and a cross-validated linear probe.
- ``occurrence_spread``: for a word, how far apart its occurrences in different texts are at
  each layer ("bank" of a river and of money separate as context is mixed in).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from embeddings.checks import ProgressFn, StopFn, report
from embeddings.choices import DEFAULT_MODEL, TEXT_LEVELS
from embeddings.encode import (
    Embeddings, _cache, _check_stop, _check_texts, _token_rows, pooled_layers, token_vectors_by_layer,
)
from embeddings.errors import InputError, ModelError
from embeddings.models import ModelSpec, fingerprint, layer_count, load_model
from embeddings.reduce import Projection, project

KNN_K = 10
# Texts per model call: small enough for smooth progress and a prompt stop.
CHUNK_TEXTS = 256


@dataclass(frozen=True, eq=False)
class LayerWalk:
    """The same points after every layer: ``layers[i]`` is the (n, d) matrix after layer i."""

    layers: list[np.ndarray]
    model: str
    fingerprint: str
    level: str  # "text" | "token"
    rows: pd.DataFrame | None = None  # one row per token at token level
    cached: int = field(default=0, compare=False)  # texts read from the cache

    def __len__(self) -> int:
        return int(self.layers[0].shape[0])

    @property
    def count(self) -> int:
        """Number of layers walked (the embedding layer 0 and every transformer layer)."""
        return len(self.layers)

    def embeddings(self, layer: int) -> Embeddings:
        """One layer as Embeddings (what the rest of the library takes)."""
        if not -self.count <= layer < self.count:
            raise InputError(f"layer {layer} is out of range: walked layers 0..{self.count - 1}")
        index = layer % self.count
        return Embeddings(self.layers[index], self.model, self.fingerprint, self.level, index, self.rows)


    def points(self, layer: int, dataset: Any):  # (int, Dataset) -> Points
        """One layer as Points: its vectors with the table ``embed_points`` gives the same level."""
        from embeddings.points import Points, token_table

        chosen = self.embeddings(layer)
        if self.level == "token":
            table, label = token_table(self.rows, dataset.metadata, dataset.text_column), "token"
        else:
            table, label = dataset.metadata.reset_index(drop=True), dataset.text_column
        return Points(chosen.vectors, table, level=self.level, model=self.model, fingerprint=self.fingerprint,
                      layer=chosen.layer, source=dataset.source, text_column=label)


def _layer_fingerprint(base: str, layer: int) -> str:
    """The fingerprint encode_texts gives SPEC@layerN (models._with_variant)."""
    return f"{base}@layer:{layer}"


def layer_vectors(
    texts: Sequence[str],
    model: str | ModelSpec = DEFAULT_MODEL,
    *,
    level: str = "text",
    batch_size: int = 32,
    include_special: bool = False,
    cache: bool = True,
    progress: ProgressFn | None = None,
    stop: StopFn | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    backend: str = "auto",
) -> LayerWalk:
    """Every layer's representation of `texts` (level "text": mean-pooled; "token": per token).

    `backend`: what runs the model (``embeddings.backends``). The walk is exact (no int8), so its
    vectors share the cache with ``@layerN`` and token vectors from any exact backend."""
    texts = _check_texts(texts)
    if level not in TEXT_LEVELS:
        raise InputError(f"unknown level {level!r}; choose one of {', '.join(TEXT_LEVELS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch size must be a whole number of at least 1, not {batch_size!r}")
    spec = ModelSpec.parse(model, trust_remote_code=trust_remote_code)
    if spec.variant is not None:
        raise ModelError(f"model {spec.raw}: walk the layers of the model itself, not of a variant")
    store = _cache(cache)
    base_fp = fingerprint(spec) if store is not None else None
    count = layer_count(spec)
    found: dict[int, dict[int, tuple[np.ndarray, Any]]] = {}
    if base_fp is not None and count is not None:
        found = {layer: store.get_many(*_key(base_fp, level, layer), texts) for layer in range(count + 1)}
    total = len(texts)
    complete = [i for i in range(total) if found and all(i in f for f in found.values())]
    done = set(complete)
    missing = list(dict.fromkeys(texts[i] for i in range(total) if i not in done))
    computed: dict[str, list] = {}
    if missing:
        from embeddings.backends import choose_backend

        chosen = choose_backend(spec, backend, "none", device=device, progress=progress)
        lm = load_model(spec, device=device)
        base_fp, count = lm.fingerprint, lm.num_layers
        computed = _compute(lm, missing, level, batch_size, store, progress, stop, len(complete), total, chosen)
    by_layer = [
        [found[layer][i] if i in done else computed[text][layer] for i, text in enumerate(texts)]
        for layer in range(count + 1)
    ]
    name = spec.name
    if level == "text":
        layers = [np.stack([np.asarray(v) for v, _ in values]).astype(np.float32) for values in by_layer]
        return LayerWalk(layers, name, base_fp or "", "text", None, cached=len(complete))
    layers, rows = [], None
    for values in by_layer:
        vectors, rows = _token_rows(values, include_special, 0)
        layers.append(vectors)
    return LayerWalk(layers, name, base_fp or "", "token", rows, cached=len(complete))


def _key(base_fp: str, level: str, layer: int) -> tuple[str, str]:
    """(fingerprint, representation) of one layer's vectors, as encode_texts (@layerN) and token_embeddings key them."""
    if level == "text":
        return _layer_fingerprint(base_fp, layer), "text"
    return base_fp, f"token:layer={layer}"


def _compute(lm: Any, texts: list[str], level: str, batch_size: int, store: Any, progress: ProgressFn | None,
             stop: StopFn | None, done: int, total: int, backend: Any = None) -> dict[str, list]:
    """{text: [per layer (vector, extra)]} for texts not in the cache; stores each chunk as it goes."""
    layers = list(range(lm.num_layers + 1))
    # Longest first, as encode_texts does: similar lengths share a batch, so padding stays low.
    order = sorted(texts, key=len, reverse=True)
    out: dict[str, list] = {}
    report(progress, done, total)
    for start in range(0, len(order), CHUNK_TEXTS):
        _check_stop(stop)
        chunk = order[start : start + CHUNK_TEXTS]
        if level == "text":
            if backend is not None and backend.model is not None:  # one pass of the converted graph
                pooled = backend.pooled_layers(chunk, batch_size, layers)
            else:
                pooled = pooled_layers(lm, chunk, batch_size)
            values = [[(pooled[layer][j], None) for layer in layers] for j in range(len(chunk))]
        else:
            results = token_vectors_by_layer(lm, chunk, layers, max(1, batch_size // 2), backend)
            values = [[(vectors[layer], extra) for layer in layers] for vectors, extra in results]
        for text, per_layer in zip(chunk, values):
            out[text] = per_layer
        if store is not None:
            for layer in layers:
                fp, representation = _key(lm.fingerprint, level, layer)
                store.put_many(fp, representation, ((t, v[layer][0], v[layer][1]) for t, v in zip(chunk, values)))
        done = min(total, done + len(chunk))
        report(progress, done, total)
    return out


# ---------------------------------------------------------------- layouts and figures


def aligned_layer_projections(
    layers: Sequence[np.ndarray],
    method: str = "pca",
    dims: int = 2,
    seed: int = 0,
    *,
    max_points: int | None = None,
    progress: ProgressFn | None = None,
    **params: Any,
) -> list[Projection]:
    """One layout per layer; each aligned (Procrustes) to the next layer's, the last one as it is.

    Aligning neighbours rather than everything to one layer keeps each step small, so a point
    moves only as far as its layers really differ. UMAP and t-SNE start from the next layer's
    layout. Sampling (above `max_points`) is seeded: every layer keeps the same rows.
    """
    from embeddings.compare import procrustes_align

    if not layers:
        raise InputError("no layers to lay out")
    method = str(method).lower()
    out: list[Projection | None] = [None] * len(layers)
    anchor: Projection | None = None
    for done, index in enumerate(reversed(range(len(layers))), start=1):
        init = anchor.coords if anchor is not None and method in ("umap", "tsne") else None
        projection = project(layers[index], method, dims, seed=seed, max_points=max_points, init=init, **params)
        if anchor is not None:
            aligned = procrustes_align(anchor.coords, projection.coords).astype(np.float32)
            projection = dataclasses.replace(
                projection, coords=aligned, params={**projection.params, "aligned_to_layer": index + 1}
            )
        out[index] = projection
        anchor = projection
        if progress is not None:
            progress(done, len(layers))
    return [p for p in out if p is not None]


@dataclass(frozen=True)
class LayerFigures:
    """Per layer: neighbour overlap with the last layer and how well labels separate."""

    knn_overlap_with_last: list[float]
    knn_accuracy: list[float | None]
    probe_accuracy: list[float | None]
    k: int


def layer_figures(
    walk: LayerWalk, labels: Sequence | None = None, *, k: int = KNN_K, probe: bool = True, seed: int = 0,
    progress: ProgressFn | None = None,
) -> LayerFigures:
    """k-NN overlap of each layer with the last (cosine), and with labels k-NN and probe accuracy."""
    from embeddings.compare import jaccard_rows
    from embeddings.neighbors import knn
    from embeddings.probes import knn_accuracy, linear_probe_accuracy

    n = len(walk)
    if n < 3:
        raise InputError(f"walking the layers needs at least 3 points, got {n}")
    if labels is not None and len(labels) != n:
        raise InputError(f"{n} points but {len(labels)} labels")
    k = min(int(k), n - 1)
    last = knn(walk.layers[-1], k, "cosine")[0]
    overlap, accuracy, probes = [], [], []
    for index, vectors in enumerate(walk.layers):
        mine = last if index == walk.count - 1 else knn(vectors, k, "cosine")[0]
        overlap.append(float(jaccard_rows(mine, last).mean()))
        if labels is not None:
            accuracy.append(knn_accuracy(vectors, labels, k=k))
            probes.append(linear_probe_accuracy(vectors, labels, seed=seed) if probe else None)
        else:
            accuracy.append(None)
            probes.append(None)
        if progress is not None:
            progress(index + 1, walk.count)
    return LayerFigures(overlap, accuracy, probes, k)


def _token_text(token: str) -> str:
    """A token as a word: WordPiece '##', byte-level BPE 'Ġ' and SentencePiece '▁' marks removed."""
    return token.replace("##", "").replace("Ġ", "").replace("▁", "").strip().lower()


def occurrences(walk: LayerWalk, word: str) -> np.ndarray:
    """Rows of the token walk whose token is `word` (whole tokens, case-insensitive)."""
    if walk.level != "token" or walk.rows is None:
        raise InputError("occurrences of a word need a walk at token level")
    wanted = str(word).strip().lower()
    if not wanted:
        raise InputError("no word given")
    matches = np.flatnonzero(walk.rows["token"].map(_token_text).to_numpy() == wanted)
    if len(matches) == 0:
        raise InputError(f"word {word!r}: no token of the texts is this word (a word split into pieces is not a token)")
    return matches


def occurrence_spread(walk: LayerWalk, word: str) -> list[float]:
    """Per layer, the mean cosine distance between the occurrences of `word` (0 = all alike)."""
    rows = occurrences(walk, word)
    if len(rows) < 2:
        raise InputError(f"word {word!r}: occurs once; its spread needs at least 2 occurrences")
    out = []
    for vectors in walk.layers:
        chosen = np.asarray(vectors[rows], dtype=np.float64)
        chosen /= np.maximum(np.linalg.norm(chosen, axis=1, keepdims=True), 1e-12)
        similarity = chosen @ chosen.T
        upper = np.triu_indices(len(rows), k=1)
        out.append(float(np.mean(1.0 - similarity[upper])))
    return out


@dataclass(frozen=True)
class LayerReport:
    """What ``walk_layers`` found: aligned layouts and per-layer figures."""

    walk: LayerWalk
    projections: list[Projection]
    figures: LayerFigures
    method: str
    seconds: float
    word: str | None = None
    word_spread: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no coordinates: see ``coordinates``)."""
        layers = []
        for index in range(self.walk.count):
            entry: dict[str, Any] = {
                "layer": index,
                "knn_overlap_with_last": self.figures.knn_overlap_with_last[index],
                "knn_accuracy": self.figures.knn_accuracy[index],
                "probe_accuracy": self.figures.probe_accuracy[index],
            }
            if self.word_spread is not None:
                entry["word_spread"] = self.word_spread[index]
            layers.append(entry)
        return {
            "model": self.walk.model,
            "fingerprint": self.walk.fingerprint,
            "level": self.walk.level,
            "points": len(self.walk),
            "layers_walked": self.walk.count,
            "k": self.figures.k,
            "metric": "cosine",
            "method": self.method,
            "word": self.word,
            "seconds": round(self.seconds, 3),
            "layers": layers,
        }

    def coordinates(self) -> pd.DataFrame:
        """Long table: one row per (layer, point) with layer, row, x, y[, z]."""
        frames = []
        for index, projection in enumerate(self.projections):
            rows = projection.rows
            frame = pd.DataFrame({"layer": index, "row": rows})
            for axis, name in enumerate("xyz"[: projection.dims]):
                frame[name] = projection.coords[:, axis]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def walk_layers(
    walk: LayerWalk,
    labels: Sequence | None = None,
    *,
    method: str = "pca",
    dims: int = 2,
    seed: int = 0,
    k: int = KNN_K,
    probe: bool = True,
    word: str | None = None,
    max_points: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LayerReport:
    """Aligned layouts and per-layer figures for a walk; `progress` gets (stage, done, total)."""
    started = time.perf_counter()
    stage = (lambda name: (lambda done, total: progress(name, done, total))) if progress else (lambda name: None)
    spread = occurrence_spread(walk, word) if word else None
    figures = layer_figures(walk, labels, k=k, probe=probe, seed=seed, progress=stage("figures"))
    projections = aligned_layer_projections(walk.layers, method, dims, seed, max_points=max_points,
                                            progress=stage("layouts"))
    return LayerReport(walk, projections, figures, method, time.perf_counter() - started, word, spread)
