"""embeddings.neighbors: exact k-NN against a brute-force reference, ties, duplicates, errors."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import neighbors
from embeddings.errors import InputError
from embeddings.neighbors import knn, knn_sets, nearest


def brute_force(vectors: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Every distance in float64, written independently of the module; ties by lower index."""
    data = np.asarray(vectors, dtype=np.float64)
    n = len(data)
    if metric == "cosine":
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        unit = data / np.where(norms > 0, norms, 1.0)
        full = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    else:
        full = np.sqrt(((data[:, None, :] - data[None, :, :]) ** 2).sum(axis=2))
    idx, dist = [], []
    for i in range(n):
        others = np.array([j for j in range(n) if j != i])
        order = np.lexsort((others, full[i, others]))[:k]
        idx.append(others[order])
        dist.append(full[i, others[order]])
    return np.array(idx), np.array(dist)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_matches_brute_force_on_random_vectors(metric):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(120, 16)).astype(np.float32)
    idx, dist = knn(vectors, 7, metric)
    want_idx, want_dist = brute_force(vectors, 7, metric)
    assert idx.shape == (120, 7) and dist.shape == (120, 7)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, atol=1e-9)
    assert (np.diff(dist, axis=1) >= 0).all()  # nearest first
    assert not (idx == np.arange(120)[:, None]).any()  # never itself


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_duplicates_tie_by_lowest_index(metric):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 24)).astype(np.float32)
    group = [5, 40, 41, 77, 120, 121, 122, 200, 250, 299]
    vectors[group] = vectors[5]
    idx, dist = knn(vectors, 4, metric)
    for row in group:
        expected = [g for g in group if g != row][:4]
        assert list(idx[row]) == expected, row
        assert np.all(dist[row] <= 1e-12)
    # a point with many exact copies: the k lowest-index copies, even beyond the spare candidates
    many = rng.normal(size=(400, 8)).astype(np.float32)
    many[::3] = many[0]
    idx, _ = knn(many, 2, metric)
    assert list(idx[0]) == [3, 6]
    assert list(idx[399]) == [0, 3]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_many_groups_of_copies(metric):
    # Regression: a float32 matrix product can round identical columns differently depending on
    # where they sit, which used to push some copies out of the candidates and break the
    # lowest-index tie rule (two models then disagreed on neighbours they both tie).
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(100, 150))
        base = rng.normal(size=(n // 8, int(rng.integers(8, 32))))
        vectors = base[rng.integers(0, len(base), size=n)].astype(np.float32)
        for k in (1, 2, 3):
            idx, dist = knn(vectors, k, metric)
            for row in range(n):
                copies = np.nonzero((vectors == vectors[row]).all(axis=1))[0]
                copies = copies[copies != row][:k]
                assert list(idx[row][: len(copies)]) == list(copies), (seed, k, row)
                assert np.all(dist[row][: len(copies)] <= 1e-12)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_on_heavily_tied_integer_lattice(metric):
    # Small integer vectors, many repeated: equal distances everywhere. The order must still be
    # exactly (distance, index), as in the brute-force reference.
    rng = np.random.default_rng(2)
    for trial in range(12):
        n = int(rng.integers(20, 90))
        d = int(rng.integers(1, 12))
        k = int(rng.integers(1, 12))
        base = rng.integers(-2, 3, size=(max(2, n // 3), d))
        vectors = base[rng.integers(0, len(base), size=n)].astype(np.float32)
        idx, dist = knn(vectors, k, metric)
        _, want_dist = brute_force(vectors, k, metric)
        np.testing.assert_allclose(dist, want_dist, atol=1e-12)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        directions = np.round(vectors / np.where(norms > 0, norms, 1.0), 9)
        for row in range(n):
            if metric == "euclidean":
                # exact copies are at distance exactly 0: the lowest-index copies come first
                copies = np.nonzero((vectors == vectors[row]).all(axis=1))[0]
                copies = copies[copies != row]
                assert list(idx[row][: min(k, len(copies))]) == list(copies[:k])
            elif norms[row, 0] > 0:  # (a zero vector is at distance 1 from everything)
                # same direction (copies or multiples) first; which of them is float rounding
                same = np.nonzero((directions == directions[row]).all(axis=1))[0]
                same = same[same != row]
                assert set(idx[row][: min(k, len(same))]) <= set(same)


def test_knn_lowers_k_and_zero_vectors():
    vectors = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    idx, dist = knn(vectors, 10, "cosine")
    assert idx.shape == (3, 2)  # k lowered to n - 1
    # a zero vector is at cosine distance 1 from everything; ties by index
    assert list(idx[0]) == [1, 2] and np.allclose(dist[0], [1.0, 1.0])
    assert list(idx[1]) == [0, 2] and np.allclose(dist[1], [1.0, 1.0])
    np.testing.assert_array_equal(knn_sets(vectors, 1, "euclidean"), [[1], [0], [0]])


def test_knn_blocks_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 10))
    whole = knn(vectors, 5, "euclidean")
    monkeypatch.setattr(neighbors, "BLOCK_BYTES", 4 * 200 * 7)  # 7 rows per block
    blocked = knn(vectors, 5, "euclidean")
    np.testing.assert_array_equal(whole[0], blocked[0])
    np.testing.assert_array_equal(whole[1], blocked[1])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_nearest_row_and_query_vector(metric):
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(60, 6))
    vectors[[10, 30, 45]] = vectors[2]
    want_idx, want_dist = brute_force(vectors, 5, metric)
    found = nearest(vectors, 7, k=5, metric=metric)
    assert found.metric == metric
    np.testing.assert_array_equal(found.rows, want_idx[7])
    np.testing.assert_allclose(found.distances, want_dist[7], atol=1e-9)
    # a query row with copies: the copies first, lowest index first, itself excluded
    assert list(nearest(vectors, 30, k=2, metric=metric).rows) == [2, 10]
    # a query vector equal to row 2: row 2 and its copies at distance 0, all candidates allowed
    by_vector = nearest(vectors, vectors[2].copy(), k=4, metric=metric)
    assert list(by_vector.rows) == [2, 10, 30, 45]
    assert np.all(by_vector.distances <= 1e-9)
    # numpy integer rows work like ints; a 1-point set has no neighbours
    assert list(nearest(vectors, np.int64(7), k=5, metric=metric).rows) == list(want_idx[7])
    assert len(nearest(vectors[:1], 0, k=3, metric=metric).rows) == 0


def test_nearest_query_vector_cosine_ignores_length():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    found = nearest(vectors, np.array([10.0, 9.0]), k=3, metric="cosine")
    assert list(found.rows) == [2, 0, 1]
    found = nearest(vectors, np.array([10.0, 9.0]), k=3, metric="euclidean")
    assert list(found.rows) == [2, 0, 1]
    np.testing.assert_allclose(found.distances[0], np.hypot(9.0, 8.0))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda v: knn(v, 3, "manhattan"), "unknown metric 'manhattan'"),
        (lambda v: knn(v, 0, "cosine"), "k must be a whole number"),
        (lambda v: knn(v, True, "cosine"), "k must be a whole number"),
        (lambda v: knn(v, 2.5, "cosine"), "k must be a whole number"),
        (lambda v: knn(v[:1], 3, "cosine"), "at least 2 points"),
        (lambda v: knn(np.zeros((0, 3)), 3, "cosine"), "is empty"),
        (lambda v: knn(np.ones(5), 3, "cosine"), "must be a 2-D array"),
        (lambda v: knn(np.array([[1.0, np.nan]] * 3), 1, "cosine"), "row 0, column 1"),
        (lambda v: knn(np.array([["a", "b"]] * 3), 1, "cosine"), "must hold real numbers"),
        (lambda v: nearest(v, 10, 3), "row 10 is out of range"),
        (lambda v: nearest(v, -1, 3), "row -1 is out of range"),
        (lambda v: nearest(v, np.ones(4), 3), "query vector must have shape (3,)"),
        (lambda v: nearest(v, np.array([1.0, np.inf, 0.0]), 3), "NaN or inf"),
        (lambda v: nearest(v, True, 3), "query vector must have shape"),
    ],
)
def test_errors_are_one_line_input_errors(call, message):
    vectors = np.arange(30, dtype=float).reshape(10, 3)
    with pytest.raises(InputError) as info:
        call(vectors)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_duplicate_groups_survive_hash_collisions(monkeypatch):
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(40, 5))
    vectors[[7, 9, 30]] = vectors[2]
    first, rank = neighbors._duplicate_groups(vectors)
    assert list(first[[2, 7, 9, 30]]) == [2, 2, 2, 2] and list(rank[[2, 7, 9, 30]]) == [0, 1, 2, 3]
    assert (first[[0, 1, 3]] == [0, 1, 3]).all() and (rank[[0, 1, 3]] == 0).all()
    expected = knn(vectors, 3, "euclidean")
    # every row hashing alike must not merge different rows
    monkeypatch.setattr(neighbors, "hash", lambda data: 0, raising=False)
    first, _ = neighbors._duplicate_groups(vectors)
    assert all(np.array_equal(vectors[row], vectors[first[row]]) for row in range(40))
    np.testing.assert_array_equal(knn(vectors, 3, "euclidean")[0], expected[0])


