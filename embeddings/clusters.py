"""Clusters of points and their names: HDBSCAN where the structure is, then distinctive keywords.

``find_clusters`` is the one entry point. By default it clusters in the original space: the
vectors, cosine-normalised and reduced by UMAP to a few dimensions first (HDBSCAN on 384 raw
dimensions is slow and finds mostly noise, see benchmarks/README.md), so the clusters are the
same whatever layout is drawn; a 2D PCA picture squeezes topics on top of each other (900
docstrings on PCA: 55% noise and ARI 0.01 against their module, against 2% noise in the original
space). ``space="layout"`` clusters the 2D/3D coordinates the user sees instead. Every cluster is
named by three keywords (BERTopic's c-TF-IDF: all texts of a cluster as one document, weighted
against the other clusters, English stop words out) chosen to tell clusters apart: words common
to most clusters name none, no word twice in a name, no two clusters with the same lead word;
optionally re-ranked by the points' own model (``encode``). Noise is cluster -1, named "noise".
Cluster 0 is the largest cluster, 1 the next, and so on, so numbers mean the same thing on every
run with the same inputs and seed.

scikit-learn's HDBSCAN builds its spanning tree with Prim's algorithm, O(n^2): 39 s at 100k
points in 2D on two cores against 0.2 s at 10k. Above ``CLUSTER_SAMPLE`` points it clusters a
seeded sample and gives every other point the cluster of its nearest sampled point (noise when
that point is noise), and names the clusters from the sampled texts: 100k points in a few
seconds; benchmarks/README.md says how well that agrees with clustering every point.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from embeddings.checks import check_vectors, whole_number
from embeddings.choices import CLUSTER_SELECTIONS, CLUSTER_SPACES
from embeddings.errors import InputError

if TYPE_CHECKING:  # annotations only: clusters work on plain arrays without either module
    from embeddings.points import Points
    from embeddings.reduce import Projection

NOISE = -1
NOISE_NAME = "noise"
CLUSTER_COLUMN = "cluster"
LABEL_COLUMN = "cluster_label"
# HDBSCAN runs on at most this many points (seeded sample); the rest take their nearest sampled
# point's cluster. 20k points take ~1 s; the O(n^2) spanning tree makes 100k take ~40 s.
CLUSTER_SAMPLE = 20_000
# Original space: UMAP to this many dimensions (BERTopic's choice: min_dist 0 packs clusters
# tightly) over this many neighbours before HDBSCAN. On the sample sentences 5 dims gave ARI 0.66
# against the topics, PCA to 10 dims 0.62, PCA to 50 dims 0.04 (mostly noise), the raw 384 dims
# 0.00 (all noise). 30 neighbours rather than UMAP's 15 see more of each topic: on six random
# 10-module docstring sets the median ARI against the module went 0.40 -> 0.41, on the sample
# sentences 0.59 -> 0.67 (benchmarks/README.md, "Clusters that follow the data").
ORIGINAL_DIMS = 5
ORIGINAL_NEIGHBORS = 30
# Points beyond the sample are matched to sampled ones in this many PCA dimensions of the
# normalised vectors (exact enough for a nearest neighbour, and 10x cheaper than 384 dims).
ASSIGN_DIMS = 32
# Neighbours that make a point "core" (HDBSCAN's min_samples) on a 2D/3D layout, at most this many
# by default: larger values smooth a picture's densities so much that neighbouring topics merge.
# In the original space min_samples is the minimum cluster size (HDBSCAN's own default): smoother
# densities there split fewer real topics into pieces (random 10-module docstring sets: median
# ARI 0.34 with at most 8, 0.40 with the size).
MIN_SAMPLES = 8
# A noise point closer to a clustered point than this many times the median core distance of
# clustered points joins that cluster: HDBSCAN leaves the fringe of every cluster as noise, and
# a fringe point is not an outlier (sample sentences on a layout: ARI 0.57 -> 0.65, noise 19% ->
# 9%; docstrings in the original space at 3x: noise 9-20% -> 0-3%, ARI up 0.02-0.06). Points
# farther than that from every cluster stay noise.
FRINGE = {"layout": 1.0, "original": 3.0}
TOP_KEYWORDS = 3
# A word in at least this share (and 2) of a cluster's texts is present in that cluster; a word
# present in more than COMMON_SHARE of the clusters (3 or more) names none of them: it cannot tell
# them apart ("return", "returns", "value" in docstrings led 4 of 9 names without this rule).
PRESENT_SHARE = 0.05
COMMON_SHARE = 0.5
# Terms per cluster (best c-TF-IDF first) that the model re-ranks when names are refined, and the
# weight of diversity against closeness to the cluster's centre in that re-ranking (MMR).
CANDIDATES = 12
DIVERSITY = 0.3
# words -> one vector per word (the points' own model), for refining names
WordEncoder = Callable[[list[str]], np.ndarray]
# Markers that subword tokenizers put on tokens (WordPiece "##", byte-level BPE "Ġ", SentencePiece "▁").
TOKEN_MARKERS = re.compile(r"^(##|\u0120|\u2581)+")


@dataclass(frozen=True)
class Clusters:
    """Cluster of every point, each cluster's name, size and centre on the layout."""

    labels: np.ndarray  # (n,) int: 0..k-1, largest first; -1 = noise
    names: dict[int, str]  # cluster -> "word, word, word"; -1 -> "noise" when there is noise
    keywords: dict[int, list[str]]  # cluster -> its keywords, most distinctive first
    sizes: dict[int, int]  # cluster -> number of points (noise included as -1)
    centres: np.ndarray | None  # (k, dims) layout coordinates of cluster 0..k-1 (a member point)
    space: str
    params: dict = field(default_factory=dict)
    note: str | None = None
    seconds: float = 0.0

    @property
    def count(self) -> int:
        """Number of clusters, noise not counted."""
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    @property
    def noise_share(self) -> float:
        """The share of points left as noise (0..1)."""
        return float(np.mean(self.labels < 0)) if len(self.labels) else 0.0

    def summary(self) -> str:
        """One line for people: clusters, the noise share, where and how they were found."""
        noise = self.sizes.get(NOISE, 0)
        where = (f"original space (UMAP to {self.params.get('reduced_dims', ORIGINAL_DIMS)} dims)"
                 if self.space == "original" else "layout space")
        names = "names refined by the model" if self.params.get("refined") else "c-TF-IDF names"
        return (f"{self.count} clusters, {self.noise_share:.0%} noise ({noise:,} of {len(self.labels):,} points), "
                f"{where}, min size {self.params['min_cluster_size']}, {names}, {self.seconds:.1f} s")

    def point_names(self) -> np.ndarray:
        """The name of every point's cluster ("noise" for noise), as an object array."""
        lookup = np.array([self.names.get(c, "") for c in range(self.count)] + [NOISE_NAME], dtype=object)
        return lookup[np.where(self.labels < 0, self.count, self.labels)]

    def annotations(self) -> list[dict[str, Any]]:
        """One {"x", "y"[, "z"], "text"} per cluster, at its centre: names to draw on the map."""
        if self.centres is None:
            return []
        notes = []
        for cluster, centre in enumerate(self.centres):
            note: dict[str, Any] = {axis: float(value) for axis, value in zip("xyz", centre)}
            note["text"] = self.names[cluster]
            notes.append(note)
        return notes


