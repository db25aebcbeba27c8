"""The command line: the library's jobs, headless.

    embeddings encode  DATA --out FILE.npy          (or --out FOLDER: Parquet shards of row_id, vector)
    embeddings encode  DATA --engine ray [--ray-address ADDR] [--actors N] --out OUT
    embeddings tokens  TEXT
    embeddings project DATA --method pca|umap|tsne [--clusters] --out coords.csv
    embeddings export  DATA --out DIR [--html]        (--html: also DIR/map.html, the map in one file)
    embeddings compare DATA --model A --model B --out report.json
    embeddings finetune DATA --text-column COL --label-column LAB --out DIR
    embeddings layers  DATA [--level text|token] [--label-column LAB] --out report.json
    embeddings view    DATA [--port N]       # the explorer on DATA, in the browser

DATA is a file, or a folder or glob of CSV/JSONL/Parquet shards (read in sorted order).
Bad input exits 2 with one line ``error: ...`` on stderr and leaves no partial output behind:
every file is written under a temporary name and renamed into place when complete.

Each command is a module of this package with its parser beside it (``add_parser``) and its
job (``run``); ``embeddings.cli.common`` holds what they share. This module only assembles the
parser and dispatches.
"""

from __future__ import annotations

import sys

from embeddings.cli import compare, encode, export, finetune, layers, project, tokens, view
from embeddings.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, OneLineErrorParser, print_notes
from embeddings.errors import InputError

COMMANDS = (encode, tokens, project, export, compare, finetune, layers, view)  # in the order --help lists them


def build_parser() -> OneLineErrorParser:
    parser = OneLineErrorParser(
        prog="embeddings",
        description="Encode texts with a transformer, project them, and export to the TensorFlow Embedding Projector.",
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       parser_class=OneLineErrorParser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    print_notes(quiet=bool(getattr(args, "quiet", False)))
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
