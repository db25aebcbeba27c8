"""Write a larger real-text data set for benchmarks: first paragraphs of standard-library docstrings.

    python sample_data/make_docstrings.py OUT.csv [--max-rows N]

Columns: text (the first paragraph, whitespace-collapsed), module, kind (module, class,
function, method, property). Rows come in sorted order of (module, qualified name), each text once, so a
given Python version always writes the same file. No network; nothing is executed beyond
importing standard-library modules (a few with side effects on import are skipped). The output
is large and is not committed.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import io
import pkgutil
import re
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

# Importing these opens a browser, prints, starts a GUI, or is only an entry point.
SKIP = {
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__main__", "__hello__",
    "__phello__", "pydoc_data", "lib2to3", "ensurepip", "venv", "test", "xxsubtype", "_xxsubinterpreters",
}
KINDS = ("module", "class", "function", "method", "property")


def first_paragraph(doc: str | None) -> str | None:
    """The docstring's first paragraph on one line, or None when it says nothing useful."""
    if not doc:
        return None
    paragraph = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0]
    text = " ".join(paragraph.split())
    return text if len(text) >= 20 else None


def module_names() -> list[str]:
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python < 3.10
        names = set(sys.builtin_module_names)
    return sorted(n for n in names if n not in SKIP and not n.startswith("_"))


def _import(name: str):
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except BaseException:  # missing optional C extensions, platform-only modules
        return None


def walk(names: list[str]) -> list[tuple[str, object]]:
    """(name, module) for every importable module and, for packages, their submodules, sorted."""
    found: dict[str, object] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in found or any(part in SKIP or part == "tests" for part in name.split(".")):
            continue
        module = _import(name)
        if module is None:
            continue
        found[name] = module
        for info in pkgutil.iter_modules(getattr(module, "__path__", None) or []):
            if not info.name.startswith("_"):
                pending.append(f"{name}.{info.name}")
    return sorted(found.items())


def collect(max_rows: int | None = None) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()

    def add(text: str | None, module: str, kind: str) -> None:
        if text and text not in seen:
            seen.add(text)
            rows.append((text, module, kind))

    for name, module in walk(module_names()):
        add(first_paragraph(inspect.getdoc(module)), name, "module")
        for attr in sorted(vars(module)):
            if attr.startswith("_"):
                continue
            obj = getattr(module, attr, None)
            if getattr(obj, "__module__", None) != name:
                continue  # re-exported from elsewhere; counted where it is defined
            if inspect.isclass(obj):
                add(first_paragraph(inspect.getdoc(obj)), name, "class")
                for member in sorted(vars(obj)):
                    if member.startswith("_"):
                        continue
                    value = vars(obj)[member]
                    if isinstance(value, (staticmethod, classmethod)):
                        value = value.__func__
                    if inspect.isfunction(value) or inspect.ismethoddescriptor(value):
                        add(first_paragraph(getattr(value, "__doc__", None)), name, "method")
                    elif isinstance(value, property):
                        add(first_paragraph(value.__doc__), name, "property")
            elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
                add(first_paragraph(inspect.getdoc(obj)), name, "function")
        if max_rows is not None and len(rows) >= max_rows:
            break
    return rows[:max_rows] if max_rows is not None else rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--max-rows", type=int, default=None, help="stop after this many rows")
    args = parser.parse_args(argv)
    rows = collect(args.max_rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "module", "kind"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
