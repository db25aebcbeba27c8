"""embeddings.compare on arrays: k-NN overlap, CKA, distance correlation, Procrustes, reports."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from embeddings.compare import (
    aligned_projections,
    compare_embeddings,
    distance_spearman,
    jaccard_rows,
    knn_overlap,
    linear_cka,
    procrustes_align,
)
from embeddings.errors import InputError
from embeddings.reduce import Projection


def rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def clusters(n_per: int = 40, centres: int = 4, d: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    middle = rng.normal(scale=6.0, size=(centres, d))
    labels = np.repeat(np.arange(centres), n_per)
    return (middle[labels] + rng.normal(size=(len(labels), d))).astype(np.float32), labels


def reference_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA from its definition: HSIC of linear kernels with the centring matrix H."""
    n = len(x)
    h = np.eye(n) - 1.0 / n
    k = h @ (x @ x.T) @ h
    ell = h @ (y @ y.T) @ h
    return float(np.sum(k * ell) / (np.linalg.norm(k) * np.linalg.norm(ell)))


# ---------------------------------------------------------------- self and rotations


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_a_model_against_itself_gives_exactly_one(metric):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(150, 24)).astype(np.float32)
    vectors[[10, 20, 30, 40]] = vectors[3]  # copies: ties must break the same way in both
    vectors[50] = vectors[51] * 2.0  # same direction (a cosine tie)
    comparison = compare_embeddings({"m": vectors, "same m": vectors.copy()}, k=5, metric=metric)
    (pair,) = comparison.pairs
    assert (pair.a, pair.b) == ("m", "same m")
    assert np.all(pair.overlap == 1.0)
    assert pair.mean_knn_overlap == 1.0
    assert abs(pair.cka - 1.0) < 1e-9
    assert abs(pair.distance_spearman - 1.0) < 1e-9
    assert np.all(knn_overlap(vectors, vectors, 5, metric) == 1.0)
    assert abs(linear_cka(vectors, vectors.copy()) - 1.0) < 1e-9
    assert abs(distance_spearman(vectors, vectors.copy(), metric) - 1.0) < 1e-9


def test_rotation_scale_and_shift_keep_neighbours_and_cka():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 32))
    y = 2.5 * x @ rotation(32, 7) + 4.0
    assert np.all(knn_overlap(x, y, k=10, metric="euclidean") == 1.0)
    assert abs(linear_cka(x, y) - 1.0) < 1e-9
    assert abs(distance_spearman(x, y, "euclidean") - 1.0) < 1e-9
    # a rotation about the origin keeps every angle: cosine neighbours survive too
    assert np.all(knn_overlap(x, x @ rotation(32, 8), k=10, metric="cosine") == 1.0)
    # a shift changes angles, so cosine neighbourhoods are no longer guaranteed
    assert knn_overlap(x, x + 3.0, k=10, metric="cosine").mean() < 1.0


def test_independent_vectors_score_low_and_a_related_model_in_between():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 32))
    unrelated = rng.normal(size=(400, 32))
    related = x @ rng.normal(size=(32, 32)) * 0.3 + rng.normal(size=(400, 32)) * 0.5
    low = knn_overlap(x, unrelated, k=10)
    assert low.mean() < 0.05  # chance level is about k / n = 0.025
    cka_low = linear_cka(x, unrelated)
    cka_mid = linear_cka(x, related)
    assert 0.0 <= cka_low < 0.15
    assert 0.5 < cka_mid < 0.99
    assert abs(distance_spearman(x, unrelated, "euclidean")) < 0.05
    middle = knn_overlap(x, related, k=10).mean()
    assert low.mean() < middle < 1.0


def test_different_widths():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 32)).astype(np.float32)
    wide = np.tanh(x @ rng.normal(size=(32, 48))) + 0.1 * rng.normal(size=(120, 48))
    overlap = knn_overlap(x, wide, k=8)
    assert overlap.shape == (120,)
    assert 0.0 < overlap.mean() < 1.0
    assert 0.0 < linear_cka(x, wide) < 1.0
    assert 0.0 < distance_spearman(x, wide, "cosine") < 1.0
    comparison = compare_embeddings({"narrow": x, "wide": wide, "tiny": x[:, :3]}, k=8)
    assert [(p.a, p.b) for p in comparison.pairs] == [("narrow", "wide"), ("narrow", "tiny"), ("wide", "tiny")]
    for pair in comparison.pairs:
        assert 0.0 < pair.mean_knn_overlap < 1.0
        assert 0.0 < pair.cka < 1.0
    np.testing.assert_allclose(comparison.pairs[0].overlap, overlap)
    np.testing.assert_allclose(comparison.overlap_per_point, np.mean([p.overlap for p in comparison.pairs], axis=0))


