"""`embeddings project DATA --out coords.csv`: 2D/3D coordinates (PCA, UMAP, t-SNE), with the
data's columns and optionally clusters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from embeddings.choices import CLUSTER_SPACES, METHODS
from embeddings.cli.common import (
    add_common_arguments, atomic_path, check_output_suffix, clusters_for, clusters_options, info, load_for,
    points_for, project_for, projection_options,
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("project", help="project DATA to 2D/3D coordinates (CSV)")
    add_common_arguments(p)
    p.add_argument("--method", choices=METHODS, default="pca")
    projection_options(p, "sample above this many points (default: per method)")
    clusters_options(p, spaces=CLUSTER_SPACES)
    p.add_argument("--out", required=True, help="output .csv file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    out = Path(args.out)
    check_output_suffix(out, ".csv")
    points = points_for(args, load_for(args))
    proj = project_for(args, points.vectors, args.method, args.max_points)
    rows = proj.rows
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