# ------------------------------------------------------------------ the all-points graph


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)]))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_neighbor_graph_is_exact_up_to_the_limit(metric):
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(400, 12)).astype(np.float32)
    graph = neighbors.neighbor_graph(vectors, 5, metric, exact_up_to=400)
    idx, dist = knn(vectors, 5, metric)
    assert graph.exact and graph.recall == 1.0
    np.testing.assert_array_equal(graph.rows, idx)
    np.testing.assert_array_equal(graph.distances, dist)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_approximate_graph_recall_order_and_determinism(metric):
    # Hard for an index: 3,000 points in 24 dimensions with no cluster structure to exploit.
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3000, 24)).astype(np.float32)
    progress: list[tuple[int, int]] = []
    graph = neighbors.neighbor_graph(vectors, 10, metric, exact_up_to=1000, seed=3,
                                     progress=lambda done, total: progress.append((done, total)))
    idx, dist = knn(vectors, 10, metric)
    assert not graph.exact and graph.rows.shape == (3000, 10) and graph.distances.shape == (3000, 10)
    assert _recall(graph.rows, idx) >= 0.95
    assert graph.recall >= neighbors.TARGET_RECALL  # what it measured on its own sample
    assert not (graph.rows == np.arange(3000)[:, None]).any()  # never itself
    assert (np.diff(graph.distances, axis=1) >= 0).all()  # nearest first
    # the distances are the exact distances of the neighbours it found
    mine = {(i, j): d for i in range(0, 3000, 97) for j, d in zip(idx[i], dist[i])}
    for i in range(0, 3000, 97):
        for j, d in zip(graph.rows[i], graph.distances[i]):
            if (i, j) in mine:
                assert d == pytest.approx(mine[i, j], abs=1e-6)
    assert progress[-1][0] == progress[-1][1] and [d for d, _ in progress] == sorted(d for d, _ in progress)
    again = neighbors.neighbor_graph(vectors, 10, metric, exact_up_to=1000, seed=3)
    np.testing.assert_array_equal(again.rows, graph.rows)
    np.testing.assert_array_equal(again.distances, graph.distances)


def test_approximate_graph_with_copies_and_tiny_cells():
    # Many exact copies (their distances tie at 0) and a few points far away from the rest.
    rng = np.random.default_rng(6)
    vectors = rng.normal(size=(900, 8)).astype(np.float32)
    vectors[::3] = vectors[0]
    vectors[[1, 2, 4, 5, 7]] += 100.0  # (none of them a copy)
    graph = neighbors.neighbor_graph(vectors, 4, "euclidean", exact_up_to=100)
    idx, dist = knn(vectors, 4, "euclidean")
    assert _recall(graph.rows, idx) >= 0.95
    np.testing.assert_allclose(np.sort(graph.distances[::3], axis=1), 0.0, atol=1e-6)
    assert (graph.rows >= 0).all() and not (graph.rows == np.arange(900)[:, None]).any()