# ---------------------------------------------------------------- the figures themselves


@pytest.mark.parametrize("shape_x, shape_y", [((60, 8), (60, 5)), ((20, 50), (20, 30)), ((25, 10), (25, 40))])
def test_linear_cka_matches_its_definition(shape_x, shape_y):
    # (60 x 8) uses the feature-space form, (20 x 50) the n x n form, (25 x 10 vs 40) mixes.
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape_x) + 5.0
    y = np.tanh(x[:, :1] * rng.normal(size=(1, shape_y[1]))) + 0.3 * rng.normal(size=shape_y)
    assert linear_cka(x, y) == pytest.approx(reference_cka(x, y), abs=1e-10)
    assert linear_cka(y, x) == pytest.approx(linear_cka(x, y), abs=1e-12)


def test_linear_cka_chunks_and_constant_inputs(monkeypatch):
    from embeddings import compare

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 6))
    y = x[:, :4] ** 2 + rng.normal(size=(300, 4))
    whole = linear_cka(x, y)
    monkeypatch.setattr(compare, "CKA_CHUNK_BYTES", 8 * 10 * 7)  # 7 rows a chunk
    assert linear_cka(x, y) == pytest.approx(whole, abs=1e-12)
    assert whole == pytest.approx(reference_cka(x, y), abs=1e-10)
    assert math.isnan(linear_cka(np.ones((10, 3)), x[:10]))  # no variance: undefined
    assert math.isnan(linear_cka(np.full((10, 3), 0.1), x[:10]))  # (not rounding dust)
    assert math.isnan(linear_cka(x[:10], np.full((10, 30), 0.1)))


def test_jaccard_rows():
    a = np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3]])
    b = np.array([[3, 2, 1], [4, 5, 6], [1, 5, 6]])
    np.testing.assert_allclose(jaccard_rows(a, b), [1.0, 0.0, 1 / 5])


def test_distance_spearman_sample_is_seeded_and_shared():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(500, 10))
    y = x + rng.normal(size=(500, 10))
    full = distance_spearman(x, y, "euclidean", sample=500)
    one = distance_spearman(x, y, "euclidean", sample=100, seed=1)
    assert one == distance_spearman(x, y, "euclidean", sample=100, seed=1)
    assert one != distance_spearman(x, y, "euclidean", sample=100, seed=2)
    assert 0.3 < one < 0.95 and abs(one - full) < 0.1
    # the same points in both spaces: a monotone map of the distances is still exactly 1
    assert distance_spearman(x, 3.0 * x, "euclidean", sample=50, seed=3) == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(distance_spearman(np.ones((5, 2)), x[:5], "euclidean"))


# ---------------------------------------------------------------- Procrustes and layouts


@pytest.mark.parametrize("dims", [2, 3])
def test_procrustes_recovers_rotated_scaled_shifted_layout(dims):
    rng = np.random.default_rng(7)
    layout = rng.normal(size=(80, dims))
    moved = 0.2 * layout @ rotation(dims, 9) + rng.normal(size=dims) * 10
    np.testing.assert_allclose(procrustes_align(layout, moved), layout, atol=1e-9)
    mirrored = layout * np.r_[-1.0, np.ones(dims - 1)] * 5.0 - 2.0
    np.testing.assert_allclose(procrustes_align(layout, mirrored), layout, atol=1e-9)
    # noise is not removed, but the fit is the best similarity transform: residual ~ the noise
    noisy = moved + rng.normal(scale=0.01, size=moved.shape)
    residual = np.linalg.norm(procrustes_align(layout, noisy) - layout, axis=1)
    assert residual.mean() < 0.15
    # float32 stays float32
    assert procrustes_align(layout, moved.astype(np.float32)).dtype == np.float32


def test_procrustes_edge_cases():
    reference = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    collapsed = np.full((3, 2), 7.0)
    np.testing.assert_allclose(procrustes_align(reference, collapsed), np.full((3, 2), 1 / 3))
    with pytest.raises(InputError, match="cannot be aligned"):
        procrustes_align(reference, np.zeros((4, 2)))
    with pytest.raises(InputError, match="cannot be aligned"):
        procrustes_align(reference, np.zeros((3, 3)))


