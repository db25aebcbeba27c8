"""Views out as projector bookmarks (bookmarks.txt), back in as views; the CLI's export --views."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embeddings.bookmarks import BOOKMARKS_FILE
from embeddings.cli import main
from embeddings.errors import InputError
from embeddings.pipeline import load_input
from embeddings.projector import projector_zip, write_projector
from embeddings.reduce import Projection, project
from embeddings.views import View

# Every State field the projector's loadState / restoreUIFromBookmark reads.
STATE_FIELDS = {
    "label", "isSelected", "selectedProjection", "dataSetDimensions", "tSNEIteration", "tSNEPerplexity",
    "tSNELearningRate", "tSNEis3d", "umapIs3d", "umapNeighbors", "umapMinDist", "pcaComponentDimensions",
    "customSelectedSearchByMetadataOption", "customXLeftText", "customXLeftRegex", "customXRightText",
    "customXRightRegex", "customYUpText", "customYUpRegex", "customYDownText", "customYDownRegex", "projections",
    "filteredPoints", "selectedPoints", "shuffledDataIndices", "cameraDef", "selectedColorOptionName",
    "forceCategoricalColoring", "selectedLabelOption",
}


def data(n: int = 40, d: int = 6) -> tuple[np.ndarray, pd.DataFrame]:
    vectors = np.random.default_rng(4).standard_normal((n, d)).astype(np.float32)
    metadata = pd.DataFrame({"text": [f"t{i}" for i in range(n)], "topic": ["ab"[i % 2] for i in range(n)]})
    return vectors, metadata


def test_views_round_trip_through_bookmarks(tmp_path: Path) -> None:
    vectors, metadata = data()
    pca = project(vectors, "pca", 3, components=(1, 0, 2))
    sampled = project(vectors, "pca", 2, max_points=25, seed=1)  # laid out on 25 of 40 points
    views = [
        View.of_projection(pca, name="PCA 3D", color="topic", label="text", selection=(3, 5)),
        # A selected row outside the sample is not among the bookmark's (filtered) points.
        View.of_projection(sampled, name="sample", selection=(sampled.rows[0], sorted(set(range(40)) - set(sampled.rows))[0])),
    ]
    paths = write_projector(tmp_path, vectors, metadata, views=views)
    assert paths["bookmarks"] == tmp_path / BOOKMARKS_FILE
    config = json.loads(paths["config"].read_text())["embeddings"][0]
    assert config["bookmarksPath"] == BOOKMARKS_FILE
    states = json.loads(paths["bookmarks"].read_text())
    assert [set(s) for s in states] == [STATE_FIELDS, STATE_FIELDS]
    first, second = states
    assert first["selectedProjection"] == "pca" and first["pcaComponentDimensions"] == [1, 0, 2]
    assert first["dataSetDimensions"] == [40, 6] and first["filteredPoints"] is None
    assert list(first["projections"][0]) == ["pca-1", "pca-0", "pca-2"]
    assert first["selectedColorOptionName"] == "topic" and first["selectedLabelOption"] == "text"
    assert first["cameraDef"]["orthographic"] is False and first["selectedPoints"] == [3, 5]
    assert second["filteredPoints"] == sampled.rows.tolist() and len(second["projections"]) == 25
    assert second["selectedPoints"] == [0] and second["selectedColorOptionName"] == "No color map"

    back = load_input(tmp_path)
    assert [v.name for v in back.bookmarks] == ["PCA 3D", "sample"]
    for view, made in zip(back.bookmarks, (pca, sampled)):
        assert np.array_equal(view.projection.coords, made.coords)  # float32 exact
        assert view.method == "pca" and view.dims == made.dims and view.data == str(tmp_path)
    assert back.bookmarks[0].projection.subset_rows is None and back.bookmarks[0].look.selection == (3, 5)
    assert back.bookmarks[0].look.color == "topic" and back.bookmarks[0].params == {"components": [1, 0, 2]}
    assert np.array_equal(back.bookmarks[1].projection.subset_rows, sampled.rows)
    assert back.bookmarks[1].look.selection == (int(sampled.rows[0]),)


def test_one_column_metadata_is_label_and_zip_holds_bookmarks(tmp_path: Path) -> None:
    vectors, metadata = data()
    view = View.of_projection(project(vectors, "pca", 2), color="text", label="text")
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(projector_zip(vectors, metadata[["text"]], views=[view])))
    assert sorted(archive.namelist()) == sorted(["vectors.tsv", "metadata.tsv", BOOKMARKS_FILE,
                                                  "projector_config.json"])
    state = json.loads(archive.read(BOOKMARKS_FILE))[0]
    assert state["selectedColorOptionName"] == "label" and state["selectedLabelOption"] == "label"
    assert state["label"] == "PCA 2D"


def test_export_without_views_removes_old_bookmarks(tmp_path: Path) -> None:
    vectors, metadata = data()
    write_projector(tmp_path, vectors, metadata, views=[View.of_projection(project(vectors, "pca", 2))])
    paths = write_projector(tmp_path, vectors, metadata)
    assert "bookmarks" not in paths and not (tmp_path / BOOKMARKS_FILE).exists()
    assert "bookmarksPath" not in json.loads(paths["config"].read_text())["embeddings"][0]


@pytest.mark.parametrize(
    ("make", "parts"),
    [
        (lambda v, p: View.of_projection(p, color="nope"), ["colour column 'nope'", "not among the metadata"]),
        (lambda v, p: View.of_projection(Projection(p.coords[:5], "pca", 2)), ["5 coordinates for 40 points"]),
        (lambda v, p: View(method="umap"), ["has no coordinates"]),
    ],
    ids=["colour", "count", "no-coords"],
)
def test_bad_views_say_one_line_and_write_nothing(tmp_path: Path, make, parts: list[str]) -> None:
    vectors, metadata = data()
    with pytest.raises(InputError) as info:
        write_projector(tmp_path / "out", vectors, metadata, views=[make(vectors, project(vectors, "pca", 2))])
    assert all(p in str(info.value) for p in parts), str(info.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (lambda s: s.update(dataSetDimensions=[3, 3]), ["bookmark 1 ('x')", "[3, 3]", "[40, 6]"]),
        (lambda s: s.update(selectedProjection="lda"), ["selectedProjection", "'lda'"]),
        (lambda s: s.update(projections=s["projections"][:3]), ["3 point projections for 40 points"]),
        (lambda s: s.update(projections=[{} for _ in s["projections"]]), ["no point has pca-0, pca-1"]),
        (lambda s: s.update(selectedPoints=[99]), ["selectedPoints names point 99"]),
        (lambda s: s.update(pcaComponentDimensions=[0]), ["pcaComponentDimensions"]),
    ],
    ids=["shape", "method", "length", "empty", "selection", "components"],
)
def test_bad_bookmarks_say_one_line(tmp_path: Path, change, parts: list[str]) -> None:
    vectors, metadata = data()
    write_projector(tmp_path, vectors, metadata, views=[View.of_projection(project(vectors, "pca", 2), name="x")])
    states = json.loads((tmp_path / BOOKMARKS_FILE).read_text())
    change(states[0])
    (tmp_path / BOOKMARKS_FILE).write_text(json.dumps(states))
    with pytest.raises(InputError) as info:
        load_input(tmp_path)
    assert "bookmarks.txt" in str(info.value) and all(p in str(info.value) for p in parts), str(info.value)
    (tmp_path / BOOKMARKS_FILE).write_text("{")
    with pytest.raises(InputError, match="bookmarks.txt: not valid JSON"):
        load_input(tmp_path)


def test_projector_bookmark_with_sampled_tsne_keeps_placed_points(tmp_path: Path) -> None:
    """The projector's own t-SNE bookmarks above its sample size place only the sampled points."""
    vectors, metadata = data()
    write_projector(tmp_path, vectors, metadata)
    coords = np.random.default_rng(0).standard_normal((40, 3))
    state = {"label": "theirs", "selectedProjection": "tsne", "tSNEis3d": True, "tSNEPerplexity": 12,
             "tSNELearningRate": 1, "tSNEIteration": 300, "dataSetDimensions": [40, 6], "filteredPoints": None,
             "selectedPoints": [2], "selectedColorOptionName": "topic", "selectedLabelOption": "text",
             "projections": [{f"tsne-{j}": float(coords[i, j]) for j in range(3)} if i % 4 else {"pca-0": 1.0}
                             for i in range(40)]}
    (tmp_path / BOOKMARKS_FILE).write_text(json.dumps([state]))
    config = json.loads((tmp_path / "projector_config.json").read_text())
    config["embeddings"][0]["bookmarksPath"] = BOOKMARKS_FILE
    (tmp_path / "projector_config.json").write_text(json.dumps(config))
    view = load_input(tmp_path).bookmarks[0]
    placed = np.array([i for i in range(40) if i % 4])
    assert view.method == "tsne" and view.dims == 3 and view.name == "theirs"
    assert np.array_equal(view.projection.subset_rows, placed)
    assert np.array_equal(view.projection.coords, coords[placed].astype(np.float32))
    assert view.params == {"perplexity": 12, "learning_rate": 10.0, "n_iter": 300}
    assert view.look.selection == (2,) and view.look.color == "topic" and "30 of 40" in view.projection.note


