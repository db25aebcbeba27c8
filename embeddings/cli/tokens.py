"""`embeddings tokens TEXT`: how a model's tokenizer splits a text (a table, or --json)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from embeddings.choices import DEFAULT_MODEL
from embeddings.cli.common import add_trust_argument, model_spec


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("tokens", help="show how a model's tokenizer splits TEXT")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_trust_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from embeddings.encode import tokenize

    tok = tokenize(args.text, model_spec(args))
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
