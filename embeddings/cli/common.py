"""What the commands share: argument types and groups, the one-line error parser, atomic output,
progress bars, reading DATA, and the encoding flags as one EncodeOptions.

Nothing heavy is imported here at module level (the CLI starts fast, and a fully cached run
never imports torch); each helper imports the library module it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from embeddings.choices import BACKENDS, DEFAULT_MODEL, DEFAULT_VOCAB_SIZE, ENGINES, LEVELS, PIXELS_MODEL, QUANTIZE
from embeddings.errors import InputError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


# ---------------------------------------------------------------- argument types and groups


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def processes_arg(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return positive_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of at least 1 or 'auto', not {text!r}") from None


def minimum_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, not {value}")
    return value


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line `error: ...` (exit 2) like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see --help)\n")


def add_common_arguments(p: argparse.ArgumentParser, *, level: bool = True, engine: bool = True) -> None:
    """DATA and how to read it, the model and the encoding flags (each flag's dest is the
    EncodeOptions field it sets; see encode_options), -q; with `engine`, the Ray flags; with
    `level`, --model, --level, --layer and --vocab-size."""
    p.add_argument("data", metavar="DATA", nargs="?" if level else None,
                   help="CSV, TSV, JSONL, Parquet or TXT of texts, or a folder or glob of CSV/JSONL/Parquet "
                   "shards; a folder of images; vectors: .npy / projector vectors TSV; or a projector config: "
                   "projector_config.json, .pbtxt, or a folder holding one (TensorBoard log)"
                   + (" (none with --level vocab)" if level else ""))
    if level:
        p.add_argument("--model", default=DEFAULT_MODEL,
                       help=f"model spec: {DEFAULT_MODEL} (bundled), a Hugging Face id or a local folder; "
                       "SPEC@static or SPEC@layerN for variants; for images a CLIP model, or "
                       f"{PIXELS_MODEL} for the raw pixels (default: %(default)s)")
    p.add_argument("--text-column", help="column holding the texts (default: 'text', else the first text column)")
    p.add_argument("--image-column", help="column of a table naming an image per row (paths relative to the table): "
                   "the points are those images")
    p.add_argument("--metadata", help="metadata TSV for a vectors DATA file (projector format)")
    p.add_argument("--tensor", help="which tensor of a projector config DATA (default: the first)")
    p.add_argument("--batch-size", type=positive_int)  # default: the encoder's (32 texts, 16 at token level)
    p.add_argument("--no-cache", action="store_true", help="encode again instead of reading the vector cache")
    add_trust_argument(p)
    p.add_argument("--processes", type=processes_arg, default=1,
                   help="CPU worker processes for text encoding: a number, or 'auto' (one per core for "
                   "large inputs) (default: %(default)s)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="what runs the model: torch, or the model converted once for ONNX Runtime or OpenVINO "
                   "(the same vectors, faster on a CPU); auto: the fastest that gives torch's vectors on this "
                   "machine (default: %(default)s)")
    p.add_argument("--quantize", choices=QUANTIZE, default="none",
                   help="int8: a quantised graph on ONNX Runtime, faster but not exact (cosine ~0.996 with the "
                   "exact vectors); cached apart from them (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")
    if engine:
        p.add_argument("--engine", choices=ENGINES, default="local",
                       help="where text vectors are computed: this process, or a Ray Data actor pool "
                       "(pip install 'embedding-explorer[ray]') (default: %(default)s)")
        p.add_argument("--ray-address", help="join the Ray cluster at this address (from `ray start "
                       "--head`); without it --engine ray starts a private Ray on this machine")
        p.add_argument("--actors", type=positive_int,
                       help="encoding actors for --engine ray (default: one per GPU, else one per node)")
    if level:
        p.add_argument("--level", choices=LEVELS, default="text",
                       help="one vector per text, one per token (contextual), or the model's vocabulary "
                       "(rows of its input embedding table; no DATA); images are one vector each "
                       "(text or image: the same)")
        p.add_argument("--layer", type=int, default=-1, help="layer for token vectors (-1 = last)")
        p.add_argument("--vocab-size", type=positive_int, default=DEFAULT_VOCAB_SIZE,
                       help="--level vocab: how many whole-word tokens (default: %(default)s)")


def add_trust_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow a model's own Python code to run when loading it (off by default)")


def projection_options(p: argparse.ArgumentParser, max_points_help: str) -> None:
    """Options `project` and `export` share, so the same flags give the same coordinates."""
    p.add_argument("--dims", type=int, choices=(2, 3), default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-points", type=positive_int, help=max_points_help)
    p.add_argument("--neighbors", type=positive_int, default=15, help="UMAP n_neighbors")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist")
    p.add_argument("--metric", default="cosine", help="UMAP metric")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    p.add_argument("--iterations", type=positive_int, default=750, help="t-SNE iterations")


def clusters_options(p: argparse.ArgumentParser, spaces: tuple[str, ...]) -> None:
    """--clusters and how to find them (`project` and `export`)."""
    p.add_argument("--clusters", action="store_true",
                   help="add `cluster` (-1 = noise) and `cluster_label` (its keywords) columns (HDBSCAN)")
    p.add_argument("--min-cluster-size", type=minimum_two, help="smallest cluster (default: grows with the points)")
    p.add_argument("--cluster-space", choices=spaces, default=spaces[0],
                   help="cluster the original vectors (reduced by UMAP to 5 dims: the same clusters whatever "
                   "the layout) or the 2D/3D layout drawn (default: %(default)s)")
    p.add_argument("--refine-names", action="store_true",
                   help="re-rank each cluster's candidate keywords by closeness to its centre with the same model "
                   "(encodes a few hundred words)")


# ---------------------------------------------------------------- output and progress


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed onto it only when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


class Progress:
    """A tqdm bar on stderr, fed by the library's (done, total) callbacks."""

    def __init__(self, description: str, quiet: bool = False) -> None:
        self.description = description
        self.quiet = quiet
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.description, unit="item", file=sys.stderr, leave=False)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StageProgress:
    """One tqdm bar per stage for the library's (stage, done, total) callbacks."""

    def __init__(self, names: dict[str, str], quiet: bool) -> None:
        self.names = names
        self.quiet = quiet
        self.stage: str | None = None
        self.bar = Progress("", quiet)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.bar.close()
            self.bar = Progress(self.names.get(stage, stage), self.quiet)
            self.stage = stage
        self.bar(done, total)

    def close(self) -> None:
        self.bar.close()