def test_aligned_projections_pca():
    x, _ = clusters(seed=10)
    flipped = (x @ rotation(x.shape[1], 11)) * 3.0 - 1.0  # same shape, other axes and scale
    layouts = aligned_projections({"a": x, "b": flipped}, "pca", 2, seed=0)
    assert list(layouts) == ["a", "b"]
    a, b = layouts["a"], layouts["b"]
    assert isinstance(b, Projection) and b.method == "pca" and b.coords.dtype == np.float32
    assert b.params["aligned_to"] == "a" and "aligned_to" not in a.params
    assert b.variance_explained == pytest.approx(a.variance_explained, abs=1e-5)
    # the same point lands in the same place
    np.testing.assert_allclose(b.coords, a.coords, atol=1e-3 * np.abs(a.coords).max())
    # the first model's own PCA is untouched
    alone = aligned_projections({"a": x}, "pca", 2)
    np.testing.assert_array_equal(alone["a"].coords, a.coords)


def test_aligned_projections_umap_start_from_the_first_layout():
    x, labels = clusters(n_per=30, seed=12)
    other = x @ rotation(x.shape[1], 13) + np.random.default_rng(14).normal(scale=0.3, size=x.shape)
    layouts = aligned_projections({"a": x, "b": other}, "umap", 2, seed=0, n_neighbors=10)
    a, b = layouts["a"].coords, layouts["b"].coords
    assert a.shape == b.shape == (120, 2)
    assert layouts["b"].params["aligned_to"] == "a" and layouts["b"].params["n_neighbors"] == 10
    # each cluster of the second layout sits nearest to the same cluster of the first
    centres_a = np.array([a[labels == label].mean(axis=0) for label in range(4)])
    centres_b = np.array([b[labels == label].mean(axis=0) for label in range(4)])
    gaps = np.linalg.norm(centres_b[:, None, :] - centres_a[None, :, :], axis=2)
    assert list(gaps.argmin(axis=1)) == [0, 1, 2, 3]
    # and points are much closer to their counterparts than to a random other point
    spread = np.linalg.norm(a[:, None, :] - a[None, :, :], axis=2).mean()
    assert np.median(np.linalg.norm(a - b, axis=1)) < 0.4 * spread


@pytest.mark.parametrize("method", ["umap", "tsne", "pca"])
def test_aligned_projections_pass_the_first_layout_as_init(method, monkeypatch):
    from embeddings import compare

    calls = []

    def fake_project(vectors, method, dims, *, seed, max_points, init, **params):
        calls.append({"init": init, "params": params, "seed": seed})
        coords = np.asarray(vectors)[:, :dims] * (len(calls))  # a different layout per model
        return Projection(coords=coords.astype(np.float32), method=method, dims=dims, params=dict(params))

    monkeypatch.setattr(compare, "project", fake_project)
    x = np.random.default_rng(18).normal(size=(30, 4))
    layouts = aligned_projections({"a": x, "b": x * 2, "c": x * 3}, method, 2, seed=4, perplexity=5)
    assert calls[0]["init"] is None and all(call["seed"] == 4 for call in calls)
    assert all(call["params"] == {"perplexity": 5} for call in calls)
    for call in calls[1:]:
        if method == "pca":
            assert call["init"] is None  # PCA has no starting layout; Procrustes alone aligns it
        else:
            np.testing.assert_array_equal(call["init"], layouts["a"].coords)
    for name in ("b", "c"):  # scaled copies land exactly on the first layout after alignment
        np.testing.assert_allclose(layouts[name].coords, layouts["a"].coords, atol=1e-5)


def test_aligned_projections_sampling_keeps_the_same_rows():
    x, _ = clusters(n_per=30, seed=15)
    layouts = aligned_projections({"a": x, "b": x[:, ::-1].copy()}, "pca", 2, max_points=50, seed=3)
    np.testing.assert_array_equal(layouts["a"].rows, layouts["b"].rows)
    assert len(layouts["a"].rows) == 50 and "sample" in layouts["b"].note


def test_aligned_projections_errors():
    x, _ = clusters(n_per=5)
    with pytest.raises(InputError, match="at least 1 model"):
        aligned_projections({}, "pca", 2)
    with pytest.raises(InputError, match="same points"):
        aligned_projections({"a": x, "b": x[:-1]}, "pca", 2)
    with pytest.raises(InputError, match="unknown projection method"):
        aligned_projections({"a": x, "b": x}, "mds", 2)


# ---------------------------------------------------------------- the report


