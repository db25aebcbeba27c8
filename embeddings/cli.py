"""The command line: the library's jobs, headless.

    embeddings encode  DATA --out FILE.npy          (or --out FOLDER: Parquet shards of row_id, vector)
    embeddings encode  DATA --engine ray [--ray-address ADDR] [--actors N] --out OUT
    embeddings tokens  TEXT
    embeddings project DATA --method pca|umap|tsne [--clusters] --out coords.csv
    embeddings export  DATA --out DIR
    embeddings compare DATA --model A --model B --out report.json
    embeddings finetune DATA --text-column COL --label-column LAB --out DIR
    embeddings layers  DATA [--level text|token] [--label-column LAB] --out report.json
    embeddings view    DATA [--port N]       # the explorer on DATA, in the browser

DATA is a file, or a folder or glob of CSV/JSONL/Parquet shards (read in sorted order).
Bad input exits 2 with one line ``error: ...`` on stderr and leaves no partial output behind:
every file is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from embeddings.errors import InputError
from embeddings.models import DEFAULT_MODEL

# embeddings.finetune's LOSSES and DEFAULT_EPOCHS, spelled here so that `--help` does not import
# pandas and the encoders (tests/test_finetune.py checks they agree).
FINETUNE_LOSSES = ("batch-hard-soft-margin", "in-batch-negatives", "cosine-pairs", "batch-all-triplet")
DEFAULT_EPOCHS = 3

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


# ---------------------------------------------------------------- helpers


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


def info(message: str, args: argparse.Namespace) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def check_output_suffix(path: Path, suffix: str) -> None:
    if path.suffix.lower() != suffix:
        raise InputError(f"--out {path}: must end in {suffix}")


def points_for(args: argparse.Namespace, dataset):  # -> Points
    from embeddings.pipeline import embed_points

    check_engine(args)
    progress = Progress(f"encoding ({args.level})", quiet=args.quiet)
    try:
        return embed_points(
            dataset,
            args.model,
            level=args.level,
            layer=args.layer,
            vocab_size=getattr(args, "vocab_size", 5_000),
            batch_size=args.batch_size,
            normalize=getattr(args, "normalize", False),
            cache=not args.no_cache,
            progress=progress,
            processes=args.processes,
            trust_remote_code=args.trust_remote_code,
            engine=getattr(args, "engine", "local"),
            ray_address=getattr(args, "ray_address", None),
            actors=getattr(args, "actors", None),
        )
    finally:
        progress.close()


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
        encode = word_encoder(points.model, batch_size=args.batch_size, cache=not args.no_cache,
                              trust_remote_code=args.trust_remote_code)
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


def load_for(args: argparse.Namespace):  # -> Dataset | None (None: the vocabulary needs no data)
    from embeddings.pipeline import load_input

    if getattr(args, "level", "text") == "vocab":
        if args.data is not None:
            raise InputError(f"{args.data}: --level vocab shows the model's vocabulary; give no DATA with it")
        return None
    if args.data is None:
        raise InputError("DATA is missing: name a file of texts or vectors (only --level vocab needs none)")
    return load_input(args.data, text_column=args.text_column, metadata=getattr(args, "metadata", None),
                      tensor=getattr(args, "tensor", None))


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


def views_arg(text: str) -> list[str]:
    """--views pca,umap,tsne (or none): the projections to bookmark, each once, in order."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in ("pca", "umap", "tsne")]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"must list pca, umap and/or tsne (or none), not {text!r}")
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------- commands


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    out = Path(args.out)
    as_shards = out.is_dir() or (out.suffix == "" and getattr(args, "level", "text") == "text")
    if as_shards:
        from embeddings.shards import check_shards_out, write_vector_shards

        if args.level != "text":
            raise InputError(f"--out {out}: {args.level}-level vectors are written as .npy (with a .csv of rows beside)")
        check_shards_out(out)
    elif out.suffix.lower() != ".npy":
        raise InputError(f"--out {out}: must end in .npy, or name a folder (no suffix) for Parquet shards")
    points = points_for(args, load_for(args))
    if as_shards:
        parts = write_vector_shards(out, points.vectors)
        n, d = points.vectors.shape
        info(f"wrote {out}: {n} x {d} vectors in {len(parts)} Parquet shard(s) of row_id, vector "
             f"(text level, model {model_label(points)})", args)
        return 0
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, points.vectors, allow_pickle=False)
    if points.level != "text":
        rows_path = out.with_suffix({"token": ".tokens.csv", "vocab": ".vocab.csv"}[points.level])
        with atomic_path(rows_path) as tmp:
            points.table.to_csv(tmp, index=False)
        info(f"wrote {rows_path} (one row per vector)", args)
    n, d = points.vectors.shape
    info(f"wrote {out}: {n} x {d} vectors ({points.level} level, model {model_label(points)})", args)
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from embeddings.encode import tokenize

    tok = tokenize(args.text, args.model, trust_remote_code=args.trust_remote_code)
    if args.json:
        print(
            json.dumps(
                {
                    "text": tok.text,
                    "tokens": [
                        {"position": i, "token": t, "id": int(n), "start": int(s), "end": int(e), "special": bool(sp)}
                        for i, (t, n, (s, e), sp) in enumerate(zip(tok.tokens, tok.ids, tok.offsets, tok.special))
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    width = max([len(t) for t in tok.tokens] + [5])
    print(f"{'pos':>4}  {'token':<{width}}  {'id':>7}  span     text")
    for i, (t, n, (s, e), sp) in enumerate(zip(tok.tokens, tok.ids, tok.offsets, tok.special)):
        piece = "(special)" if sp else repr(tok.text[s:e])
        print(f"{i:>4}  {t:<{width}}  {n:>7}  {s:>3}:{e:<4} {piece}")
    print(f"{len(tok.tokens)} tokens", file=sys.stderr)
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    out = Path(args.out)
    check_output_suffix(out, ".csv")
    points = points_for(args, load_for(args))
    proj = project_for(args, points.vectors, args.method, args.max_points)
    rows = np.arange(len(points)) if proj.indices is None else np.asarray(proj.indices)
    table = pd.DataFrame({"row": rows})
    for axis, name in enumerate("xyz"[: proj.dims]):
        table[name] = proj.coords[:, axis]
    meta = points.metadata
    if meta is not None:
        meta = meta.iloc[rows].reset_index(drop=True)
        for column in meta.columns:
            name = column if column not in table.columns else f"meta_{column}"
            table[name] = meta[column].to_numpy()
    if args.clusters:
        table = clusters_for(args, points, table, coords=proj.coords, rows=rows)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    if proj.note:
        info(f"note: {proj.note}", args)
    if proj.variance_explained:
        shares = ", ".join(f"{v:.1%}" for v in proj.variance_explained)
        info(f"variance explained per axis: {shares}", args)
    if proj.trustworthiness is not None:
        info(f"trustworthiness: {proj.trustworthiness:.3f}", args)
    info(f"wrote {out}: {len(table)} points, {proj.dims}D {args.method} in {proj.seconds:.1f} s", args)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from embeddings.reduce import METHOD_NAMES
    from embeddings.views import View

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a folder")
    points = points_for(args, load_for(args))
    if args.clusters:
        points = replace(points, table=clusters_for(args, points, points.table))
    columns = [str(c) for c in points.table.columns]
    for option, column in (("--color", args.color), ("--label", args.label)):
        if column is not None and column not in columns:
            raise InputError(f"{option} {column!r}: not a metadata column; columns: {', '.join(columns) or 'none'}")
    views = []  # after the bookmarks the data came with (a projector config): Points.write_projector adds those
    for method in args.views:
        # Every point is laid out (the bookmark shows the whole layout) unless --max-points says otherwise.
        projection = project_for(args, points.vectors, method, args.max_points or len(points))
        if projection.note:
            info(f"note: {projection.note}", args)
        views.append(View.of_projection(projection, name=f"{METHOD_NAMES[method]} {args.dims}D (seed {args.seed})",
                                        seed=args.seed, color=args.color, label=args.label))
    tensor_name = args.tensor_name or f"{data_stem(args, points)} ({model_label(points)}, {points.level})"
    paths = points.write_projector(out_dir, tensor_name=tensor_name, base_url=args.base_url, views=views)
    n, d = points.vectors.shape
    info(f"wrote {n} x {d} vectors to {out_dir}: " + ", ".join(p.name for p in paths.values()), args)
    if views:
        info(f"bookmarks.txt holds {len(views)} view(s): " + ", ".join(v.name for v in views), args)
    info("load them at https://projector.tensorflow.org (Load -> vectors.tsv, then metadata.tsv, then the "
         "bookmarks file under Bookmarks), or host the folder and open ?config=<URL of projector_config.json>", args)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from embeddings.compare import compare_embeddings
    from embeddings.pipeline import embed

    out = Path(args.out)
    check_output_suffix(out, ".json")
    if len(args.models) < 2 or len(args.models) > 4:
        raise InputError(f"compare takes 2 to 4 --model options, got {len(args.models)}")
    if len(set(args.models)) != len(args.models):
        raise InputError("compare: the same --model is named twice; name each model once")
    dataset = load_for(args)
    if dataset.vectors is not None:
        raise InputError(f"{args.data}: compare encodes texts with each model; give a text file, not vectors")
    vectors = {}
    for spec in args.models:
        progress = Progress(f"encoding with {spec}", quiet=args.quiet)
        try:
            vectors[spec] = embed(dataset, spec, batch_size=args.batch_size, cache=not args.no_cache,
                                  progress=progress, processes=args.processes,
                                  trust_remote_code=args.trust_remote_code).vectors
        finally:
            progress.close()
    comparison = compare_embeddings(vectors, k=args.k, metric=args.metric)
    for note in comparison.notes:
        info(f"note: {note}", args)
    report = comparison.to_dict()
    report["data"] = str(args.data)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    for pair in comparison.pairs:
        info(
            f"{pair.a} vs {pair.b}: mean kNN overlap {pair.mean_knn_overlap:.3f}, CKA {pair.cka:.3f}, "
            f"distance rank correlation {pair.distance_spearman:.3f}",
            args,
        )
    info(f"wrote {out}", args)
    return 0


def label_values(dataset, column: str | None, data: str) -> list | None:  # dataset: Dataset
    """The label column's values, one per text; one line naming the column when it is missing."""
    if column is None:
        return None
    if column not in dataset.metadata.columns:
        shown = ", ".join(map(str, dataset.metadata.columns)) or "none besides the text"
        raise InputError(f"{data}: no column '{column}' for the labels; columns are: {shown}")
    return dataset.metadata[column].tolist()


def text_dataset(args: argparse.Namespace):  # -> Dataset
    dataset = load_for(args)
    if dataset.texts is None:
        raise InputError(f"{args.data}: {args.command} reads texts with the model; give a text file, not vectors")
    return dataset


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


def cmd_finetune(args: argparse.Namespace) -> int:
    from embeddings.finetune import check_output, finetune

    check_output(args.out, args.overwrite)  # before reading anything: fail fast
    dataset = text_dataset(args)
    labels = label_values(dataset, args.label_column, args.data)
    progress = StageProgress({"base": "encoding (base model)", "train": "training (steps, per loss)",
                              "validate": "validating (encoding the training texts)",
                              "tuned": "encoding (tuned model)"}, args.quiet)
    try:
        result = finetune(
            dataset.texts, labels, args.out, model=args.model, epochs=args.epochs, test_size=args.test_size,
            validation_size=args.validation_size, seed=args.seed, batch_size=args.batch_size,
            learning_rate=args.learning_rate, loss=args.loss, keep_tuned=args.keep_tuned,
            label_column=args.label_column, overwrite=args.overwrite, cache=not args.no_cache,
            progress=progress, trust_remote_code=args.trust_remote_code,
        )
    finally:
        progress.close()
    report = result.report
    k = report["parameters"]["knn_k"]
    for run in report["candidates"]:
        curve = ", ".join(f"{e['validation_accuracy']:.3f}" for e in run["evaluations"])
        info(f"  {run['loss']}: " + (f"skipped ({run['skipped']})" if run["skipped"] else
                                     f"validation {k}-NN accuracy by epoch {curve}"), args)
    info(("" if result.improved else "NOTE: ") + report["verdict"], args)
    for when in ("before", "after"):
        figures = report[when]
        silhouette = "n/a" if figures["silhouette"] is None else f"{figures['silhouette']:.3f}"
        info(f"{when:>6}: held-out k-NN accuracy (k={k}) {figures['knn_accuracy']:.3f}, silhouette {silhouette}", args)
    split = report["split"]
    single = f", {split['train_only_classes']} single-text class(es) trained only" if split["train_only_classes"] else ""
    what = "tuned model" if report["choice"]["kept"] == "tuned" else "base model (unchanged)"
    info(f"wrote {result.folder}: the {what} ({split['fit']} texts trained, {split['validation']} validated, "
         f"{split['test']} held out{single}; {report['seconds']['train']:.1f} s training); "
         f"load it with --model {result.folder}", args)
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from embeddings.layers import layer_vectors, walk_layers

    out = Path(args.out)
    check_output_suffix(out, ".json")
    if args.coords is not None:
        check_output_suffix(Path(args.coords), ".csv")
    if args.word and args.level != "token":
        raise InputError("--word needs --level token (it follows one word's occurrences)")
    dataset = text_dataset(args)
    labels = label_values(dataset, args.label_column, args.data)
    progress = Progress(f"all layers ({args.level})", quiet=args.quiet)
    try:
        walk = layer_vectors(dataset.texts, args.model, level=args.level, batch_size=args.batch_size,
                             cache=not args.no_cache, progress=progress, trust_remote_code=args.trust_remote_code)
    finally:
        progress.close()
    if labels is not None and walk.rows is not None:
        labels = [labels[i] for i in walk.rows["text_index"]]  # each token carries its text's label
    stages = StageProgress({"figures": "per-layer figures", "layouts": f"{args.method} per layer"}, args.quiet)
    try:
        report = walk_layers(walk, labels, method=args.method, dims=args.dims, seed=args.seed, k=args.k,
                             probe=not args.no_probe, word=args.word, progress=stages)
    finally:
        stages.close()
    result = report.to_dict()
    result["data"] = str(args.data)
    result["label_column"] = args.label_column
    if args.coords is not None:
        coords = report.coordinates()
        meta = _layer_rows(dataset, walk)
        coords = _with_rows(coords, meta)
        with atomic_path(Path(args.coords)) as tmp:
            coords.to_csv(tmp, index=False)
        info(f"wrote {args.coords} ({len(coords)} rows: every point at every layer)", args)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    for entry in result["layers"]:
        parts = [f"layer {entry['layer']}: k-NN overlap with last {entry['knn_overlap_with_last']:.3f}"]
        if entry["knn_accuracy"] is not None:
            parts.append(f"k-NN label accuracy {entry['knn_accuracy']:.3f}")
        if entry["probe_accuracy"] is not None:
            parts.append(f"probe {entry['probe_accuracy']:.3f}")
        if "word_spread" in entry:
            parts.append(f"'{args.word}' spread {entry['word_spread']:.3f}")
        info(", ".join(parts), args)
    info(f"wrote {out}", args)
    return 0


def _layer_rows(dataset, walk):  # -> pd.DataFrame: one row per point of the walk
    return walk.points(0, dataset).table


def _with_rows(coords, meta):  # -> pd.DataFrame
    """The per-(layer, point) coordinates with each point's text and metadata beside them."""
    if meta is None:
        return coords
    meta = meta.rename(columns={c: f"meta_{c}" for c in meta.columns if c in coords.columns})
    return coords.join(meta.reset_index(drop=True), on="row")
def cmd_view(args: argparse.Namespace) -> int:
    import signal

    from embeddings import view
    from embeddings.pipeline import load_input

    # Checked here first, so bad input is one line and exit 2 before any server starts.
    dataset = load_input(args.data, text_column=args.text_column, metadata=args.metadata)
    if dataset.vectors is not None and args.level != "text":
        raise InputError(f"{args.data}: holds precomputed vectors, so only --level text applies")
    points = len(dataset)
    del dataset  # the app reads the file itself; do not hold a second copy while it runs
    port = view.pick_port(args.port)
    if port != args.port:
        info(f"port {args.port} is in use; using {port}", args)
    request = view.ViewRequest(
        data=str(Path(args.data).resolve()),
        metadata=str(Path(args.metadata).resolve()) if args.metadata else None,
        model=args.model,
        text_column=args.text_column,
        level=args.level,
    )
    log = view.log_file()
    server = view.start_server(request, port, log)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        view.wait_until_ready(server, port, log)
        print(f"http://{view.HOST}:{port}/", flush=True)
        info(f"the explorer is open on {Path(args.data).name} ({points:,} points); Ctrl-C stops it", args)
        code = server.wait()
        if code != 0:
            raise InputError(f"the app server stopped (exit {code}): {view.last_line(log)}")
    except KeyboardInterrupt:
        info("stopped", args)
    finally:
        signal.signal(signal.SIGTERM, previous)
        view.stop_server(server)
        log.unlink(missing_ok=True)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------- parser


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


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line `error: ...` (exit 2) like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see --help)\n")


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
    p.add_argument("--clusters", action="store_true",
                   help="add `cluster` (-1 = noise) and `cluster_label` (its keywords) columns (HDBSCAN)")
    p.add_argument("--min-cluster-size", type=minimum_two, help="smallest cluster (default: grows with the points)")
    p.add_argument("--cluster-space", choices=spaces, default=spaces[0],
                   help="cluster the original vectors (reduced by UMAP to 5 dims: the same clusters whatever "
                   "the layout) or the 2D/3D layout drawn (default: %(default)s)")
    p.add_argument("--refine-names", action="store_true",
                   help="re-rank each cluster's candidate keywords by closeness to its centre with the same model "
                   "(encodes a few hundred words)")


def minimum_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="embeddings",
        description="Encode texts with a transformer, project them, and export to the TensorFlow Embedding Projector.",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OneLineErrorParser)

    def common(p: argparse.ArgumentParser, *, level: bool = True, engine: bool = True) -> None:
        p.add_argument("data", metavar="DATA", nargs="?" if level else None,
                       help="CSV, TSV, JSONL, Parquet or TXT of texts, or a folder or glob of CSV/JSONL/Parquet "
                       "shards; vectors: .npy / projector vectors TSV; or a projector config: "
                       "projector_config.json, .pbtxt, or a folder holding one (TensorBoard log)"
                       + (" (none with --level vocab)" if level else ""))
        if level:
            p.add_argument("--model", default=DEFAULT_MODEL,
                           help=f"model spec: {DEFAULT_MODEL} (bundled), a Hugging Face id or a local folder; "
                           "SPEC@static or SPEC@layerN for variants (default: %(default)s)")
        p.add_argument("--text-column", help="column holding the texts (default: 'text', else the first text column)")
        p.add_argument("--metadata", help="metadata TSV for a vectors DATA file (projector format)")
        p.add_argument("--tensor", help="which tensor of a projector config DATA (default: the first)")
        p.add_argument("--batch-size", type=positive_int, default=32)
        p.add_argument("--no-cache", action="store_true", help="encode again instead of reading the vector cache")
        p.add_argument("--trust-remote-code", action="store_true",
                       help="allow a model's own Python code to run when loading it (off by default)")
        p.add_argument("--processes", type=processes_arg, default=1,
                       help="CPU worker processes for text encoding: a number, or 'auto' (one per core for "
                       "large inputs) (default: %(default)s)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")
        if engine:
            p.add_argument("--engine", choices=("local", "ray"), default="local",
                           help="where text vectors are computed: this process, or a Ray Data actor pool "
                           "(pip install 'embedding-explorer[ray]') (default: %(default)s)")
            p.add_argument("--ray-address", help="join the Ray cluster at this address (from `ray start "
                           "--head`); without it --engine ray starts a private Ray on this machine")
            p.add_argument("--actors", type=positive_int,
                           help="encoding actors for --engine ray (default: one per GPU, else one per node)")
        if level:
            p.add_argument("--level", choices=("text", "token", "vocab"), default="text",
                           help="one vector per text, one per token (contextual), or the model's vocabulary "
                           "(rows of its input embedding table; no DATA)")
            p.add_argument("--layer", type=int, default=-1, help="layer for token vectors (-1 = last)")
            p.add_argument("--vocab-size", type=positive_int, default=5_000,
                           help="--level vocab: how many whole-word tokens (default: %(default)s)")

    p = sub.add_parser("encode", help="encode DATA to a .npy matrix or a folder of Parquet shards")
    common(p)
    p.add_argument("--out", required=True, help="output .npy file, or a folder for Parquet shards (row_id, vector)")
    p.add_argument("--normalize", action="store_true", help="L2-normalise the text vectors")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("tokens", help="show how a model's tokenizer splits TEXT")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow a model's own Python code to run when loading it (off by default)")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("project", help="project DATA to 2D/3D coordinates (CSV)")
    common(p)
    p.add_argument("--method", choices=("pca", "umap", "tsne"), default="pca")
    projection_options(p, "sample above this many points (default: per method)")
    clusters_options(p, spaces=("original", "layout"))
    p.add_argument("--out", required=True, help="output .csv file")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("export", help="write projector files (vectors.tsv, metadata.tsv, bookmarks.txt, "
                       "projector_config.json)")
    common(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--base-url", help="absolute URL the files will be served from (for ?config=URL)")
    p.add_argument("--tensor-name", help="name shown in the projector")
    p.add_argument("--views", type=views_arg, default=["pca"],
                   help="projections to write as projector bookmarks: pca, umap, tsne, comma-separated, or none "
                   "(default: pca)")
    p.add_argument("--color", help="metadata column the bookmarks colour by")
    p.add_argument("--label", help="metadata column the bookmarks label by")
    projection_options(p, "lay out a sample of this many points (default: every point)")
    clusters_options(p, spaces=("original",))
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", help="compare 2-4 models on the same texts (JSON report)")
    common(p, level=False, engine=False)
    p.set_defaults(model=None, level="text", layer=-1)
    p.add_argument("--model", dest="models", action="append", required=True, help="a model spec; give 2 to 4")
    p.add_argument("--k", type=positive_int, default=10, help="neighbours per point")
    p.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    p.add_argument("--out", required=True, help="output .json file")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("finetune", help="fine-tune a model on labelled texts; writes a model folder and a report")
    common(p, level=False)
    p.set_defaults(level="text", layer=-1, processes=1)
    p.add_argument("--label-column", required=True, help="column holding each text's label (class)")
    p.add_argument("--out", required=True, help="output folder for the tuned model (must not exist)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once training succeeded)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model to start from (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS,
                   help="at most this many epochs per loss; validation picks the best (default: %(default)s)")
    p.add_argument("--test-size", type=float, default=0.2, help="share of texts held out, per class (default: 0.2)")
    p.add_argument("--validation-size", type=float, default=0.2,
                   help="share of the training texts that chooses the loss and the epoch (default: 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the batches and the initialisation")
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--loss", choices=("auto",) + FINETUNE_LOSSES, default="auto",
                   help="training loss; auto tries batch-hard-soft-margin, in-batch-negatives and cosine-pairs and "
                   "keeps the one that validates best (default: %(default)s)")
    p.add_argument("--keep-tuned", action="store_true",
                   help="write the tuned model even when it does not beat the base model on validation "
                   "(by default the base model is kept then, and the report says so)")
    p.set_defaults(func=cmd_finetune, batch_size=16)

    p = sub.add_parser("layers", help="walk through a model's layers: per-layer layouts and figures (JSON report)")
    common(p, level=False)
    p.set_defaults(layer=-1, processes=1)
    p.add_argument("--model", default=DEFAULT_MODEL, help="model spec (default: %(default)s)")
    p.add_argument("--level", choices=("text", "token"), default="text",
                   help="mean-pooled texts, or every token in context")
    p.add_argument("--label-column", help="column of labels: adds k-NN label accuracy and a linear probe per layer")
    p.add_argument("--word", help="token level: follow this word's occurrences (their spread per layer)")
    p.add_argument("--method", choices=("pca", "umap", "tsne"), default="pca")
    p.add_argument("--dims", type=int, choices=(2, 3), default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=positive_int, default=10, help="neighbours per point")
    p.add_argument("--no-probe", action="store_true", help="skip the linear probe (the slowest figure)")
    p.add_argument("--out", required=True, help="output .json report")
    p.add_argument("--coords", help="also write every point's coordinates at every layer (.csv)")
    p.set_defaults(func=cmd_layers)
    from embeddings.view import DEFAULT_PORT

    p = sub.add_parser("view", help="open the explorer on DATA in the browser (a server on 127.0.0.1)")
    p.add_argument("data", metavar="DATA",
                   help="CSV, TSV, JSONL, Parquet or TXT of texts; or vectors: .npy / projector vectors TSV")
    p.add_argument("--metadata", help="metadata TSV for a vectors DATA file (projector format)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model spec for texts (default: %(default)s)")
    p.add_argument("--text-column", help="column holding the texts (default: 'text', else the first text column)")
    p.add_argument("--level", choices=("text", "token"), default="text",
                   help="one point per text, or one per token (contextual)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="port on 127.0.0.1; the next free one is used when it is taken (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the URL")
    p.set_defaults(func=cmd_view)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not the user's input: still one line unless asked
        if args.debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