def info(message: str, args: argparse.Namespace) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def check_output_suffix(path: Path, suffix: str) -> None:
    if path.suffix.lower() != suffix:
        raise InputError(f"--out {path}: must end in {suffix}")


# ---------------------------------------------------------------- data, model and encoding


def load_for(args: argparse.Namespace):  # -> Dataset | None (None: the vocabulary needs no data)
    from embeddings.pipeline import load_input

    if getattr(args, "level", "text") == "vocab":
        if args.data is not None:
            raise InputError(f"{args.data}: --level vocab shows the model's vocabulary; give no DATA with it")
        return None
    if args.data is None:
        raise InputError("DATA is missing: name a file of texts or vectors (only --level vocab needs none)")
    dataset = load_input(args.data, text_column=args.text_column, metadata=getattr(args, "metadata", None),
                         tensor=getattr(args, "tensor", None), image_column=getattr(args, "image_column", None))
    if dataset.images is not None:
        for note in dataset.images.notes():
            info(f"note: {note}", args)
    return dataset


def text_dataset(args: argparse.Namespace):  # -> Dataset
    dataset = load_for(args)
    if dataset.texts is None:
        what = "images" if dataset.images is not None else "vectors"
        raise InputError(f"{args.data}: {args.command} reads texts with the model; give a text file, not {what}")
    return dataset


def label_values(dataset, column: str | None, data: str) -> list | None:  # dataset: Dataset
    """The label column's values, one per text; one line naming the column when it is missing."""
    if column is None:
        return None
    if column not in dataset.metadata.columns:
        shown = ", ".join(map(str, dataset.metadata.columns)) or "none besides the text"
        raise InputError(f"{data}: no column '{column}' for the labels; columns are: {shown}")
    return dataset.metadata[column].tolist()


def model_spec(args: argparse.Namespace, model: str | None = None):  # -> ModelSpec
    """--model (or `model`) as a ModelSpec that carries --trust-remote-code."""
    from embeddings.models import ModelSpec

    return ModelSpec.parse(model or args.model, trust_remote_code=getattr(args, "trust_remote_code", False))


def encode_options(args: argparse.Namespace, model: str | None = None):  # -> EncodeOptions
    """The encoding flags as one EncodeOptions: a flag whose dest is named like a field is that
    field (so a new option needs only its field and its flag); --no-cache is cache=False and the
    model spec carries --trust-remote-code."""
    from dataclasses import fields

    from embeddings.options import EncodeOptions

    values = {f.name: getattr(args, f.name) for f in fields(EncodeOptions)
              if f.name != "model" and getattr(args, f.name, None) is not None}
    values["cache"] = not getattr(args, "no_cache", False)
    return EncodeOptions(model=model_spec(args, model), **values)


