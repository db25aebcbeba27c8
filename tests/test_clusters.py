"""Clusters and their names: HDBSCAN on a layout or the original space, c-TF-IDF names, the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from embeddings.clusters import (
    NOISE_NAME,
    add_cluster_columns,
    cluster_points,
    default_min_cluster_size,
    find_clusters,
    name_clusters,
)
from embeddings.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "sample_data" / "sentences.csv"

# Three topics with their own words; every text also carries words all topics share.
TOPIC_WORDS = {
    "boats": ["harbour", "sail", "anchor", "mast", "keel"],
    "bread": ["dough", "yeast", "oven", "crust", "flour"],
    "stars": ["telescope", "galaxy", "orbit", "comet", "nebula"],
}
SHARED = ["today", "people", "often", "said"]


def blob_data(sizes=(60, 40, 25), seed: int = 0, outliers: int = 3):
    """2D blobs far apart, one topic each, plus a few far-off outliers; texts from each topic's words."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]])
    coords, truth, texts = [], [], []
    for blob, (topic, size) in enumerate(zip(TOPIC_WORDS, sizes)):
        coords.append(centres[blob] + rng.normal(size=(size, 2)))
        truth += [blob] * size
        for _ in range(size):
            words = list(rng.choice(TOPIC_WORDS[topic], size=3, replace=False)) + list(rng.choice(SHARED, size=2))
            texts.append("the " + " and the ".join(words))
    coords.append(np.array([[100.0, 100.0], [-100.0, 80.0], [90.0, -100.0]])[:outliers])
    truth += [-1] * outliers
    texts += ["something else entirely"] * outliers
    return np.vstack(coords).astype(np.float32), np.array(truth), texts


def test_blobs_become_named_clusters_largest_first_with_noise() -> None:
    coords, truth, texts = blob_data()
    found = find_clusters(texts, coords, space="layout", min_cluster_size=10)
    assert found.count == 3
    # cluster 0 is the largest blob (60 points), 1 the next, 2 the smallest
    assert [found.sizes[c] for c in range(3)] == [60, 40, 25]
    assert adjusted_rand_score(truth, found.labels) == pytest.approx(1.0)
    assert list(found.labels[-3:]) == [-1, -1, -1] and found.sizes[-1] == 3
    for cluster, topic in enumerate(TOPIC_WORDS):
        keywords = found.keywords[cluster]
        assert len(keywords) == 3
        assert all(word in TOPIC_WORDS[topic] for keyword in keywords for word in keyword.split()), keywords
        assert found.names[cluster] == ", ".join(keywords)
    assert found.names[-1] == NOISE_NAME
    # centres are member points of their clusters, near the blob centres
    assert np.allclose(found.centres, [[0, 0], [30, 0], [0, 30]], atol=1.5)
    notes = found.annotations()
    assert [n["text"] for n in notes] == [found.names[c] for c in range(3)]
    assert set(notes[0]) == {"x", "y", "text"}


def test_same_inputs_same_clusters_and_names() -> None:
    coords, _, texts = blob_data(seed=3)
    first = find_clusters(texts, coords, space="layout", min_cluster_size=10, seed=5)
    again = find_clusters(list(texts), coords.copy(), space="layout", min_cluster_size=10, seed=5)
    assert np.array_equal(first.labels, again.labels)
    assert first.names == again.names


def test_above_the_sample_limit_every_point_gets_its_nearest_sampled_cluster() -> None:
    coords, truth, texts = blob_data(sizes=(600, 400, 250), outliers=0)
    full = find_clusters(texts, coords, space="layout", min_cluster_size=50)
    sampled = find_clusters(texts, coords, space="layout", min_cluster_size=50, max_points=300)
    assert "sample of 300 of 1,250" in sampled.note
    assert len(sampled.labels) == len(coords)
    assert adjusted_rand_score(full.labels, sampled.labels) > 0.95
    assert adjusted_rand_score(truth, sampled.labels) > 0.95
    assert sampled.params["min_cluster_size"] == 50


