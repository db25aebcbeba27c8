"""`embeddings view DATA`: the explorer on DATA in the browser (embeddings.serve starts the app)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from embeddings.choices import DEFAULT_MODEL, TEXT_LEVELS
from embeddings.cli.common import info
from embeddings.errors import InputError


def add_parser(subparsers: Any) -> None:
    from embeddings.serve import DEFAULT_PORT

    p = subparsers.add_parser("view", help="open the explorer on DATA in the browser (a server on 127.0.0.1)")
    p.add_argument("data", metavar="DATA",
                   help="CSV, TSV, JSONL, Parquet or TXT of texts; a folder of images; or vectors: .npy / "
                   "projector vectors TSV")
    p.add_argument("--metadata", help="metadata TSV for a vectors DATA file (projector format)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model spec for texts (default: %(default)s)")
    p.add_argument("--text-column", help="column holding the texts (default: 'text', else the first text column)")
    p.add_argument("--image-column", help="column of a table naming an image per row (paths relative to the table)")
    p.add_argument("--level", choices=TEXT_LEVELS, default="text",
                   help="one point per text, or one per token (contextual)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="port on 127.0.0.1; the next free one is used when it is taken (default: %(default)s)")
    p.add_argument("--no-token", action="store_true",
                   help="serve without an access token: anyone on this machine (every user can open 127.0.0.1) "
                   "could then open the explorer and read files with your rights; off only on purpose")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal

    from embeddings import serve
    from embeddings.access import token_link, token_setting
    from embeddings.pipeline import load_input

    token = None if args.no_token else token_setting()  # a bad EMBEDDINGS_TOKEN is one line, before anything

    # Checked here first, so bad input is one line and exit 2 before any server starts.
    dataset = load_input(args.data, text_column=args.text_column, metadata=args.metadata,
                         image_column=args.image_column)
    if (dataset.vectors is not None or dataset.images is not None) and args.level != "text":
        what = "precomputed vectors" if dataset.vectors is not None else "images"
        raise InputError(f"{args.data}: holds {what}, so only --level text applies")
    points = len(dataset)
    del dataset  # the app reads the file itself; do not hold a second copy while it runs
    port = serve.pick_port(args.port)
    if port != args.port:
        info(f"port {args.port} is in use; using {port}", args)
    request = serve.ServeRequest(
        data=str(Path(args.data).resolve()),
        metadata=str(Path(args.metadata).resolve()) if args.metadata else None,
        model=args.model,
        text_column=args.text_column,
        level=args.level,
        image_column=args.image_column,
    )
    log = serve.log_file()
    server = serve.start_server(request, port, log, token)
    # Ctrl-C and SIGTERM stop it, even where SIGINT came in ignored (a job started in the
    # background by a script inherits SIGINT ignored, and Python then leaves it so)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve.wait_until_ready(server, port, log)
        print(token_link(serve.HOST, port, token), flush=True)
        info(f"the explorer is open on {Path(args.data).name} ({points:,} points): open the link above"
             + (" (it carries the access token)" if token else "; the access token is off, so anyone on this "
                "machine can open it") + "; Ctrl-C stops it", args)
        code = server.wait()
        if code != 0:
            raise InputError(f"the app server stopped (exit {code}): {serve.last_line(log)}")
    except KeyboardInterrupt:
        info("stopped", args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        serve.stop_server(server)
        log.unlink(missing_ok=True)
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