def default_min_cluster_size(n: int) -> int:
    """A minimum cluster size that grows with the data: 10 at 300 points, 60 at 10k, 190 at 100k.

    sqrt scaling keeps the number of clusters readable (tens, not thousands) at any size while
    small topics in small data still count (0.6 * sqrt(n), at least 5).
    """
    return max(5, int(round(0.6 * np.sqrt(max(n, 1)))))


def find_clusters(
    texts: Sequence[str] | None,
    coords: np.ndarray | None = None,
    *,
    vectors: np.ndarray | None = None,
    space: str = "original",
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    selection: str = "leaf",
    seed: int = 0,
    tokens: bool = False,
    max_points: int = CLUSTER_SAMPLE,
    encode: WordEncoder | None = None,
) -> Clusters:
    """Cluster points and name the clusters.

    texts: one per point (names come from them; None gives numbered names). vectors: (n, d), for
    space="original" (the default) and for refining names. coords: the layout (n, 2|3), needed
    for space="layout" and for the centres where names are drawn. tokens=True names clusters of
    tokens or vocabulary entries by the tokens themselves (subword markers stripped). selection:
    HDBSCAN's cluster selection, "leaf" (the finest clusters above the minimum size; default
    because "eom" merged neighbouring topics of the sample sentences into one) or "eom".
    encode: words -> vectors with the points' own model; re-ranks each cluster's candidate
    keywords by closeness to the cluster's mean vector (see name_clusters).
    """
    started = time.perf_counter()
    if space not in CLUSTER_SPACES:
        raise InputError(f"cluster space must be one of {', '.join(CLUSTER_SPACES)}, not {space!r}")
    if selection not in CLUSTER_SELECTIONS:
        raise InputError(f"cluster selection must be one of {', '.join(CLUSTER_SELECTIONS)}, not {selection!r}")
    layout = check_vectors(coords, "layout coordinates") if coords is not None else None
    if space == "layout" and layout is None:
        raise InputError("clustering on the layout needs its coordinates; project the points first")
    original = check_vectors(vectors, "vectors") if vectors is not None else None
    if space == "original" and original is None:
        raise InputError("clustering in the original space needs the vectors")
    if encode is not None and (original is None or texts is None or tokens):
        raise InputError("refining names with the model needs the texts and their vectors (text level)")
    n = len(layout) if layout is not None else len(original)
    texts = None if texts is None else list(texts)  # by position, whatever index a Series had
    for what, array in (("vectors", original), ("texts", texts)):
        if array is not None and len(array) != n:
            raise InputError(f"{what}: {len(array)} rows for {n} points; give one per point")
    if n < 2:
        raise InputError(f"clustering needs at least 2 points, got {n}")
    size = (default_min_cluster_size(n) if min_cluster_size is None
            else whole_number(min_cluster_size, "min cluster size", 2))
    if min_samples is not None:
        samples = whole_number(min_samples, "min samples", 1)
    else:
        samples = size if space == "original" else min(size, MIN_SAMPLES)
    whole_number(max_points, "max points", 10)

    notes: list[str] = []
    sample = None
    if n > max_points:
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=max_points, replace=False))
        notes.append(f"HDBSCAN ran on a random sample of {max_points:,} of {n:,} points; "
                     "the others joined the cluster of their nearest sampled point")
    if space == "layout":
        assign_points = layout.astype(np.float64)
        clustered = assign_points if sample is None else assign_points[sample]
    else:  # `clustered`: the sampled points' UMAP embedding; `assign_points`: every point, to match
        clustered, assign_points = _original_space(original, sample, seed, notes)
    scale = len(clustered) / n
    sample_size = max(2, int(round(size * scale))) if sample is not None else size
    sample_samples = max(1, min(samples, sample_size))
    labels = _hdbscan(clustered, sample_size, sample_samples, selection)
    labels = _absorb_fringe(clustered, labels, sample_samples, FRINGE[space])
    if sample is not None:
        labels = _assign_rest(assign_points, sample, labels)
    labels = _by_size(labels)

    keywords: dict[int, list[str]] = {}
    if texts is not None:
        # Names come from the sampled points when there is a sample: the same keywords (every
        # cluster has at least min_cluster_size * sample share texts in it) at a fifth of the cost.
        named = np.arange(n) if sample is None else sample
        keywords = name_clusters(labels[named], [texts[i] for i in named], tokens=tokens, encode=encode,
                                 vectors=None if original is None else original[named])
    names = _unique_names(labels, keywords)
    sizes = {int(c): int(s) for c, s in zip(*np.unique(labels, return_counts=True))}
    centres = _centres(layout, labels) if layout is not None else None
    params = {"space": space, "min_cluster_size": size, "min_samples": samples, "selection": selection,
              "seed": seed, "max_points": max_points, "fringe": FRINGE[space], "refined": encode is not None}
    if space == "original":
        params.update(reduced_dims=ORIGINAL_DIMS, umap_neighbors=ORIGINAL_NEIGHBORS)
    return Clusters(labels=labels, names=names, keywords=keywords, sizes=sizes, centres=centres, space=space,
                    params=params, note="; ".join(notes) or None, seconds=time.perf_counter() - started)


