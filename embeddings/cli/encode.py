"""`embeddings encode DATA --out OUT`: vectors to a .npy matrix (with a CSV of rows at token,
vocabulary and image level) or to a folder of Parquet shards of row_id, vector."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from embeddings.cli.common import add_common_arguments, atomic_path, info, load_for, model_label, points_for
from embeddings.errors import InputError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("encode", help="encode DATA to a .npy matrix or a folder of Parquet shards")
    add_common_arguments(p)
    p.add_argument("--out", required=True, help="output .npy file, or a folder for Parquet shards (row_id, vector)")
    p.add_argument("--normalize", action="store_true", help="L2-normalise the text vectors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
        rows_path = out.with_suffix({"token": ".tokens.csv", "vocab": ".vocab.csv", "image": ".images.csv"}[points.level])
        with atomic_path(rows_path) as tmp:
            points.table.to_csv(tmp, index=False)
        info(f"wrote {rows_path} (one row per vector)", args)
    n, d = points.vectors.shape
    info(f"wrote {out}: {n} x {d} vectors ({points.level} level, model {model_label(points)})", args)
    return 0