def test_most_changed_points_and_report():
    rng = np.random.default_rng(16)
    x = rng.normal(size=(100, 12))
    y = x.copy()
    changed = [7, 42, 81]
    y[changed] = rng.normal(size=(3, 12)) * 5  # these points move far away
    comparison = compare_embeddings({"before": x, "after": y}, k=5, metric="euclidean", most_changed=3)
    (pair,) = comparison.pairs
    assert sorted(item["row"] for item in pair.most_changed) == changed
    overlaps = [item["overlap"] for item in pair.most_changed]
    assert overlaps == sorted(overlaps) and max(overlaps) < 0.5
    for item in pair.most_changed:
        assert set(item["neighbors"]) == {"before", "after"}
        assert item["neighbors"]["before"] == list(comparison.neighbors["before"][item["row"]])
        assert item["overlap"] == pair.overlap[item["row"]]
    assert comparison.neighbors_of(7) == {m: list(comparison.neighbors[m][7]) for m in ("before", "after")}
    assert [item["row"] for item in comparison.most_changed(3)] == [item["row"] for item in pair.most_changed]
    assert comparison.pair("after", "before") is pair

    report = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    assert report["models"] == ["before", "after"]
    assert (report["k"], report["metric"], report["n"]) == (5, "euclidean", 100)
    (entry,) = report["pairs"]
    assert (entry["a"], entry["b"]) == ("before", "after")
    assert entry["mean_knn_overlap"] == pytest.approx(pair.mean_knn_overlap)
    assert entry["cka"] == pytest.approx(pair.cka) and entry["distance_spearman"] == pytest.approx(pair.distance_spearman)
    assert len(entry["overlap"]) == 100 and entry["overlap"] == [float(v) for v in pair.overlap]
    assert [m["row"] for m in entry["most_changed"]] == [m["row"] for m in pair.most_changed]
    assert len(report["overlap_per_point"]) == 100


def test_report_with_undefined_figures_is_still_json():
    constant = np.ones((6, 3))
    comparison = compare_embeddings({"flat": constant, "other": np.arange(18.0).reshape(6, 3) ** 2}, k=2)
    report = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    assert report["pairs"][0]["cka"] is None


def test_k_above_the_points_is_lowered_with_a_note():
    rng = np.random.default_rng(17)
    comparison = compare_embeddings({"a": rng.normal(size=(6, 4)), "b": rng.normal(size=(6, 5))}, k=10)
    assert comparison.k == 5
    assert comparison.notes == ["k lowered from 10 to 5 for 6 points"]
    assert np.all(comparison.pairs[0].overlap == 1.0)  # every other point is a neighbour in both
    assert comparison.neighbors["a"].shape == (6, 5)


@pytest.mark.parametrize(
    "models, kwargs, message",
    [
        ({"a": np.ones((5, 2))}, {}, "at least 2 models, got 1"),
        ([np.ones((5, 2)), np.ones((5, 2))], {}, "dict of model name"),
        ({"a": np.eye(5), "b": np.eye(6)}, {}, "model 'a' has 5 points and model 'b' has 6"),
        ({"a": np.eye(2), "b": np.eye(2)}, {}, "at least 3 points, got 2"),
        ({"a": np.eye(5), "b": np.eye(5)}, {"k": 0}, "k must be a whole number"),
        ({"a": np.eye(5), "b": np.eye(5)}, {"metric": "dot"}, "unknown metric 'dot'"),
        ({"a": np.eye(5), "b": np.eye(5)}, {"most_changed": -1}, "most_changed must be"),
        ({"a": np.eye(5), "b": np.full((5, 5), np.nan)}, {}, "model 'b' vectors: row 0, column 0"),
        ({"a": np.eye(5), "b": np.ones(5)}, {}, "model 'b' vectors: must be a 2-D array"),
    ],
)
def test_compare_errors_are_one_line(models, kwargs, message):
    with pytest.raises(InputError) as info:
        compare_embeddings(models, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_pairwise_function_errors():
    x = np.eye(5)
    with pytest.raises(InputError, match="same points"):
        knn_overlap(x, np.eye(6))
    with pytest.raises(InputError, match="same points"):
        linear_cka(x, np.eye(4))
    with pytest.raises(InputError, match="unknown metric"):
        distance_spearman(x, x, "hamming")
    with pytest.raises(InputError, match="sample must be"):
        distance_spearman(x, x, "cosine", sample=2)


def test_above_the_exact_limit_neighbours_come_from_the_approximate_index():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(600, 16)).astype(np.float32)
    b = a + rng.normal(scale=0.05, size=a.shape).astype(np.float32)  # nearly the same space
    exact = compare_embeddings({"a": a, "b": b}, k=5)
    approx = compare_embeddings({"a": a, "b": b}, k=5, exact_up_to=100)
    assert not any("approximate" in note for note in exact.notes)
    assert any("approximate index" in note and "above 100 points" in note for note in approx.notes)
    # the overlap the approximate sets give stays close to the exact figure
    assert approx.pairs[0].mean_knn_overlap == pytest.approx(exact.pairs[0].mean_knn_overlap, abs=0.05)
    np.testing.assert_array_equal(knn_overlap(a, a, 5, exact_up_to=100), 1.0)
