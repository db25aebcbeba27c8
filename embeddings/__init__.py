"""Embedding explorer library: texts in, vectors with their rows out, projected and exported.

A notebook needs only these names::

    import embeddings as em

    data = em.read_data("sample_data/sentences.csv")
    points = em.embed_points(data, em.DEFAULT_MODEL)        # or level="token" / "vocab"
    projection = points.project("umap", dims=2, seed=0)
    points, clusters = em.cluster_points(points, projection)   # + cluster, cluster_label columns
    view = em.View.of_projection(projection, name="UMAP")   # a view: recipe, look, coordinates
    points.write_projector("out/", views=[view])            # vectors.tsv, metadata.tsv, bookmarks.txt, config
    points.show(projection, color="topic")                  # the map in a notebook (the `notebook` extra)

Names are loaded on first use, so ``import embeddings`` stays light (no torch, no umap).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS = {
    "Dataset": "embeddings.data",
    "read_data": "embeddings.data",
    "from_texts": "embeddings.data",
    "load_sample": "embeddings.data",
    "load_input": "embeddings.pipeline",
    "embed_points": "embeddings.pipeline",
    "EncodeOptions": "embeddings.options",
    "Points": "embeddings.points",
    "Projection": "embeddings.reduce",
    "project": "embeddings.reduce",
    "LiveProjection": "embeddings.live",
    "Clusters": "embeddings.clusters",
    "cluster_points": "embeddings.clusters",
    "find_clusters": "embeddings.clusters",
    "custom_projection": "embeddings.axes",
    "filter_mask": "embeddings.filters",
    "nearest": "embeddings.neighbors",
    "Neighbors": "embeddings.neighbors",
    "write_projector": "embeddings.projector",
    "show_map": "embeddings.map.notebook",
    "View": "embeddings.views",
    "save_view": "embeddings.views",
    "load_views": "embeddings.views",
    "read_projector_config": "embeddings.projector_config",
    "DEFAULT_MODEL": "embeddings.choices",
    "ModelSpec": "embeddings.models",
    "load_model": "embeddings.models",
    "LayerWalk": "embeddings.layers",
    "layer_vectors": "embeddings.layers",
    "walk_layers": "embeddings.layers",
    "InputError": "embeddings.errors",
    "ModelError": "embeddings.errors",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # for type checkers and editors; at run time the names load on first use
    from embeddings.axes import custom_projection
    from embeddings.clusters import Clusters, cluster_points, find_clusters
    from embeddings.data import Dataset, from_texts, load_sample, read_data
    from embeddings.errors import InputError, ModelError
    from embeddings.layers import LayerWalk, layer_vectors, walk_layers
    from embeddings.live import LiveProjection
    from embeddings.map.notebook import show_map
    from embeddings.filters import filter_mask
    from embeddings.choices import DEFAULT_MODEL
    from embeddings.models import ModelSpec, load_model
    from embeddings.neighbors import Neighbors, nearest
    from embeddings.options import EncodeOptions
    from embeddings.pipeline import embed_points, load_input
    from embeddings.points import Points
    from embeddings.projector import write_projector
    from embeddings.projector_config import read_projector_config
    from embeddings.reduce import Projection, project
    from embeddings.views import View, load_views, save_view


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'embeddings' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