def cluster_points(
    points: Points, projection: Projection | None = None, *, space: str = "original", refine_names: bool = False,
    **options: Any
) -> tuple[Points, Clusters]:
    """Cluster Points (in the original space, or on a Projection's layout) and name the clusters.

    Returns the Points with `cluster` and `cluster_label` columns in their table, and the
    Clusters. Tokens and vocabulary are named by their tokens. refine_names: re-rank the names'
    candidate words with the points' own model (text level; see name_clusters). options: as
    find_clusters.
    """
    coords = None
    if projection is not None:
        if len(projection.rows) != len(points) or projection.subset_rows is not None:
            raise InputError(f"the projection lays out {len(projection.rows):,} of {len(points):,} points; "
                             "cluster points.subset(projection.rows) instead")
        coords = projection.coords
    column = points.label_column
    texts = None if column is None else points.table[column].astype(str).tolist()
    encode = word_encoder(points.model) if refine_names else None
    found = find_clusters(texts, coords, vectors=points.vectors, space=space,
                          tokens=points.level in ("token", "vocab"), encode=encode, **options)
    table = points.table.rename(columns={c: f"{c} (data)" for c in (CLUSTER_COLUMN, LABEL_COLUMN)
                                         if c in points.table.columns})
    return replace(points, table=add_cluster_columns(table, found)), found