def test_original_space_finds_clusters_the_layout_hides() -> None:
    # Three tight groups of directions in 40 dims; the "layout" is random, so it shows nothing.
    rng = np.random.default_rng(1)
    axes = np.eye(40)[[0, 10, 20]]
    truth = np.repeat([0, 1, 2], 40)
    vectors = (axes[truth] + rng.normal(scale=0.05, size=(120, 40))).astype(np.float32)
    layout = rng.normal(size=(120, 2)).astype(np.float32)
    texts = [f"{['alpha', 'beta', 'gamma'][t]} item" for t in truth]
    original = find_clusters(texts, layout, vectors=vectors, space="original", min_cluster_size=15)
    on_layout = find_clusters(texts, layout, space="layout", min_cluster_size=15)
    assert adjusted_rand_score(truth, original.labels) > 0.95
    assert adjusted_rand_score(truth, on_layout.labels) < 0.2
    # "item" is in every text of every cluster: it tells none apart, so it names none
    assert sorted(original.names.values()) == ["alpha", "beta", "gamma"]
    assert original.centres.shape == (3, 2)  # centres stay in layout coordinates for the names


def test_names_skip_stop_words_shared_words_and_overlapping_bigrams() -> None:
    labels = np.array([0] * 4 + [1] * 4)
    texts = [
        "the penalty kick went in", "a penalty kick again", "the penalty kick was saved", "referee and penalty kick",
        "bake the bread", "the bread needs yeast", "bread with yeast", "a loaf of bread",
    ]
    keywords = name_clusters(labels, texts)
    assert keywords[0][0] == "penalty kick"
    assert "penalty" not in keywords[0] and "kick" not in keywords[0]
    assert keywords[1][:2] == ["bread", "yeast"]
    assert not {"the", "a", "and", "with", "of"} & {w for words in keywords.values() for k in words for w in k.split()}


def _texts_of(words_per_cluster: list[list[str]], per_cluster: int = 12, shared: str = "") -> tuple[np.ndarray, list[str]]:
    """Texts built from each cluster's words (cycled, two or three per text), plus `shared` in every text."""
    labels, texts = [], []
    for cluster, words in enumerate(words_per_cluster):
        for i in range(per_cluster):
            picked = [words[(i + j) % len(words)] for j in range(2 + i % 2)]
            texts.append(" ".join(picked + ([shared] if shared else [])))
            labels.append(cluster)
    return np.array(labels), texts


def test_names_tell_clusters_apart() -> None:
    """Words in most clusters name none; no word twice in a name; every cluster leads with its own word."""
    labels, texts = _texts_of([
        ["font", "fonts", "truetype", "glyph"],           # "font"/"fonts": one word, named once
        ["font", "serif", "typeface", "fonts"],           # leads with something else than "font"
        ["integer integer", "integer", "division", "remainder"],  # no "integer integer"
        ["socket", "connection", "transport", "tcp"],
        ["decimal", "operand", "context", "rounding"],
    ], shared="return value")
    texts[3] += " returns"
    keywords = name_clusters(labels, texts)
    names = {c: ", ".join(k) for c, k in keywords.items()}
    words = {c: [w for k in kws for w in k.split()] for c, kws in keywords.items()}
    assert not {"return", "value", "returns", "return value"} & {w for ws in words.values() for w in ws}, names
    for cluster, ws in words.items():
        stems = [w.rstrip("s") for w in ws]
        assert len(stems) == len(set(stems)), names  # no "font, fonts", no "integer integer"
        assert 1 <= len(keywords[cluster]) <= 3
    leads = [keywords[c][0].split()[0] for c in sorted(keywords)]
    assert len(set(leads)) == len(leads), names
    assert len(set(names.values())) == len(names)
    assert keywords[2][0] in ("division", "remainder", "integer", "integer division", "division remainder")