def check_engine(args: argparse.Namespace) -> None:
    """The Ray options go with --engine ray, and --processes/--level token with the local engine."""
    if getattr(args, "engine", "local") != "ray":
        for option, value in (("--ray-address", getattr(args, "ray_address", None)),
                              ("--actors", getattr(args, "actors", None))):
            if value is not None:
                raise InputError(f"{option} goes with --engine ray")
        return
    if args.level != "text":
        raise InputError(f"--engine ray encodes one vector per text; use --engine local for --level {args.level}")
    if args.processes != 1:
        raise InputError("--processes is for --engine local; with --engine ray use --actors")


def points_for(args: argparse.Namespace, dataset):  # -> Points
    from embeddings.pipeline import embed_points

    check_engine(args)
    options = encode_options(args)
    what = "images" if dataset is not None and dataset.images is not None else options.level
    progress = Progress(f"encoding ({what})", quiet=args.quiet)
    try:
        return embed_points(dataset, options, progress=progress)
    finally:
        progress.close()


def model_label(points) -> str:
    """How files and messages name the model: its short name, or the vectors' source."""
    if points.model is None:
        return f"precomputed:{points.source}"
    from embeddings.models import ModelSpec

    try:
        return ModelSpec.parse(points.model).name
    except InputError:
        return str(points.model)


def data_stem(args: argparse.Namespace, points) -> str:
    return Path(args.data).stem if args.data is not None else "vocabulary"


# ---------------------------------------------------------------- projections and clusters (project, export)


def projection_params(args: argparse.Namespace, method: str) -> dict[str, Any]:
    """The method's parameters from the options `project` and `export` share."""
    if method == "umap":
        return {"n_neighbors": args.neighbors, "min_dist": args.min_dist, "metric": args.metric}
    if method == "tsne":
        return {"perplexity": args.perplexity, "n_iter": args.iterations}
    return {}


def project_for(args: argparse.Namespace, vectors, method: str, max_points: int | None):  # -> Projection
    from embeddings.reduce import project

    progress = Progress(method, quiet=args.quiet)
    try:
        return project(vectors, method, args.dims, seed=args.seed, max_points=max_points, progress=progress,
                       **projection_params(args, method))
    finally:
        progress.close()


def clusters_for(args: argparse.Namespace, points, table, coords=None, rows=None):  # -> DataFrame
    """The table with `cluster` and `cluster_label` columns (its rows: `rows` of the points)."""
    from embeddings.clusters import CLUSTER_COLUMN, LABEL_COLUMN, add_cluster_columns, find_clusters, word_encoder

    vectors = points.vectors if rows is None else points.vectors[rows]
    column = points.label_column
    texts = None if column is None else points.table[column].astype(str).tolist()
    if texts is not None and rows is not None:
        texts = [texts[i] for i in rows]
    encode = None
    if args.refine_names:
        sized = {"batch_size": args.batch_size} if args.batch_size else {}
        encode = word_encoder(points.model, cache=not args.no_cache, trust_remote_code=args.trust_remote_code, **sized)
    found = find_clusters(texts, coords, vectors=vectors, space=args.cluster_space,
                          min_cluster_size=args.min_cluster_size, seed=args.seed,
                          tokens=points.level in ("token", "vocab"), encode=encode)
    if found.note:
        info(f"note: {found.note}", args)
    info(found.summary(), args)
    for cluster in range(min(found.count, 10)):
        info(f"  {cluster}: {found.names[cluster]} ({found.sizes[cluster]} points)", args)
    if found.count > 10:
        info(f"  ... and {found.count - 10} more", args)
    if table is not None:  # the data's own `cluster` column is kept, renamed as colliding metadata is
        table = table.rename(columns={c: f"meta_{c}" for c in (CLUSTER_COLUMN, LABEL_COLUMN) if c in table.columns})
    return add_cluster_columns(table, found)


def print_notes(quiet: bool) -> None:
    """The library's notes (a backend falling back to torch, a model converted once) as plain
    ``note: ...`` lines on stderr; none with -q."""
    import logging

    logger = logging.getLogger("embeddings")
    for old in [h for h in logger.handlers if getattr(h, "_embeddings_cli", False)]:
        logger.removeHandler(old)  # main() may run several times in one process (tests)
    logger.propagate = False
    handler: logging.Handler = logging.NullHandler() if quiet else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("note: %(message)s"))
    handler._embeddings_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