def word_encoder(model: str | None, **encode_options: Any) -> WordEncoder:
    """Words -> vectors with `model` (a model spec: the points' own), cached like any text."""
    if not model:
        raise InputError("refining cluster names needs the model that made the vectors; these vectors came "
                         "without one")

    def encode(words: list[str]) -> np.ndarray:
        from embeddings.encode import encode_texts

        return encode_texts(words, model, **encode_options).vectors

    return encode


def add_cluster_columns(table: pd.DataFrame | None, clusters: Clusters) -> pd.DataFrame:
    """A copy of the points' table with `cluster` (int, -1 noise) and `cluster_label` columns.

    Columns of those names already there are replaced (a new clustering supersedes the old).
    """
    n = len(clusters.labels)
    if table is None:
        table = pd.DataFrame(index=range(n))
    if len(table) != n:
        raise InputError(f"table has {len(table)} rows but {n} points were clustered")
    out = table.copy()
    out[CLUSTER_COLUMN] = clusters.labels.astype(np.int64)
    out[LABEL_COLUMN] = clusters.point_names().astype(str)
    return out


# ---------------------------------------------------------------- naming


def name_clusters(labels: np.ndarray, texts: Sequence[str], *, top: int = TOP_KEYWORDS, tokens: bool = False,
                  encode: WordEncoder | None = None, vectors: np.ndarray | None = None) -> dict[int, list[str]]:
    """Each cluster's `top` keywords: class-based TF-IDF (BERTopic's c-TF-IDF), then names apart.

    Every cluster's texts form one document. A term's weight in cluster c is its frequency in c
    (the share of c's term occurrences) times log(1 + A / f), with A the mean number of term
    occurrences per cluster and f the term's occurrences over all clusters: frequent here, rare
    elsewhere; a term must be more frequent in c than over all points. Noise takes part as one
    more class (so its words are not distinctive of a cluster) but gets no keywords. A term counts
    once per text, so one long text repeating a word does not name its cluster. Unigrams and
    bigrams, English stop words out.

    Then, so that a name tells its cluster apart: a word found in many texts of most clusters
    ("return" in docstrings) names none (see COMMON_SHARE); no word twice in a name, counting
    "font"/"fonts" and "encode"/"encoding" as one ("penalty" after "penalty kick", no "integer
    integer"); and clusters, largest first, each lead with a word no larger cluster leads with, so
    names are unique. `encode` (a function from words to vectors, the points' own model) with the
    points' `vectors` re-ranks each cluster's best CANDIDATES terms by cosine similarity to the
    cluster's mean vector, with diversity (maximal marginal relevance, as KeyBERT does).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels)
    clusters = sorted(int(c) for c in np.unique(labels) if c >= 0)
    if not clusters:
        return {}
    docs = _naming_texts(texts, tokens)
    candidates: dict[int, list[str]] = {}
    for stop_words in ("english", None):  # without stop words only for clusters of stop words
        missing = [c for c in clusters if not candidates.get(c)]
        if not missing:
            break
        vectorizer = CountVectorizer(
            binary=True, stop_words=stop_words, ngram_range=(1, 1) if tokens else (1, 2),
            token_pattern=r"(?u)\b\w+\b" if tokens else r"(?u)\b\w\w+\b",
            # Terms in a single text cannot characterise a cluster; dropping them keeps 100k
            # texts' vocabulary small. Below 50 texts every term is kept.
            min_df=2 if len(docs) >= 50 else 1, dtype=np.float32,
        )
        try:
            counts = vectorizer.fit_transform(docs)
        except ValueError:  # nothing but stop words (or nothing at all) in the texts
            continue
        terms = vectorizer.get_feature_names_out()
        for cluster, words in _ctfidf_candidates(labels, counts, terms).items():
            if cluster in missing and words:
                candidates[cluster] = words
    if encode is not None and vectors is not None and not tokens:
        candidates = _rerank_by_model(candidates, labels, vectors, encode)
    return _pick_names(clusters, candidates, top)


def _naming_texts(texts: Sequence[str], tokens: bool) -> list[str]:
    values = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
    if tokens:
        values = [TOKEN_MARKERS.sub("", v) for v in values]
    return values


def _ctfidf_candidates(labels: np.ndarray, counts: Any, terms: np.ndarray) -> dict[int, list[str]]:
    """Per cluster, its terms with a positive c-TF-IDF weight, best first (at most CANDIDATES).

    Terms shared by two or more of the cluster's texts come first: a keyword should describe the
    cluster, not one of its texts. Common words and bigrams of one word twice are left out.
    """
    import scipy.sparse as sp

    classes = np.unique(labels)  # noise (-1) first when present
    row_of = np.searchsorted(classes, labels)
    membership = sp.csr_matrix((np.ones(len(labels), dtype=np.float32), (row_of, np.arange(len(labels)))),
                               shape=(len(classes), len(labels)))
    per_class = np.asarray((membership @ counts).todense(), dtype=np.float64)  # (classes, terms): texts with it
    totals = per_class.sum(axis=1, keepdims=True)
    frequency = per_class / np.where(totals > 0, totals, 1.0)
    across = per_class.sum(axis=0)
    idf = np.log(1.0 + totals.mean() / np.where(across > 0, across, 1.0))
    weights = frequency * idf
    # A term no more frequent in the cluster than over all points says nothing about the cluster
    # (a word every text shares would otherwise fill the names of clusters with few words).
    weights[frequency <= across / max(across.sum(), 1.0)] = 0.0
    weights[:, _unnamable(terms, classes, per_class, np.bincount(row_of))] = 0.0
    words_in = np.array([term.count(" ") + 1 for term in terms])
    result: dict[int, list[str]] = {}
    for row, cluster in enumerate(classes):
        if cluster < 0:
            continue
        # Ties: the bigram first ("penalty kick" says more than "kick"), then by term, so the
        # same input always gives the same name.
        order = np.lexsort((terms, -words_in, -weights[row]))
        order = order[weights[row, order] > 0]
        shared = per_class[row, order] >= 2
        ranked = np.concatenate([order[shared], order[~shared]])[:CANDIDATES]
        result[int(cluster)] = [str(terms[i]) for i in ranked]
    return result


def _unnamable(terms: np.ndarray, classes: np.ndarray, per_class: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Terms that name no cluster: words common to most clusters, and bigrams with one of them or one word twice."""
    clustered = classes >= 0
    present = (per_class[clustered] >= np.maximum(2.0, PRESENT_SHARE * sizes[clustered, None]))
    common_words = set()
    if clustered.sum() >= 3:
        spread = present.mean(axis=0)
        common_words = {str(t) for t, s in zip(terms, spread) if s > COMMON_SHARE and " " not in t}
    out = np.zeros(len(terms), dtype=bool)
    for i, term in enumerate(terms):
        words = term.split()
        stems = {_stem(w) for w in words}
        out[i] = bool(common_words.intersection(words)) or len(stems) < len(words)
    return out


