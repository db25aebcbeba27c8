"""embeddings.reduce on arrays: PCA against sklearn, seeded UMAP/t-SNE, sampling, errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from embeddings import reduce
from embeddings.errors import InputError
from embeddings.reduce import Projection, project, trustworthiness_score


def clusters(n_per: int = 50, centres: int = 4, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.normal(scale=8.0, size=(centres, d))
    labels = np.repeat(np.arange(centres), n_per)
    return (middle[labels] + rng.normal(size=(len(labels), d))).astype(np.float32)


def same_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    """Columns equal up to a sign each (PCA axes have no preferred direction)."""
    for column in range(a.shape[1]):
        sign = np.sign(np.dot(a[:, column], b[:, column])) or 1.0
        np.testing.assert_allclose(a[:, column], sign * b[:, column], atol=atol)


# ---------------------------------------------------------------- PCA


def test_pca_matches_sklearn():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(1).normal(size=(150, 8)) * np.arange(1, 9)  # distinct variances
    result = project(x, "pca", 2)
    reference = PCA(n_components=8, svd_solver="full").fit(x)
    assert isinstance(result, Projection)
    assert result.coords.shape == (150, 2) and result.coords.dtype == np.float32
    assert (result.method, result.dims, result.subset_rows, result.note) == ("pca", 2, None, None)
    assert result.variance_explained == pytest.approx(reference.explained_variance_ratio_[:2], abs=1e-5)
    same_up_to_sign(result.coords, reference.transform(x)[:, :2], atol=1e-3)
    assert result.params == {"components": [0, 1], "svd_solver": "covariance_eigh"}
    np.testing.assert_array_equal(result.rows, np.arange(150))
    assert result.seconds > 0


def test_pca_components_choice_and_3d():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(2).normal(size=(120, 6)) * np.arange(6, 0, -1)
    reference = PCA(n_components=6, svd_solver="full").fit(x)
    chosen = project(x, "pca", 2, components=(2, 0))
    assert chosen.params["components"] == [2, 0]
    ratios = reference.explained_variance_ratio_
    assert chosen.variance_explained == pytest.approx([ratios[2], ratios[0]], abs=1e-5)
    same_up_to_sign(chosen.coords, reference.transform(x)[:, [2, 0]], atol=1e-3)
    three = project(x, "pca", 3)
    assert three.coords.shape == (120, 3) and len(three.variance_explained) == 3
    assert three.variance_explained == sorted(three.variance_explained, reverse=True)


def test_pca_fast_solvers_are_deterministic_and_accurate():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(3).normal(size=(2500, 40)) * np.linspace(5, 1, 40)
    first = project(x, "pca", 2, seed=1)
    assert first.params["svd_solver"] == "covariance_eigh"  # many rows, few dimensions
    wide = np.random.default_rng(4).normal(size=(2500, 5000)).astype(np.float32)
    assert project(wide, "pca", 2).params["svd_solver"] == "randomized"
    np.testing.assert_array_equal(first.coords, project(x, "pca", 2, seed=1).coords)
    reference = PCA(n_components=2, svd_solver="full").fit(x)
    assert first.variance_explained == pytest.approx(reference.explained_variance_ratio_, rel=1e-3)


# ---------------------------------------------------------------- UMAP and t-SNE


def test_umap_is_seeded():
    x = clusters(n_per=50)  # 200 points
    first = project(x, "umap", 2, seed=3, n_neighbors=10)
    again = project(x, "umap", 2, seed=3, n_neighbors=10)
    other = project(x, "umap", 2, seed=4, n_neighbors=10)
    assert first.coords.shape == (200, 2) and np.isfinite(first.coords).all()
    np.testing.assert_array_equal(first.coords, again.coords)
    assert not np.array_equal(first.coords, other.coords)
    assert first.params == {"n_neighbors": 10, "min_dist": 0.1, "metric": "euclidean", "seed": 3}
    assert 0.9 < first.trustworthiness <= 1.0  # four clear clusters stay clear


def test_umap_on_all_points_with_the_approximate_graph_and_progress(monkeypatch):
    # Above the exact limit UMAP's neighbour graph comes from the approximate index, and it runs on
    # every point (no sample); progress covers the graph and then the epochs, in order.
    from embeddings import neighbors

    monkeypatch.setattr(neighbors, "EXACT_UP_TO", 150)
    monkeypatch.setattr(neighbors, "SEARCH_ROWS", 100)
    monkeypatch.setattr(reduce, "UMAP_PROGRESS_SECONDS", 0.0)  # report every epoch
    x = clusters(n_per=100)  # 400 points
    seen: list[tuple[int, int]] = []
    first = project(x, "umap", 2, seed=1, n_neighbors=10, progress=lambda d, t: seen.append((d, t)))
    again = project(x, "umap", 2, seed=1, n_neighbors=10)
    assert first.coords.shape == (400, 2) and first.subset_rows is None
    assert "approximate index" in first.note and "sample" not in first.note.split("(")[0]
    np.testing.assert_array_equal(first.coords, again.coords)
    assert first.trustworthiness > 0.9
    umap_steps = [(d, t) for d, t in seen if t > 1]
    totals = {t for _, t in umap_steps}
    assert len(totals) == 1 and (total := totals.pop()) == reduce.UMAP_KNN_UNITS + 500
    done = [d for d, _ in umap_steps]
    assert done == sorted(done) and done[-1] == total  # the last epoch is reported
    assert any(0 < d < reduce.UMAP_KNN_UNITS for d in done)  # the graph phase
    assert any(reduce.UMAP_KNN_UNITS < d < total for d in done)  # epochs in between


def test_umap_3d_cosine_and_small_inputs():
    x = clusters(n_per=15)
    three = project(x, "umap", 3, n_neighbors=8, metric="cosine", min_dist=0.5)
    assert three.coords.shape == (60, 3)
    assert three.params["metric"] == "cosine" and three.params["min_dist"] == 0.5
    tiny = project(x[:6], "umap", 2)
    assert tiny.coords.shape == (6, 2)
    assert tiny.note == "n_neighbors lowered from 15 to 5 for 6 points"


def test_tsne_is_seeded_and_reports_progress():
    x = clusters(n_per=50)
    seen: list[tuple[int, int]] = []
    first = project(x, "tsne", 2, seed=5, n_iter=60, perplexity=20, progress=lambda done, total: seen.append((done, total)))
    again = project(x, "tsne", 2, seed=5, n_iter=60, perplexity=20)
    other = project(x, "tsne", 2, seed=6, n_iter=60, perplexity=20)
    np.testing.assert_array_equal(first.coords, again.coords)
    assert not np.array_equal(first.coords, other.coords)
    assert first.params["perplexity"] == 20 and first.params["n_iter"] == 60 and first.params["seed"] == 5
    assert 0.8 < first.trustworthiness <= 1.0
    assert seen[0] == (0, 1) and seen[-1] == (1, 1)
    steps = [done for done, total in seen if total == 310]  # 250 early iterations + 60
    assert steps and steps == sorted(steps) and max(steps) <= 310


def test_tsne_3d_note_and_perplexity_lowered():
    x = clusters(n_per=10)
    three = project(x, "tsne", 3, n_iter=30)
    assert three.coords.shape == (40, 3)
    assert "Barnes-Hut" in three.note
    assert "perplexity lowered from 30 to 13" in three.note  # (40 - 1) / 3


def test_init_is_a_starting_layout():
    x = clusters(n_per=25)
    start = project(x, "pca", 2).coords
    umap_from = project(x, "umap", 2, init=start, n_neighbors=10)
    assert umap_from.coords.shape == (100, 2)
    # t-SNE keeps the orientation of its start: the PCA layout and the result correlate
    tsne_from = project(x, "tsne", 2, init=start, n_iter=50)
    correlation = np.corrcoef(start[:, 0], tsne_from.coords[:, 0])[0, 1]
    assert abs(correlation) > 0.5


# ---------------------------------------------------------------- sampling


def test_sampling_above_max_points():
    x = np.random.default_rng(7).normal(size=(300, 5))
    result = project(x, "pca", 2, max_points=120, seed=2)
    assert result.coords.shape == (120, 2)
    assert result.note == "PCA ran on a random sample of 120 of 300 points"
    rows = result.rows
    assert len(np.unique(rows)) == 120 and (np.diff(rows) > 0).all() and rows.max() < 300
    np.testing.assert_array_equal(result.subset_rows, project(x, "pca", 2, max_points=120, seed=2).subset_rows)
    assert not np.array_equal(rows, project(x, "pca", 2, max_points=120, seed=3).subset_rows)
    # the coordinates are those of the sampled rows
    alone = project(x[rows], "pca", 2)
    same_up_to_sign(result.coords, alone.coords, atol=1e-4)
    # at or below the limit nothing is sampled
    assert project(x, "pca", 2, max_points=300).subset_rows is None


def test_sampling_uses_the_interactive_limit_and_subsets_init(monkeypatch):
    monkeypatch.setitem(reduce.INTERACTIVE_LIMITS, "umap", 40)
    x = clusters(n_per=20)  # 80 points
    start = np.random.default_rng(8).normal(size=(80, 2))
    result = project(x, "umap", 2, init=start, n_neighbors=5)
    assert result.coords.shape == (40, 2) and len(result.subset_rows) == 40
    assert result.note.startswith("UMAP ran on a random sample of 40 of 80 points")
    # an init for the sampled rows only is accepted too
    sampled = project(x, "umap", 2, init=start[result.subset_rows], n_neighbors=5)
    np.testing.assert_array_equal(sampled.coords, result.coords)


# ---------------------------------------------------------------- quality figure


def test_trustworthiness_figures():
    x = clusters(n_per=30)
    good = trustworthiness_score(x, x[:, :2].copy())
    shuffled = trustworthiness_score(x, np.random.default_rng(9).permutation(x[:, :2]))
    assert 0.0 < shuffled < good <= 1.0
    assert trustworthiness_score(x, x[:, :3].copy()) == pytest.approx(
        trustworthiness_score(x, x[:, :3].copy(), sample=50, seed=1), abs=0.1
    )
    assert trustworthiness_score(x, x.copy()) == pytest.approx(1.0)
    assert trustworthiness_score(x[:2], x[:2, :2].copy()) is None  # no neighbours to judge
    result = project(x, "pca", 2)
    assert 0.0 < result.trustworthiness <= 1.0


# ---------------------------------------------------------------- numba cache


def test_numba_cache_dir_is_set_for_umap(monkeypatch, tmp_path):
    import numba

    target = tmp_path / "numba-cache"
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(reduce, "numba_cache_dir", lambda: str(target))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored afterwards
    reduce._prepare_numba_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == str(target)
    assert target.is_dir()
    assert numba.config.CACHE_DIR == str(target)  # numba was imported: told directly
    # a directory the user chose is left alone
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    reduce._prepare_numba_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


def test_numba_cache_dir_default_is_a_user_cache_dir():
    path = reduce.numba_cache_dir()
    assert os.path.isabs(path) and path.endswith(os.path.join("embedding-explorer", "numba"))


def test_umap_kernels_are_recompiled_with_cache():
    pytest.importorskip("umap")
    x = clusters(n_per=10)
    project(x, "umap", 2, n_neighbors=5)
    import umap.umap_ as umap_module

    for name in reduce.UNCACHED_UMAP_KERNELS:
        kernel = getattr(umap_module, name)
        assert getattr(kernel, "_embeddings_cached", False), name
        assert kernel.targetoptions.get("parallel") is True  # same options as umap's own


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "mds"}, "unknown projection method 'mds'"),
        ({"dims": 4}, "dims must be 2 or 3, not 4"),
        ({"dims": True}, "dims must be 2 or 3"),
        ({"dims": 2.0}, "dims must be 2 or 3"),
        ({"method": "pca", "perplexity": 5}, "PCA does not take perplexity; it takes components"),
        ({"method": "umap", "n_iter": 5}, "UMAP does not take n_iter"),
        ({"method": "umap", "n_neighbors": 1}, "UMAP n_neighbors must be at least 2"),
        ({"method": "umap", "n_neighbors": 4.5}, "UMAP n_neighbors must be a whole number"),
        ({"method": "umap", "min_dist": -0.1}, "UMAP min_dist must be at least 0"),
        ({"method": "umap", "min_dist": "far"}, "UMAP min_dist must be a number"),
        ({"method": "umap", "metric": "manhattan"}, "UMAP metric must be one of euclidean, cosine"),
        ({"method": "tsne", "perplexity": 0}, "t-SNE perplexity must be at least 1"),
        ({"method": "tsne", "perplexity": float("nan")}, "t-SNE perplexity must be at least 1"),
        ({"method": "tsne", "n_iter": float("inf")}, "t-SNE n_iter must be a number"),
        ({"method": "tsne", "learning_rate": "fast"}, "t-SNE learning_rate must be a number"),
        ({"method": "pca", "components": (0, 0)}, "2 different component numbers"),
        ({"method": "pca", "components": (0, 9)}, "out of range: 30 points x 4 dimensions give components 0..3"),
        ({"method": "pca", "components": "x"}, "PCA components must be 2 component numbers"),
        ({"method": "pca", "max_points": 1}, "max_points must be at least 2 for PCA"),
        ({"method": "umap", "max_points": 3}, "max_points must be at least 5 for UMAP"),
        ({"method": "pca", "max_points": "many"}, "max_points must be a number"),
        ({"method": "pca", "max_points": 2.5}, "max_points must be a whole number"),
        ({"method": "pca", "init": np.zeros((30, 2))}, "init (a starting layout) applies to UMAP and t-SNE"),
        ({"method": "umap", "init": np.zeros((30, 3))}, "init: must have shape (30, 2), got (30, 3)"),
        ({"method": "tsne", "init": np.zeros((29, 2))}, "init: must have shape (30, 2), got (29, 2)"),
        ({"method": "umap", "init": np.full((30, 2), np.nan)}, "init: row 0, column 0 is nan"),
    ],
)
def test_errors_are_one_line(kwargs, message):
    x = np.random.default_rng(10).normal(size=(30, 4))
    with pytest.raises(InputError) as info:
        project(x, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "vectors, message",
    [
        (np.ones(5), "must be a 2-D array"),
        (np.zeros((0, 3)), "is empty"),
        ([[1.0, 2.0], [3.0]], "cannot be read as a numeric array"),
        (np.array([["a", "b"]] * 5), "must hold real numbers"),
        (np.array([[1.0, 2.0]] * 4 + [[np.inf, 0.0]]), "row 4, column 0 is inf"),
        (np.ones((4, 3)), "UMAP needs at least 5 points, got 4"),
    ],
)
def test_bad_vectors(vectors, message):
    with pytest.raises(InputError) as info:
        project(vectors, "umap")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
