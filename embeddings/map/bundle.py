"""The map's ES modules joined into one, in Python, with no build tool.

A notebook widget's code (anywidget's ``_esm``) and a page opened from ``file://`` are each one
module with no URL of its own, so the core's relative imports (``import { x } from "./y.js"``)
cannot resolve there. ``bundle("hosts/widget.js")`` walks the imports from an entry module and
writes each module once, dependencies first, as a function scope that returns its exports::

    const __m_core_payload = (() => { ...the module's code...; return { decodePayload, cellText }; })();

and each import becomes ``const { decodePayload } = __m_core_payload;``. Names stay private to
their module, as in the browser's own module loader. The entry's code comes last, unwrapped, so
its ``export default`` is the bundle's.

The core keeps to the forms this understands, and anything else is an error here rather than a
broken map at run time: ``import { a, b as c } from "./relative.js";``, ``export function``,
``export async function``, ``export class``, ``export const`` and ``export { a, b as c };``
(no ``export let``: a joined module could not update the importer's binding), and
``export default`` only in the entry.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from embeddings.map import STATIC

NAME = r"[A-Za-z_$][\w$]*"
IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}/[^"]+\.js)";[ \t]*$', re.M)
ANY_IMPORT = re.compile(r"^\s*import\b|\bimport\s*\(|\bimport\.meta\b", re.M)
EXPORT_DECLARATION = re.compile(rf"^export\s+((?:async\s+)?function\*?|class|const)\s+({NAME})", re.M)
EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\};?[ \t]*$", re.M)
EXPORT_DEFAULT = re.compile(r"^export\s+default\b", re.M)
ANY_EXPORT = re.compile(r"^\s*export\b", re.M)


class BundleError(ValueError):
    """A module uses a form of import or export that bundle() does not join."""


def _names(listed: str, where: str) -> list[tuple[str, str]]:
    """`a, b as c` -> [(a, a), (b, c)]: (name in the exporting module, name in the importing one)."""
    pairs = []
    for part in (p.strip() for p in listed.split(",")):
        if not part:
            continue
        match = re.fullmatch(rf"({NAME})(?:\s+as\s+({NAME}))?", part)
        if match is None:
            raise BundleError(f"{where}: cannot read the name list entry {part!r}")
        pairs.append((match.group(1), match.group(2) or match.group(1)))
    return pairs


def _variable(module: PurePosixPath) -> str:
    return "__m_" + re.sub(r"\W", "_", str(module.with_suffix("")))


class _Module:
    def __init__(self, path: PurePosixPath, root: Path, entry: bool) -> None:
        self.path = path
        where = f"static/{path}"
        text = (root / path).read_text(encoding="utf-8")
        self.imports: list[tuple[PurePosixPath, list[tuple[str, str]]]] = []

        def replace_import(match: re.Match) -> str:
            target = PurePosixPath(*_normalised(path.parent / match.group(2)).parts)
            names = _names(match.group(1), where)
            self.imports.append((target, names))
            inner = ", ".join(a if a == b else f"{a}: {b}" for a, b in names)
            return f"const {{ {inner} }} = {_variable(target)};"

        text = IMPORT.sub(replace_import, text)
        stray = ANY_IMPORT.search(text)
        if stray:
            raise BundleError(f"{where}: only `import {{ names }} from \"./relative.js\";` can be joined, "
                              f"not {_line(text, stray.start())!r}")
        self.exports: list[tuple[str, str]] = []  # (local name, exported name)
        for match in EXPORT_DECLARATION.finditer(text):
            self.exports.append((match.group(2), match.group(2)))
        text = EXPORT_DECLARATION.sub(lambda m: f"{m.group(1)} {m.group(2)}", text)
        for match in EXPORT_LIST.finditer(text):
            self.exports.extend(_names(match.group(1), where))
        text = EXPORT_LIST.sub("", text)
        if EXPORT_DEFAULT.search(text) and not entry:
            raise BundleError(f"{where}: `export default` is only for the entry module")
        rest = ANY_EXPORT.search(EXPORT_DEFAULT.sub("", text))
        if rest:
            raise BundleError(f"{where}: cannot join {_line(text, rest.start())!r} "
                              "(export function, class or const, or export { names })")
        self.text = text


def _normalised(path: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                raise BundleError(f"{path}: leaves the static folder")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


def _line(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)].strip()


def modules(entry: str, root: Path = STATIC) -> list[str]:
    """The paths (under `root`) of `entry` and every module it imports, dependencies first."""
    return [str(m.path) for m in _ordered(entry, root)]


def bundle(entry: str, root: Path = STATIC) -> str:
    """The module `entry` (a path under `root`, e.g. "hosts/widget.js") with everything it imports,
    as the text of one ES module."""
    order = _ordered(entry, root)
    parts = [f"// The map core and its host {entry}, joined by embeddings.map.bundle from the ES modules in "
             "embeddings/map/static (one function scope per module, dependencies first)."]
    for module in order[:-1]:
        returned = ", ".join(local if local == name else f"{name}: {local}" for local, name in module.exports)
        parts.append(f"const {_variable(module.path)} = (() => {{\n// ---- {module.path}\n{module.text.rstrip()}\n"
                     f"return {{ {returned} }};\n}})();")
    parts.append(f"// ---- {order[-1].path}\n{order[-1].text.rstrip()}")
    return "\n".join(parts) + "\n"


def _ordered(entry: str, root: Path) -> list[_Module]:
    order: list[_Module] = []
    state: dict[PurePosixPath, int] = {}  # 1: being visited, 2: written

    def visit(path: PurePosixPath, is_entry: bool, chain: tuple[str, ...]) -> None:
        if state.get(path) == 2:
            return
        if state.get(path) == 1:
            raise BundleError("import cycle: " + " -> ".join((*chain, str(path))))
        if not (root / path).is_file():
            raise BundleError(f"static/{chain[-1] if chain else path}: imports {path}, which does not exist")
        state[path] = 1
        module = _Module(path, root, is_entry)
        for target, names in module.imports:
            visit(target, False, (*chain, str(path)))
            exported = {name for _, name in _exports_of(order, target)}
            missing = [a for a, _ in names if a not in exported]
            if missing:
                raise BundleError(f"static/{path}: {target} does not export {', '.join(missing)}")
        state[path] = 2
        order.append(module)

    visit(_normalised(PurePosixPath(entry)), True, ())
    return order


def _exports_of(order: list[_Module], path: PurePosixPath) -> list[tuple[str, str]]:
    return next(m.exports for m in order if m.path == path)