def _stem(word: str) -> str:
    """A crude stem, enough to see "fonts"/"font", "cookies"/"cookie", "encoding"/"encode", "logging"/"log" as one."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "i"
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    if len(w) > 3 and w.endswith("y"):
        w = w[:-1] + "i"  # library / libraries
    for suffix in ("ing", "ed", "er", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if suffix != "e" and len(w) > 3 and w[-1] == w[-2]:
                w = w[:-1]  # logg(ing) -> log, runn(ing) -> run
            break
    return w


def _rerank_by_model(candidates: dict[int, list[str]], labels: np.ndarray, vectors: np.ndarray,
                     encode: WordEncoder) -> dict[int, list[str]]:
    """Candidates re-ordered by maximal marginal relevance to the cluster's mean vector (KeyBERT-style)."""
    words = sorted({w for terms in candidates.values() for w in terms})
    if not words:
        return candidates
    word_vectors = _unit(np.asarray(encode(words), dtype=np.float64))
    if word_vectors.shape != (len(words), vectors.shape[1]):
        raise InputError(f"the model gave word vectors of shape {word_vectors.shape}; the points have "
                         f"{vectors.shape[1]} dimensions, so names cannot be refined with it")
    index = {w: i for i, w in enumerate(words)}
    unit = _unit(np.asarray(vectors, dtype=np.float64))
    out: dict[int, list[str]] = {}
    for cluster, terms in candidates.items():
        if len(terms) < 2:
            out[cluster] = terms
            continue
        centre = _unit(unit[labels == cluster].mean(axis=0, keepdims=True))[0]
        own = word_vectors[[index[t] for t in terms]]
        relevance = own @ centre
        chosen: list[int] = []
        left = list(range(len(terms)))
        while left:
            redundancy = (own[left] @ own[chosen].T).max(axis=1) if chosen else np.zeros(len(left))
            score = (1.0 - DIVERSITY) * relevance[left] - DIVERSITY * redundancy
            chosen.append(left.pop(int(np.argmax(score))))
        out[cluster] = [terms[i] for i in chosen]
    return out


