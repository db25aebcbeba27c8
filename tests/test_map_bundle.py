"""The build-free bundler (embeddings/map/bundle.py) that joins the map core's ES modules into the
one module a notebook widget and map.html need, and the package data that ships the core."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from embeddings.map.bundle import BundleError, bundle, modules

ROOT = Path(__file__).resolve().parent.parent


def test_the_bundle_keeps_each_module_private_and_its_exports_named(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.js").write_text('const helper = 1;\nexport function one() { return helper; }\nexport const TWO = 2;\n')
    (tmp_path / "lib" / "b.js").write_text('import { one, TWO as two } from "./a.js";\nconst helper = 40;\n'
                                           'export class Sum { value() { return one() + two + helper; } }\n')
    (tmp_path / "main.js").write_text('import { Sum } from "./lib/b.js";\nexport default { answer: new Sum().value() };\n')
    text = bundle("main.js", root=tmp_path)
    assert text.index("// ---- lib/a.js") < text.index("// ---- lib/b.js") < text.index("// ---- main.js")
    assert "const { one, TWO: two } = __m_lib_a;" in text and "return { one, TWO };" in text
    assert "export default" in text and "export function" not in text and "import " not in text
    if shutil.which("node"):  # run it: the two modules' `helper`s do not collide
        module = tmp_path / "out.mjs"
        module.write_text(text)
        run = subprocess.run(["node", "--input-type=module", "-e", f"import m from {json.dumps(str(module))}; console.log(m.answer)"],
                             capture_output=True, text=True)
        assert run.stdout.strip() == "43", run.stderr


@pytest.mark.parametrize("source, message", [
    ('import * as a from "./a.js";\n', "only `import { names } from"),
    ('import { x } from "https://cdn.example/x.js";\n', "only `import { names } from"),
    ("export let x = 1;\n", "cannot join 'export let x = 1;'"),
    ("export default 1;\n", "`export default` is only for the entry module"),
    ('import { nothing } from "./a.js";\nexport const y = 1;\n', "a.js does not export nothing"),
    ('import { z } from "./b.js";\nexport const y = 1;\n', "import cycle"),
])
def test_the_bundler_refuses_what_it_cannot_join(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "a.js").write_text("export const x = 1;\n")
    (tmp_path / "b.js").write_text(source)
    (tmp_path / "entry.js").write_text('import { y } from "./b.js";\n' if "import cycle" not in message else "")
    if "import cycle" in message:
        (tmp_path / "a.js").write_text('import { y } from "./b.js";\nexport const z = y;\n')
        (tmp_path / "b.js").write_text('import { z } from "./a.js";\nexport const y = 1;\n')
        (tmp_path / "entry.js").write_text('import { z } from "./a.js";\n')
    with pytest.raises(BundleError, match=re.escape(message)):
        bundle("entry.js", root=tmp_path)


def test_every_host_bundles_and_the_core_has_no_address() -> None:
    from embeddings.map import STATIC

    for host in ("hosts/widget.js", "hosts/html.js", "hosts/streamlit.js"):
        assert "// ---- core/map.js" in bundle(host)
    for path in STATIC.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""from\s+["'](?!\.)|https?://""", text), f"{path.name} names an address"
        assert text.startswith("// "), f"{path.name} does not say what it owns"


def test_every_file_of_the_map_ships_in_the_package() -> None:
    """pyproject's package-data globs cover every file under embeddings/map/static (the notebook
    widget and map.html work from a pip install, not only from a checkout)."""
    import fnmatch
    import tomllib

    from embeddings.map import STATIC

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["embeddings.map"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            name = path.relative_to(STATIC.parent).as_posix()
            assert any(fnmatch.fnmatch(name, g) and name.count("/") == g.count("/") for g in globs), name




def test_the_streamlit_page_preloads_every_module_it_imports() -> None:
    """index.html names every module hosts/streamlit.js imports, directly or not, as a
    modulepreload: the browser fetches them at once instead of one import level after another."""
    from embeddings.map import STATIC

    page = (STATIC / "index.html").read_text(encoding="utf-8")
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', page)
    assert sorted(preloaded) == sorted(m for m in modules("hosts/streamlit.js") if m != "hosts/streamlit.js")
    assert '<script type="module" src="hosts/streamlit.js"></script>' in page


def test_python_draws_with_the_maps_own_palette() -> None:
    """Plotly maps made in Python (the Layers tab) colour a value as the map core does: one palette."""
    import re

    from embeddings.map import STATIC
    from embeddings.mapdata import MUTED_SLOT, OTHER_SLOT, PALETTE

    code = (STATIC / "core" / "colors.js").read_text(encoding="utf-8")
    js = re.findall(r'"(#[0-9A-Fa-f]{6})"', code.split("export const PALETTE = [", 1)[1].split("];", 1)[0])
    assert tuple(js) == PALETTE and len(PALETTE) == MUTED_SLOT + 1
    assert f"OTHER_SLOT = {OTHER_SLOT};" in code and f"MUTED_SLOT = {MUTED_SLOT};" in code
