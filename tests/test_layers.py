"""Walking through the layers: one pass gives every layer, the cache agrees with @layerN and
token runs, the layouts are aligned, the figures are right, and a word's senses separate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.cli import main
from embeddings.encode import encode_texts, token_embeddings
from embeddings.errors import InputError, ModelError
from embeddings.layers import aligned_layer_projections, layer_figures, layer_vectors, occurrence_spread
from embeddings.reduce import project

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "sample_data" / "sentences.csv"


@pytest.fixture(scope="module")
def sentences() -> pd.DataFrame:
    frame = pd.read_csv(SENTENCES)
    return frame[frame["topic"].isin(["cooking", "football", "astronomy"])].groupby("topic").head(8).reset_index(drop=True)


def _count_forward_calls(monkeypatch: pytest.MonkeyPatch, model: str) -> list[int]:
    from embeddings.models import load_model

    transformer = load_model(model).transformer
    calls: list[int] = []
    original = transformer.forward
    monkeypatch.setattr(transformer, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_text_layers_come_from_one_pass_and_match_layer_variants(
    sentences: pd.DataFrame, tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = sentences["text"].tolist()
    model = str(tiny_bert_dir)
    calls = _count_forward_calls(monkeypatch, model)
    walk = layer_vectors(texts, model, batch_size=64)
    assert len(calls) == 1  # one model call for 24 texts and every layer
    assert walk.count == 3 and len(walk) == len(texts) and walk.cached == 0
    for layer in range(3):
        variant = encode_texts(texts, f"{model}@layer{layer}")
        assert variant.cached == len(texts)  # the @layerN run found the walk's vectors
        fresh = encode_texts(texts, f"{model}@layer{layer}", cache=False)
        np.testing.assert_allclose(walk.layers[layer], fresh.vectors, atol=1e-5)
    assert not np.allclose(walk.layers[0], walk.layers[2], atol=1e-3)
    again = layer_vectors(texts, model)
    assert again.cached == len(texts) and len(calls) == 1 + 3  # the three fresh @layerN runs only
    np.testing.assert_array_equal(again.layers[1], walk.layers[1])


def test_token_layers_match_token_embeddings_of_each_layer(sentences: pd.DataFrame, tiny_gpt2_dir: Path) -> None:
    texts = sentences["text"].tolist()[:6]
    model = str(tiny_gpt2_dir)
    walk = layer_vectors(texts, model, level="token")
    assert walk.level == "token" and walk.count == 3
    for layer in range(3):
        tokens = token_embeddings(texts, model, layer=layer)
        assert tokens.cached == len(texts)  # found in the walk's cache entries
        pd.testing.assert_frame_equal(tokens.rows, walk.rows)
        fresh = token_embeddings(texts, model, layer=layer, cache=False)
        np.testing.assert_allclose(walk.layers[layer], fresh.vectors, atol=1e-5)


def test_layouts_are_aligned_to_the_next_layer(sentences: pd.DataFrame, tiny_bert_dir: Path) -> None:
    walk = layer_vectors(sentences["text"].tolist(), str(tiny_bert_dir))
    projections = aligned_layer_projections(walk.layers, "pca", 2, seed=0)
    assert len(projections) == 3
    np.testing.assert_allclose(projections[-1].coords, project(walk.layers[-1], "pca", 2, seed=0).coords, atol=1e-5)
    for index in range(2):
        raw = project(walk.layers[index], "pca", 2, seed=0).coords
        aligned = projections[index].coords
        target = projections[index + 1].coords
        # aligning moves each layout as close to the next one as a rotation and scale allow
        assert np.linalg.norm(aligned - target) <= np.linalg.norm(raw - target) + 1e-6
        assert projections[index].params["aligned_to_layer"] == index + 1
        # ... without changing its shape: ratios of distances are kept
        d_raw = np.linalg.norm(raw[0] - raw[1]) / np.linalg.norm(raw[2] - raw[3])
        d_aligned = np.linalg.norm(aligned[0] - aligned[1]) / np.linalg.norm(aligned[2] - aligned[3])
        assert d_aligned == pytest.approx(d_raw, rel=1e-4)


def test_figures_per_layer(sentences: pd.DataFrame, tiny_bert_dir: Path) -> None:
    walk = layer_vectors(sentences["text"].tolist(), str(tiny_bert_dir))
    labels = sentences["topic"].tolist()
    figures = layer_figures(walk, labels, k=5)
    assert figures.knn_overlap_with_last[-1] == 1.0
    assert all(0.0 <= v <= 1.0 for v in figures.knn_overlap_with_last)
    assert all(0.0 <= v <= 1.0 for v in figures.knn_accuracy + figures.probe_accuracy)
    # the same vectors under shuffled labels give the k-NN accuracy of those labels
    from embeddings.probes import knn_accuracy

    assert figures.knn_accuracy[1] == knn_accuracy(walk.layers[1], labels, k=5)
    unlabelled = layer_figures(walk, None, k=5)
    assert unlabelled.knn_accuracy == [None] * 3 and unlabelled.knn_overlap_with_last == figures.knn_overlap_with_last


def test_knn_accuracy_on_known_points() -> None:
    from embeddings.probes import knn_accuracy

    vectors = np.array([[1, 0], [1, 0.1], [1, -0.1], [0, 1], [0.1, 1], [-0.1, 1]], dtype=np.float32)
    assert knn_accuracy(vectors, list("aaabbb"), k=2) == 1.0
    assert knn_accuracy(vectors, list("ababab"), k=2) < 0.5
    query = np.array([[1, 0.05], [0.05, 1]], dtype=np.float32)
    assert knn_accuracy(query, ["a", "b"], reference_vectors=vectors, reference_labels=list("aaabbb"), k=3) == 1.0
    assert knn_accuracy(query, ["b", "a"], reference_vectors=vectors, reference_labels=list("aaabbb"), k=3) == 0.0


def test_bank_of_a_river_and_of_money_separate_going_up() -> None:
    texts = ["We sat on the bank of the river and watched the water.",
             "I paid the money into my account at the bank."]
    walk = layer_vectors(texts, level="token")
    spread = occurrence_spread(walk, "bank")
    assert len(spread) == walk.count == 7
    # layer 0: the same table row plus a different position embedding; the last: context mixed in
    assert spread[0] < 0.1
    assert spread[-1] > 2 * spread[0]
    with pytest.raises(InputError, match="word 'harbour'"):
        occurrence_spread(walk, "harbour")


def test_bad_input(tiny_bert_dir: Path) -> None:
    with pytest.raises(ModelError, match="variant"):
        layer_vectors(["a b c"], f"{tiny_bert_dir}@layer1")
    with pytest.raises(InputError, match="level"):
        layer_vectors(["a b c"], str(tiny_bert_dir), level="vocab")


def test_cli_layers_report_and_coordinates(sentences: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data.csv"
    sentences.to_csv(data, index=False)
    out, coords = tmp_path / "layers.json", tmp_path / "coords.csv"
    assert main(["layers", str(data), "--model", str(tiny_bert_dir), "--label-column", "topic", "--k", "5",
                 "--out", str(out), "--coords", str(coords)]) == 0
    report = json.loads(out.read_text())
    assert report["points"] == len(sentences) and report["layers_walked"] == 3
    assert [entry["layer"] for entry in report["layers"]] == [0, 1, 2]
    assert report["layers"][-1]["knn_overlap_with_last"] == 1.0
    assert all(entry["knn_accuracy"] is not None for entry in report["layers"])
    table = pd.read_csv(coords)
    assert len(table) == 3 * len(sentences)
    assert list(table.columns[:4]) == ["layer", "row", "x", "y"]
    first = table[table["layer"] == 0].reset_index(drop=True)
    assert first["text"].tolist() == sentences["text"].tolist()
    assert first["topic"].tolist() == sentences["topic"].tolist()
    capsys.readouterr()
    assert main(["layers", str(data), "--model", str(tiny_bert_dir), "--label-column", "nope",
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