def _unit(array: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms > 0, norms, 1.0)


def _pick_names(clusters: list[int], candidates: dict[int, list[str]], top: int) -> dict[int, list[str]]:
    """Up to `top` keywords per cluster, none repeating a word; leads unique, larger clusters first."""
    leads: set[str] = set()
    out: dict[int, list[str]] = {}
    for cluster in clusters:  # 0 is the largest
        terms = candidates.get(cluster, [])
        fresh = [t for t in terms if not {_stem(w) for w in t.split()} & leads]
        chosen: list[str] = []
        used: set[str] = set()
        for term in fresh[:1] + [t for t in terms if t not in fresh[:1]]:
            stems = {_stem(w) for w in term.split()}
            if len(chosen) == top or stems & used:
                continue
            chosen.append(term)
            used |= stems
        if fresh:
            leads |= {_stem(w) for w in chosen[0].split()}
        out[cluster] = chosen
    return out


def _unique_names(labels: np.ndarray, keywords: dict[int, list[str]]) -> dict[int, str]:
    """"a, b, c" per cluster; a name two clusters still share gets the cluster number, so colours differ."""
    count = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    names = {c: ", ".join(keywords.get(c, [])) or f"cluster {c}" for c in range(count)}
    seen: dict[str, int] = {}
    for name in names.values():
        seen[name] = seen.get(name, 0) + 1
    names = {c: (f"{name} ({c})" if seen[name] > 1 else name) for c, name in names.items()}
    if (labels < 0).any():
        names[NOISE] = NOISE_NAME
    return names