def test_cli_export_views_equal_cli_project(tmp_path: Path) -> None:
    """A bookmark's coordinates are what `embeddings project` gives for the same data, method and seed."""
    vectors, metadata = data(n=60)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "m.tsv").write_text(metadata.to_csv(sep="\t", index=False), encoding="utf-8")
    common = [str(tmp_path / "v.npy"), "--metadata", str(tmp_path / "m.tsv"), "--seed", "3", "-q"]
    assert main(["export", *common, "--out", str(tmp_path / "out"), "--views", "pca,umap,tsne",
                 "--color", "topic", "--dims", "3"]) == 0
    views = load_input(tmp_path / "out").bookmarks
    assert [(v.method, v.dims, v.look.color) for v in views] == [("pca", 3, "topic"), ("umap", 3, "topic"),
                                                            ("tsne", 3, "topic")]
    for view in views:
        out = tmp_path / f"{view.method}.csv"
        assert main(["project", *common, "--method", view.method, "--dims", "3", "--out", str(out)]) == 0
        table = pd.read_csv(out)
        assert table["row"].tolist() == list(range(60))
        expected = table[["x", "y", "z"]].to_numpy(dtype=np.float32)
        assert np.array_equal(view.projection.coords, expected), view.method


def test_cli_export_of_a_config_keeps_its_bookmarks(tmp_path: Path) -> None:
    vectors, metadata = data()
    theirs = View.of_projection(Projection(np.ones((40, 2), np.float32) * np.arange(40)[:, None], "umap", 2),
                                name="theirs", color="topic")
    write_projector(tmp_path / "in", vectors, metadata, views=[theirs])
    assert main(["export", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--views", "pca", "-q"]) == 0
    views = load_input(tmp_path / "out").bookmarks
    assert [v.name for v in views] == ["theirs", "PCA 2D (seed 0)"]
    assert np.array_equal(views[0].projection.coords, theirs.projection.coords) and views[0].look.color == "topic"


def test_cli_export_bad_options(tmp_path: Path, capsys) -> None:
    vectors, metadata = data()
    np.save(tmp_path / "v.npy", vectors)
    assert main(["export", str(tmp_path / "v.npy"), "--out", str(tmp_path / "o"), "--color", "x", "-q"]) == 2
    assert "--color 'x': not a metadata column" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["export", str(tmp_path / "v.npy"), "--out", str(tmp_path / "o"), "--views", "pca,lda"])
    assert info.value.code == 2 and "pca, umap and/or tsne" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