def test_refined_names_follow_the_model_with_diversity() -> None:
    """With an encoder, a cluster's candidate words are re-ranked by closeness to its centre, not repeated."""
    labels, texts = _texts_of([["alpha", "beta", "gamma", "delta"], ["omega", "sigma", "kappa", "theta"]])
    axis = {"alpha": 0, "beta": 1, "gamma": 2, "delta": 3, "omega": 4, "sigma": 5, "kappa": 6, "theta": 7}
    vectors = np.zeros((len(texts), 8), dtype=np.float32)
    vectors[labels == 0, 3] = 1.0  # cluster 0 sits on "delta", cluster 1 on "kappa"
    vectors[labels == 1, 6] = 1.0
    seen: list[list[str]] = []

    def encode(words: list[str]) -> np.ndarray:
        seen.append(list(words))
        out = np.zeros((len(words), 8))
        for i, word in enumerate(words):
            for part in word.split():
                out[i, axis[part]] += 1.0
        return out

    plain = name_clusters(labels, texts)
    refined = name_clusters(labels, texts, encode=encode, vectors=vectors)
    assert len(seen) == 1  # every candidate of every cluster in one call
    assert refined[0][0].split()[0] == "delta" or refined[0][0] == "delta", refined
    assert "kappa" in refined[1][0].split(), refined
    assert plain[0][0] != refined[0][0] or plain[1][0] != refined[1][0]
    for kws in refined.values():
        words = [w for k in kws for w in k.split()]
        assert len(words) == len(set(words))
    found = find_clusters(texts, None, vectors=vectors + np.random.default_rng(0).normal(scale=0.01, size=vectors.shape)
                          .astype(np.float32), min_cluster_size=5, encode=encode)
    assert found.params["refined"] and "names refined by the model" in found.summary()
    with pytest.raises(InputError, match="needs the texts and their vectors"):
        find_clusters(None, None, vectors=vectors, encode=encode)


def test_token_clusters_are_named_by_their_tokens_without_subword_markers() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, -1])
    tokens = ["##ing", "##ing", "run", "Ġbank", "Ġbank", "river", "the"]
    keywords = name_clusters(labels, tokens, tokens=True)
    assert keywords[0][0] == "ing" and keywords[1][0] == "bank"
    # a cluster of nothing but stop words still gets a name
    assert name_clusters(np.array([0, 0, 1, 1]), ["the", "the", "cat", "cat"], tokens=True) == {
        0: ["the"], 1: ["cat"]}


def test_cluster_columns_join_the_table() -> None:
    coords, _, texts = blob_data()
    found = find_clusters(texts, coords, space="layout", min_cluster_size=10)
    table = pd.DataFrame({"text": texts, "cluster": "theirs"})
    out = add_cluster_columns(table, found)
    assert list(out.columns) == ["text", "cluster", "cluster_label"]
    assert out["cluster"].tolist() == found.labels.tolist()
    assert out["cluster_label"].iloc[-1] == "noise" and out["cluster_label"].iloc[0] == found.names[0]
    assert table["cluster"].eq("theirs").all()  # the input table is not changed
    with pytest.raises(InputError, match="table has 2 rows but 128 points"):
        add_cluster_columns(table.head(2), found)


def test_cluster_points_adds_the_columns_to_points() -> None:
    from embeddings.points import Points
    from embeddings.reduce import Projection

    coords, truth, texts = blob_data()
    table = pd.DataFrame({"text": texts, "cluster": "theirs"})
    points = Points(np.hstack([coords, np.ones((len(coords), 1))]).astype(np.float32), table, text_column="text")
    projection = Projection(coords=coords, method="pca", dims=2)
    clustered, found = cluster_points(points, projection, space="layout", min_cluster_size=10)
    assert list(clustered.table.columns) == ["text", "cluster (data)", "cluster", "cluster_label"]
    assert clustered.table["cluster"].tolist() == found.labels.tolist()
    assert adjusted_rand_score(truth, found.labels) == pytest.approx(1.0)
    assert np.array_equal(clustered.vectors, points.vectors) and points.table["cluster"].eq("theirs").all()
    sampled = Projection(coords=coords[:50], method="umap", dims=2, subset_rows=np.arange(50))
    with pytest.raises(InputError, match="lays out 50 of 128 points"):
        cluster_points(points, sampled)


def test_clusters_without_texts_are_numbered() -> None:
    coords, _, _ = blob_data()
    found = find_clusters(None, coords, space="layout", min_cluster_size=10)
    assert [found.names[c] for c in range(3)] == ["cluster 0", "cluster 1", "cluster 2"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"space": "umap"}, "cluster space must be one of original, layout"),
        ({"min_cluster_size": 1}, "min cluster size must be a whole number of at least 2"),
        ({"space": "original"}, "needs the vectors"),
        ({"selection": "best"}, "cluster selection must be one of leaf, eom"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs, message) -> None:
    coords, _, texts = blob_data()
    with pytest.raises(InputError, match=message):
        find_clusters(texts, coords, **{"space": "layout", **kwargs})


