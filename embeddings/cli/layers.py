"""`embeddings layers DATA --out report.json`: every layer of a model on the same texts (or tokens):
per-layer figures, aligned layouts, optionally every point's coordinates."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from embeddings.choices import DEFAULT_MODEL, METHODS, TEXT_LEVELS
from embeddings.cli.common import (
    Progress, StageProgress, add_common_arguments, atomic_path, check_output_suffix, info, label_values, model_spec,
    positive_int, text_dataset,
)
from embeddings.errors import InputError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("layers", help="walk through a model's layers: per-layer layouts and figures (JSON report)")
    add_common_arguments(p, level=False)
    p.set_defaults(layer=-1, processes=1, batch_size=32)
    p.add_argument("--model", default=DEFAULT_MODEL, help="model spec (default: %(default)s)")
    p.add_argument("--level", choices=TEXT_LEVELS, default="text",
                   help="mean-pooled texts, or every token in context")
    p.add_argument("--label-column", help="column of labels: adds k-NN label accuracy and a linear probe per layer")
    p.add_argument("--word", help="token level: follow this word's occurrences (their spread per layer)")
    p.add_argument("--method", choices=METHODS, default="pca")
    p.add_argument("--dims", type=int, choices=(2, 3), default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=positive_int, default=10, help="neighbours per point")
    p.add_argument("--no-probe", action="store_true", help="skip the linear probe (the slowest figure)")
    p.add_argument("--out", required=True, help="output .json report")
    p.add_argument("--coords", help="also write every point's coordinates at every layer (.csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
        walk = layer_vectors(dataset.texts, model_spec(args), level=args.level, batch_size=args.batch_size,
                             cache=not args.no_cache, progress=progress, backend=args.backend)
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
