"""`embeddings compare DATA --model A --model B --out report.json`: 2-4 models on the same texts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from embeddings.choices import METRICS
from embeddings.cli.common import (
    Progress, add_common_arguments, atomic_path, check_output_suffix, encode_options, info, load_for, positive_int,
)
from embeddings.errors import InputError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("compare", help="compare 2-4 models on the same texts (JSON report)")
    add_common_arguments(p, level=False, engine=False)
    p.set_defaults(model=None, level="text", layer=-1)
    p.add_argument("--model", dest="models", action="append", required=True, help="a model spec; give 2 to 4")
    p.add_argument("--k", type=positive_int, default=10, help="neighbours per point")
    p.add_argument("--metric", choices=METRICS, default="cosine")
    p.add_argument("--out", required=True, help="output .json file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
            vectors[spec] = embed(dataset, encode_options(args, spec), progress=progress).vectors
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
