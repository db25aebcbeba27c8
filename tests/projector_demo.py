"""The standalone projector's own demo site, as published (github.com/tensorflow/embedding-projector-standalone):
``oss_data/oss_demo_projector_config.json`` names its files relative to the site's root
(``oss_data/iris_tensors.bytes``), not to the config's folder.

The demo files are not in the tensorboard wheel, so tests build the same layout: the config as
published (four tensors), and the Iris tensor and labels as the projector serves them (150 x 4
float32, little-endian; a labels TSV with a header row, the class last, and a blank line at the
end), from scikit-learn's copy of Fisher's Iris. The other three tensors' files are left out, as
on a site that only downloaded Iris.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PUBLISHED_CONFIG = {
    "embeddings": [
        {"tensorName": "Word2Vec 10K", "tensorShape": [10000, 200],
         "tensorPath": "oss_data/word2vec_10000_200d_tensors.bytes",
         "metadataPath": "oss_data/word2vec_10000_200d_labels.tsv"},
        {"tensorName": "Word2Vec All", "tensorShape": [71291, 200],
         "tensorPath": "oss_data/word2vec_full_200d_tensors.bytes",
         "metadataPath": "oss_data/word2vec_full_200d_labels.tsv",
         "bookmarksPath": "oss_data/word2vec_full_bookmarks.txt"},
        {"tensorName": "Mnist with images", "tensorShape": [10000, 784],
         "tensorPath": "oss_data/mnist_10k_784d_tensors.bytes",
         "metadataPath": "oss_data/mnist_10k_784d_labels.tsv",
         "sprite": {"imagePath": "oss_data/mnist_10k_sprite.png", "singleImageDim": [28, 28]}},
        {"tensorName": "Iris", "tensorShape": [150, 4], "tensorPath": "oss_data/iris_tensors.bytes",
         "metadataPath": "oss_data/iris_labels.tsv"},
    ],
    "modelCheckpointPath": "Demo datasets",
}
IRIS_COLUMNS = ["sepal-length", "sepal-width", "petal-length", "petal-width", "class"]


def iris() -> tuple[np.ndarray, list[str]]:
    """Fisher's Iris: the 150 x 4 measurements and each flower's class, as the demo names them."""
    from sklearn.datasets import load_iris

    data = load_iris()
    classes = [f"Iris-{data.target_names[t]}" for t in data.target]
    return data.data.astype("<f4"), classes


def projector_demo_site(root: Path) -> Path:
    """The demo site under `root` (root/oss_data/...); returns the config's path."""
    folder = root / "oss_data"
    folder.mkdir(parents=True, exist_ok=True)
    vectors, classes = iris()
    (folder / "iris_tensors.bytes").write_bytes(vectors.tobytes())
    rows = ["\t".join(IRIS_COLUMNS)] + [
        "\t".join([*(f"{v:.1f}" for v in row), label]) for row, label in zip(vectors, classes)]
    (folder / "iris_labels.tsv").write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    config = folder / "oss_demo_projector_config.json"
    config.write_text(json.dumps(PUBLISHED_CONFIG, indent=2), encoding="utf-8")
    return config
