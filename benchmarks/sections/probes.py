"""JavaScript the benchmark runs in the page, kept in .js files beside this one and read when used.

Each file holds one object literal of named functions (probes); probe(file, name) is a function
expression for Playwright's evaluate that calls one of them with the evaluate's argument.
"""

from __future__ import annotations

import functools
from pathlib import Path

HERE = Path(__file__).resolve().parent


@functools.cache
def _source(file: str) -> str:
    return (HERE / file).read_text(encoding="utf-8")


def probe(file: str, name: str) -> str:
    """`(arg) => (<the object in file>).name(arg)`, for page.evaluate / frame.evaluate."""
    return f"(arg) => ({_source(file)}\n).{name}(arg)"