def test_bad_shapes_are_one_line_errors() -> None:
    coords, _, texts = blob_data()
    with pytest.raises(InputError, match="texts: 5 rows for 128 points"):
        find_clusters(texts[:5], coords, space="layout")
    with pytest.raises(InputError, match="needs its coordinates"):
        find_clusters(texts, None, space="layout")
    with pytest.raises(InputError, match="original space needs the vectors"):
        find_clusters(texts, coords)
    bad = coords.copy()
    bad[4, 1] = np.nan
    with pytest.raises(InputError, match="row 4, column 1"):
        find_clusters(texts, bad, space="layout")


def test_default_min_cluster_size_grows_with_the_data() -> None:
    assert default_min_cluster_size(20) == 5
    assert default_min_cluster_size(300) == 10
    assert default_min_cluster_size(100_000) == 190


# ---------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embeddings", *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_cli_project_and_export_carry_cluster_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    truth = np.repeat([0, 1, 2], 30)
    vectors = (np.eye(16)[truth * 5] * 10 + rng.normal(size=(90, 16))).astype(np.float32)
    np.save(tmp_path / "v.npy", vectors)
    words = ["harbour sail", "dough yeast", "galaxy orbit"]
    meta = pd.DataFrame({"text": [f"{words[t]} number {i}" for i, t in enumerate(truth)], "cluster": "mine"})
    meta.to_csv(tmp_path / "meta.tsv", sep="\t", index=False)
    out = tmp_path / "coords.csv"
    result = run_cli("project", tmp_path / "v.npy", "--metadata", tmp_path / "meta.tsv", "--method", "pca",
                     "--clusters", "--min-cluster-size", "10", "--out", out)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert {"x", "y", "text", "meta_cluster", "cluster", "cluster_label"} <= set(table.columns)
    assert adjusted_rand_score(truth, table["cluster"]) > 0.95
    names = dict(zip(table["cluster"], table["cluster_label"]))
    assert sorted(names.values()) == ["dough yeast", "galaxy orbit", "harbour sail"]
    assert "3 clusters, 0% noise (0 of 90 points), original space (UMAP to 5 dims), min size 10" in result.stderr
    result = run_cli("project", tmp_path / "v.npy", "--metadata", tmp_path / "meta.tsv", "--method", "pca",
                     "--clusters", "--cluster-space", "layout", "--min-cluster-size", "10", "--out", out)
    assert result.returncode == 0 and ", layout space, min size 10" in result.stderr, result.stderr

    folder = tmp_path / "export"
    result = run_cli("export", tmp_path / "v.npy", "--metadata", tmp_path / "meta.tsv", "--clusters",
                     "--min-cluster-size", "10", "--out", folder)
    assert result.returncode == 0, result.stderr
    exported = pd.read_csv(folder / "metadata.tsv", sep="\t", keep_default_na=False)
    assert list(exported.columns) == ["text", "meta_cluster", "cluster", "cluster_label"]
    assert adjusted_rand_score(truth, exported["cluster"]) > 0.95


def test_cli_cluster_option_mistakes_are_one_line(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((5, 3), dtype=np.float32))
    result = run_cli("project", tmp_path / "v.npy", "--clusters", "--min-cluster-size", "1", "--out",
                     tmp_path / "c.csv")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "at least 2" in result.stderr
    result = run_cli("export", tmp_path / "v.npy", "--clusters", "--cluster-space", "layout", "--out", tmp_path / "e")
    assert result.returncode == 2 and "invalid choice: 'layout'" in result.stderr
    assert not (tmp_path / "c.csv").exists() and not (tmp_path / "e").exists()


# ---------------------------------------------------------------- the sample sentences, end to end


