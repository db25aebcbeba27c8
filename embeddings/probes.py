"""How well vectors separate labels: k-NN label accuracy, silhouette, a linear probe.

Used to judge a fine-tuned model against its base (``embeddings.finetune``) and each layer of
a model against the others (``embeddings.layers``). numpy and scikit-learn only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from embeddings.errors import InputError
from embeddings.neighbors import knn

# Rows of query x reference similarities held at once (float64).
BLOCK_BYTES = 1 << 25


def _codes(labels: Sequence) -> tuple[np.ndarray, list[str]]:
    """Integer codes for labels (compared as text) and the class names in order of first use."""
    names = [str(v) for v in labels]
    classes = list(dict.fromkeys(names))
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[name] for name in names], dtype=np.int64), classes


def _unit(vectors: np.ndarray) -> np.ndarray:
    data = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return data / np.where(norms > 0, norms, 1.0)


def _vote(neighbour_codes: np.ndarray, classes: int) -> np.ndarray:
    """Majority label per row; a tie goes to the tied label met first (the nearest)."""
    n, k = neighbour_codes.shape
    counts = np.zeros((n, classes))
    rank_bonus = (k - np.arange(k)) / (k + 1) ** 2  # < 1 in total: breaks ties only
    for column in range(k):
        np.add.at(counts, (np.arange(n), neighbour_codes[:, column]), 1.0 + rank_bonus[column])
    return counts.argmax(axis=1)


def knn_accuracy(
    vectors: np.ndarray,
    labels: Sequence,
    *,
    reference_vectors: np.ndarray | None = None,
    reference_labels: Sequence | None = None,
    k: int = 5,
) -> float:
    """Share of points whose label is the majority label of their k nearest (cosine) neighbours.

    Without a reference, each point's neighbours are the other points (leave-one-out). With one
    (e.g. the training texts), each point is classified by its k nearest reference points.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a whole number of at least 1, not {k!r}")
    vectors = np.asarray(vectors)
    if len(vectors) != len(labels):
        raise InputError(f"{len(vectors)} vectors but {len(labels)} labels")
    if reference_vectors is None:
        if len(vectors) < 2:
            raise InputError("k-NN accuracy needs at least 2 points")
        codes, classes = _codes(labels)
        neighbours = knn(vectors, int(k), "cosine")[0]
        return float(np.mean(_vote(codes[neighbours], len(classes)) == codes))
    if reference_labels is None or len(reference_vectors) != len(reference_labels):
        raise InputError("reference vectors need one label each")
    codes, classes = _codes(list(reference_labels) + list(labels))
    ref_codes, query_codes = codes[: len(reference_labels)], codes[len(reference_labels):]
    ref = _unit(reference_vectors)
    query = _unit(vectors)
    k = min(int(k), len(ref))
    rows = max(1, BLOCK_BYTES // (8 * max(1, len(ref))))
    predicted = np.empty(len(query), dtype=np.int64)
    for start in range(0, len(query), rows):
        similarity = query[start : start + rows] @ ref.T
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1, kind="stable")
        nearest = np.take_along_axis(top, order, axis=1)
        predicted[start : start + rows] = _vote(ref_codes[nearest], len(classes))
    return float(np.mean(predicted == query_codes))


def silhouette(vectors: np.ndarray, labels: Sequence) -> float | None:
    """Mean cosine silhouette of the labels (-1..1, higher = tighter, better separated classes).

    None when it is undefined (fewer than 2 classes, or every point its own class).
    """
    from sklearn.metrics import silhouette_score

    codes, classes = _codes(labels)
    if not 2 <= len(classes) <= len(codes) - 1:
        return None
    value = float(silhouette_score(np.asarray(vectors, dtype=np.float64), codes, metric="cosine"))
    return value if math.isfinite(value) else None


def linear_probe_accuracy(vectors: np.ndarray, labels: Sequence, *, folds: int = 5, seed: int = 0) -> float | None:
    """Cross-validated accuracy of a logistic regression from the vectors to the labels.

    Stratified folds (fewer when the smallest class is small); None when some class has fewer
    than 2 points, or there is only one class.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    codes, classes = _codes(labels)
    smallest = int(np.bincount(codes).min()) if len(codes) else 0
    if len(classes) < 2 or smallest < 2:
        return None
    splitter = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.5))
    scores = cross_val_score(probe, np.asarray(vectors, dtype=np.float64), codes, cv=splitter)
    return float(np.mean(scores))
