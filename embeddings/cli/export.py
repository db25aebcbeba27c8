"""`embeddings export DATA --out DIR`: the projector's files (vectors.tsv, metadata.tsv,
bookmarks.txt with one view per projection, projector_config.json); with --html also map.html,
the map in one file that opens from disk (embeddings.map.html_file)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from embeddings.choices import METHOD_NAMES, METHODS
from embeddings.cli.common import (
    add_common_arguments, atomic_path, clusters_for, clusters_options, data_stem, info, load_for, model_label,
    points_for, project_for, projection_options,
)
from embeddings.errors import InputError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="write projector files (vectors.tsv, metadata.tsv, bookmarks.txt, "
                              "projector_config.json)")
    add_common_arguments(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--base-url", help="absolute URL the files will be served from (for ?config=URL)")
    p.add_argument("--tensor-name", help="name shown in the projector")
    p.add_argument("--views", type=views_arg, default=["pca"],
                   help="projections to write as projector bookmarks: pca, umap, tsne, comma-separated, or none "
                   "(default: pca)")
    p.add_argument("--color", help="metadata column the bookmarks colour by")
    p.add_argument("--label", help="metadata column the bookmarks label by")
    p.add_argument("--html", action="store_true",
                   help="also write map.html: the map of the first of --views as one file that opens from disk "
                   "(no server, no network), coloured and labelled by --color and --label")
    projection_options(p, "lay out a sample of this many points (default: every point)")
    clusters_options(p, spaces=("original",))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
    page = map_page_for(args, points, views, tensor_name) if args.html else None  # before any file is written
    paths = points.write_projector(out_dir, tensor_name=tensor_name, base_url=args.base_url, views=views)
    if page is not None:
        with atomic_path(out_dir / "map.html") as tmp:
            tmp.write_text(page, encoding="utf-8")
        paths["html"] = out_dir / "map.html"
    n, d = points.vectors.shape
    info(f"wrote {n} x {d} vectors to {out_dir}: " + ", ".join(p.name for p in paths.values()), args)
    if views:
        info(f"bookmarks.txt holds {len(views)} view(s): " + ", ".join(v.name for v in views), args)
    info("load them at https://projector.tensorflow.org (Load -> vectors.tsv, then metadata.tsv, then the "
         "bookmarks file under Bookmarks), or host the folder and open ?config=<URL of projector_config.json>", args)
    return 0


def map_page_for(args: argparse.Namespace, points, views: list, title: str) -> str:
    """map.html: the first of --views (a PCA when none), coloured and labelled by --color/--label."""
    from embeddings.map.html_file import map_html
    from embeddings.map.layout import map_layout

    projection = views[0].projection if views else project_for(args, points.vectors, "pca", args.max_points or len(points))
    layout = map_layout(points, projection)
    subtitle = f"{len(layout.positions):,} points · {METHOD_NAMES[projection.method]} {projection.dims}D"
    return map_html(layout, title=title, subtitle=subtitle, color=args.color, label=args.label)


def views_arg(text: str) -> list[str]:
    """--views pca,umap,tsne (or none): the projections to bookmark, each once, in order."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"must list pca, umap and/or tsne (or none), not {text!r}")
    return list(dict.fromkeys(names))