def typical_words(frame: pd.DataFrame, label: str = "topic") -> dict[str, set[str]]:
    """Per label: words in at least 3 of its texts with most of their texts under that label."""
    words_of = [set(re.findall(r"[a-z]+", text.lower())) for text in frame["text"]]
    counts: dict[str, dict[str, int]] = {}
    for topic, words in zip(frame[label], words_of):
        for word in words:
            counts.setdefault(word, {}).setdefault(topic, 0)
            counts[word][topic] += 1
    typical: dict[str, set[str]] = {topic: set() for topic in frame[label].unique()}
    for word, per_topic in counts.items():
        topic, count = max(per_topic.items(), key=lambda item: item[1])
        if count >= 3 and count > 0.5 * sum(per_topic.values()):
            typical[topic].add(word)
    return typical


def names_with_typical_words(table: pd.DataFrame, typical: dict[str, set[str]], label: str) -> pd.DataFrame:
    """Per cluster: its name, its most common label, and whether the name holds a word typical of that label."""
    named = table[table["cluster"] >= 0].groupby("cluster").agg(
        name=("cluster_label", "first"), label=(label, lambda t: t.mode().iloc[0]))
    named["ok"] = [bool(set(re.findall(r"[a-z]+", row.name.lower())) & typical[row.label]) for row in named.itertuples()]
    return named


@pytest.mark.slow
def test_sample_sentences_umap_clusters_match_topics_and_names_say_them(tmp_path: Path) -> None:
    """The acceptance check: CLI, bundled model, UMAP 2D; ARI >= 0.6 and names that say the topic."""
    out = tmp_path / "umap.csv"
    result = run_cli("project", SENTENCES, "--method", "umap", "--clusters", "--out", out)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, keep_default_na=False)
    ari = adjusted_rand_score(table["topic"], table["cluster"])
    assert ari >= 0.6, (ari, result.stderr)
    typical = typical_words(pd.read_csv(SENTENCES))
    named = names_with_typical_words(table, typical, "topic")
    assert named["ok"].sum() > len(named) / 2, named
    assert len(named) >= 7  # ten topics: most of them found


@pytest.mark.slow
def test_docstrings_cluster_by_module_from_the_cli_defaults_on_pca(tmp_path: Path) -> None:
    """Real text no one here wrote (standard-library docstrings, made now), the CLI's defaults on a PCA layout:
    clusters agree with the module (ARI >= 0.4), little noise, and names say the module."""
    made = tmp_path / "docstrings.csv"
    subprocess.run([sys.executable, str(ROOT / "sample_data" / "make_docstrings.py"), str(made)], check=True,
                   capture_output=True, timeout=300)
    frame = pd.read_csv(made, dtype=str, keep_default_na=False)
    frame["module"] = frame["module"].str.split(".").str[0]
    counts = frame["module"].value_counts()
    pool = sorted(counts[counts >= 40].index)  # the benchmark's draw (docstrings_of_modules), 50 texts a module
    modules = np.random.default_rng(1).choice(pool, 10, replace=False)
    frame = frame[frame["module"].isin(modules)].groupby("module").head(50)[["text", "module"]]
    data = tmp_path / "ten-modules.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "pca.csv"
    result = run_cli("project", data, "--method", "pca", "--clusters", "--out", out)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, keep_default_na=False)
    ari = adjusted_rand_score(table["module"], table["cluster"])
    noise = float((table["cluster"] < 0).mean())
    assert ari >= 0.4 and noise <= 0.2, (ari, noise, result.stderr)
    assert re.search(rf"\d+ clusters, {noise:.0%} noise \(\d+ of {len(table)} points\), original space", result.stderr)
    typical = typical_words(frame, "module")
    named = names_with_typical_words(table, typical, "module")
    assert named["ok"].mean() >= 0.8, named
    assert named["name"].is_unique
    # the same clusters, names re-ranked by the same model (the texts' vectors come from the cache)
    result = run_cli("project", data, "--method", "pca", "--clusters", "--refine-names", "--out", out)
    assert result.returncode == 0 and "names refined by the model" in result.stderr, result.stderr
    refined = pd.read_csv(out, keep_default_na=False)
    assert refined["cluster"].tolist() == table["cluster"].tolist()
    named = names_with_typical_words(refined, typical, "module")
    assert named["ok"].mean() >= 0.8 and named["name"].is_unique, named