# ---------------------------------------------------------------- clustering


def _hdbscan(points: np.ndarray, min_cluster_size: int, min_samples: int, selection: str) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    if len(points) <= min_samples:
        return np.full(len(points), NOISE, dtype=np.int64)
    model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                    cluster_selection_method=selection, copy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(points).labels_.astype(np.int64)


def _absorb_fringe(points: np.ndarray, labels: np.ndarray, min_samples: int, fringe: float) -> np.ndarray:
    """Noise points within `fringe` x the median core distance of a clustered point join its cluster."""
    from sklearn.neighbors import NearestNeighbors

    inside = labels >= 0
    if inside.all() or not inside.any():
        return labels
    k = min(min_samples + 1, len(points))
    core = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)[0][:, -1]
    distance, nearest = NearestNeighbors(n_neighbors=1).fit(points[inside]).kneighbors(points[~inside])
    close = distance[:, 0] <= fringe * np.median(core[inside])
    out = labels.copy()
    outside = np.flatnonzero(~inside)
    out[outside[close]] = labels[inside][nearest[close, 0]]
    return out


def _assign_rest(points: np.ndarray, sample: np.ndarray, sample_labels: np.ndarray) -> np.ndarray:
    """Every point's label: its own for sampled points, its nearest sampled point's for the rest."""
    from sklearn.neighbors import NearestNeighbors

    labels = np.empty(len(points), dtype=np.int64)
    labels[sample] = sample_labels
    rest = np.setdiff1d(np.arange(len(points)), sample, assume_unique=True)
    if len(rest):
        finder = NearestNeighbors(n_neighbors=1).fit(points[sample])
        nearest = finder.kneighbors(points[rest], return_distance=False)[:, 0]
        labels[rest] = sample_labels[nearest]
    return labels


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1, largest first (ties by old number); noise stays -1."""
    found, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = found[np.lexsort((found, -counts))]
    mapping = np.full(int(labels.max()) + 2 if len(labels) else 1, NOISE, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return np.where(labels >= 0, mapping[np.maximum(labels, 0)], NOISE)


def _original_space(vectors: np.ndarray, sample: np.ndarray | None, seed: int,
                    notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(points to cluster, points to match the unsampled ones in) for the original space.

    HDBSCAN runs in a UMAP embedding of the cosine-normalised vectors (ORIGINAL_DIMS); with a
    sample, only the sample is embedded and the others are matched in PCA space.
    """
    from embeddings.reduce import _umap  # same kNN, numba cache and seeding as the layouts

    unit = vectors.astype(np.float32)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    unit = unit / np.where(norms > 0, norms, 1.0)
    chosen = unit if sample is None else unit[sample]
    if len(chosen) <= ORIGINAL_DIMS + 2:
        reduced = chosen  # too few points for UMAP: cluster the vectors themselves
    else:
        reduced, _ = _umap(chosen, ORIGINAL_DIMS, seed, None, notes, n_neighbors=ORIGINAL_NEIGHBORS, min_dist=0.0,
                           metric="cosine")
    assign = unit
    if sample is not None and unit.shape[1] > ASSIGN_DIMS:
        from sklearn.decomposition import PCA

        assign = PCA(ASSIGN_DIMS, svd_solver="covariance_eigh", random_state=seed).fit_transform(unit)
    return np.asarray(reduced, dtype=np.float64), assign


def _centres(layout: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per cluster the member point nearest the members' mean: on the cluster even when it is curved."""
    count = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    centres = np.zeros((count, layout.shape[1]), dtype=np.float64)
    for cluster in range(count):
        members = layout[labels == cluster]
        mean = members.mean(axis=0)
        centres[cluster] = members[np.argmin(((members - mean) ** 2).sum(axis=1))]
    return centres
