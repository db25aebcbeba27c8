"""Our projector export loaded into the real Embedding Projector front end, compared row for row.

projector.tensorflow.org cannot be reached from CI, but the `tensorboard` wheel ships the same
front end (vz-projector, compiled into tensorboard/plugins/projector/tf_projector_plugin/
projector_binary.js) and runs without TensorFlow. Three ways in, all in headless Chromium:

- TensorBoard: a logdir whose projector_config.pbtxt names our vectors.tsv and metadata.tsv
  (`tensor_path`, `metadata_path`, relative to the logdir); `tensorboard --logdir` serves it and
  the page is http://127.0.0.1:PORT/#projector. Here TensorBoard's server reads vectors.tsv
  (Python float()) and sends float32 bytes; the browser reads metadata.tsv itself.
- Standalone, as projector.tensorflow.org/?config=URL: the same bundle's <vz-projector-app
  serving-mode="demo">, which fetches our projector_config.json and then vectors.tsv and
  metadata.tsv from the URLs in it (an export written with base_url) and parses both files in
  JavaScript. Playwright serves the page and the files (with the CORS header a host needs).
- Standalone, through the data panel's Load dialog: vectors.tsv, then metadata.tsv, picked as
  files, which is what the CLI tells its users to do.

In each, what the front end parsed is read from the <vz-projector> element: `dataSet.points`
(one per row: `vector`, `metadata`) and `dataSet.spriteAndMetadataInfo.stats` (the column names
the "Label by" / "Color by" menus offer). Every row is compared with the source row, after the
export contract (DESIGN.md): CR LF, CR, LF and tab inside a value become one space. The projector
itself then turns an empty value into null and, in analyzeMetadata, every value that JavaScript
`isNaN()` calls a number into that number ("12345" -> 12345, "   " -> 0); the expected values
get the same step, computed by the browser's own Number(). Each row is also compared with what
our parser (embeddings.projector.parse_projector) reads from the same files.

Data: sample_data/awkward.csv (tabs, newlines, CR, quotes, emoji, RTL, CJK, HTML, long texts,
duplicates, ...) written twice: by write_projector, and by the CLI a user runs (`embeddings
export awkward.csv --base-url ...`, with conftest's tiny BERT so it is quick); 200 standard-library
docstrings from sample_data/make_docstrings.py (text no one on the team wrote) with one column
only (no header line); and a 2.1 MB file of multi-byte text that crosses the front end's
1,000,000-byte read chunks, with rows that would be blank lines. Vectors are seeded random float32
(the model is not what is tested) or the CLI's; they must come back exact.

Bookmarks: an export with bookmarks.txt (PCA 2D, UMAP 3D, t-SNE 2D and PCA 3D of a sample) opened
with ?config=; each bookmark is loaded as its radio button loads it, and every shown point's
coordinates, its original row, the projection, the selection and the colour and label options
are read back from <vz-projector> and compared with ours, exactly. The projector's demo layout (a
.bytes tensor and a labels TSV named by URLs, as oss_demo_projector_config.json names them) opens
in the projector and in embeddings.pipeline.load_input with the same values.

In CI (the CI variable set) this must run: missing Chromium, Playwright or TensorBoard fail.
On a developer machine without them it skips and says why.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import browser_support
from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, stop
from embeddings.projector import CONFIG_FILE, METADATA_FILE, VECTORS_FILE, parse_projector, write_projector

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
LOAD_S = 180  # a data set loaded and drawn in the page: ~2 s when idle, a hang guard under load
APP_ORIGIN = "http://projector.test"  # stands in for https://projector.tensorflow.org
DATA_ORIGIN = "http://data.test"  # stands in for wherever a user publishes the export
_BREAKS = re.compile(r"\r\n|[\r\n\t]")


def require(condition: bool, why: str) -> None:
    browser_support.require(condition, why, "install Chromium (apt-get install chromium) and pip install -e '.[test]'")


def plugin_dir() -> Path:
    """tensorboard/plugins/projector/tf_projector_plugin: the projector's compiled front end."""
    spec = importlib.util.find_spec("tensorboard")
    require(spec is not None and spec.origin is not None, "TensorBoard is not installed")
    folder = Path(spec.origin).parent / "plugins" / "projector" / "tf_projector_plugin"
    require((folder / "projector_binary.js").exists(), f"no projector front end in {folder}")
    return folder


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    """Chromium, Playwright and TensorBoard's projector, checked before any data is made."""
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    require(importlib.util.find_spec("playwright") is not None, "Playwright is not installed")
    plugin_dir()


# ------------------------------------------------------------------ the data sets


@dataclass
class Source:
    name: str  # also the folder of its export
    tensor_name: str
    header: list[str]
    rows: list[list[str]]  # the source cells, as the source file spells them
    vectors: np.ndarray
    exported: Path | None = None  # written by the CLI (with base_url); else by write_projector here


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        records = list(csv.reader(handle))
    return records[0], records[1:]


def _vectors(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _chunky_rows() -> list[list[str]]:
    """~2.1 MB of multi-byte text with no ASCII to speak of, so the front end's 1,000,000-byte
    read chunks fall inside characters; and rows that would be blank lines."""
    pieces = ["漢字かな交じり文", "🙂🍕👩‍👩‍👧", "مرحبا", "שלום", "üïöéçñ", "\u200b\ufeff", "🇯🇵"]
    rows: list[list[str]] = []
    for i in range(2700):
        text = "".join(pieces[(i + k) % len(pieces)] for k in range(40 + i % 37))
        note = f"注{i}\t👩‍👧"
        if i % 97 == 0:  # the whole line blank: the writer must keep the row
            text, note = ("  " if i % 2 else ""), ""
        rows.append([text, note])
    return rows


@pytest.fixture(scope="module")
def cli_export(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> Path:
    """`embeddings export sample_data/awkward.csv --base-url ...`, the command a user runs.

    The tiny BERT from conftest keeps it fast; the files, not the model, are under test."""
    out = tmp_path_factory.mktemp("cli") / "awkward-cli"
    env = dict(os.environ, EMBEDDINGS_CACHE=str(out.parent / "vectors.sqlite"), HF_HUB_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "embeddings", "export", str(ROOT / "sample_data" / "awkward.csv"),
           "--out", str(out), "--model", str(tiny_bert_dir), "--base-url", f"{DATA_ORIGIN}/{out.name}/"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, cli_export: Path) -> list[Source]:
    made = tmp_path_factory.mktemp("docstrings") / "docstrings.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "sample_data" / "make_docstrings.py"), str(made), "--max-rows", "200"],
        check=True, capture_output=True, timeout=600, cwd=made.parent,
    )
    header, awkward = _read_csv(ROOT / "sample_data" / "awkward.csv")
    doc_header, docs = _read_csv(made)
    assert len(docs) == 200
    chunky = _chunky_rows()
    cli_config = json.loads((cli_export / CONFIG_FILE).read_text(encoding="utf-8"))["embeddings"][0]
    # The CLI's vectors as numpy reads the TSV (not through our parser).
    cli_vectors = np.loadtxt(cli_export / VECTORS_FILE, delimiter="\t", dtype=np.float64, ndmin=2)
    return [
        Source("awkward", "awkward (random vectors, text)", header, awkward, _vectors(len(awkward), 16, 1)),
        Source(cli_export.name, cli_config["tensorName"], header, awkward, cli_vectors.astype(np.float32),
               exported=cli_export),
        Source("docstrings", "docstrings", ["text"], [[r[0]] for r in docs], _vectors(len(docs), 16, 2)),
        Source("chunky", "chunky", ["text", "note"], chunky, _vectors(len(chunky), 3, 3)),
    ]


def _frame(source: Source) -> pd.DataFrame:
    return pd.DataFrame(source.rows, columns=source.header, dtype=object)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory, sources: list[Source]) -> Path:
    """A TensorBoard logdir: one export per folder, all named in projector_config.pbtxt."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    root = tmp_path_factory.mktemp("logdir")
    config = ProjectorConfig()
    for source in sources:
        if source.exported is not None:
            (root / source.name).mkdir()
            for name in (VECTORS_FILE, METADATA_FILE):
                shutil.copyfile(source.exported / name, root / source.name / name)
        else:
            write_projector(root / source.name, source.vectors, _frame(source), tensor_name=source.tensor_name)
        embedding = config.embeddings.add()
        embedding.tensor_name = source.tensor_name
        embedding.tensor_path = f"{source.name}/{VECTORS_FILE}"
        embedding.metadata_path = f"{source.name}/{METADATA_FILE}"
    (root / "projector_config.pbtxt").write_text(text_format.MessageToString(config), encoding="utf-8")
    chunky = (root / "chunky" / METADATA_FILE).read_bytes()
    # The writer puts blank lines before a line that a chunk edge would cut inside a character.
    assert len(chunky) > 2_000_000 and b"\n\n" in chunky, "the chunk-edge case is not exercised"
    return root


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, sources: list[Source]) -> Path:
    """The same exports written with base_url, as a user publishes them for ?config=URL."""
    root = tmp_path_factory.mktemp("published")
    for source in sources:
        if source.exported is not None:
            shutil.copytree(source.exported, root / source.name)
        else:
            write_projector(root / source.name, source.vectors, _frame(source), tensor_name=source.tensor_name,
                            base_url=f"{DATA_ORIGIN}/{source.name}/")
    return root


# ------------------------------------------------------------------ servers and browser


@pytest.fixture(scope="module")
def tensorboard(logdir: Path, tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    log = tmp_path_factory.mktemp("tensorboard") / "tensorboard.log"
    cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
           "--port", str(port), "--load_fast", "false"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=logdir)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300  # ~10 s when idle
        while True:
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"{url}/data/plugins_listing", timeout=2) as response:
                    if json.load(response).get("projector", {}).get("enabled"):
                        break  # the projector plugin found our projector_config.pbtxt
            if proc.poll() is not None:
                pytest.fail(f"tensorboard exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.time() > deadline:
                pytest.fail(f"tensorboard's projector was not active within 300 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, log
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    # Console errors and uncaught exceptions (a rejected promise too), each with where it was
    # thrown: any of them fails the test (loaded() fails at the step that caused it).
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(f"console: {m.text} at {m.location}"))
    page.on("pageerror", lambda e: page.errors.append(e.stack or f"{e.name}: {e.message}"))
    try:
        yield page
    finally:
        context.close()


# Finds <vz-projector> (through shadow roots and TensorBoard's same-origin iframes), switches
# the data panel to `target` when given, and returns what the front end holds once it is done
# with the data set it shows. Showing a data set (setCurrentDataSet) starts its PCA: showPCA in
# the projections panel, dataSet.projectPCA() in a util.runAsyncTask (a 200 ms setTimeout), whose
# .then() draws the panel's data set *of that moment*. A file given before that PCA has run
# leaves the .then() to the next data set, which has no PCA yet: updateTotalVarianceMessage()
# throws "Cannot read properties of undefined (reading '0')" (fracVariancesExplained[pcaX]); a
# tensor switched in the menu, to a null data set (projectionCanBeRendered). So a data set is
# done when its own PCA is computed and drawn (projection.dataSet is it) and the progress dialog
# (logging.setModalMessage: "Parsing metadata...", "Computing PCA...") has no task left. An error
# the projector shows in that dialog (a file it cannot read) is returned as such.
JS_READ = r"""(target) => {
  const find = (root, tag) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === tag) return el;
      let found = null;
      if (el.shadowRoot) found = find(el.shadowRoot, tag);
      if (!found && el.tagName === 'IFRAME') {
        try { if (el.contentDocument) found = find(el.contentDocument, tag); } catch (e) {}
      }
      if (found) return found;
    }
    return null;
  };
  const projector = find(document, 'VZ-PROJECTOR');
  if (!projector) return {state: 'no <vz-projector> yet'};
  const notes = Array.from(projector.shadowRoot.querySelectorAll('#notify-msgs .notify-msg'));
  const errors = notes.filter(n => n.classList.contains('error')).map(n => n.innerText);
  if (errors.length) return {state: 'error', errors: errors};
  const tasks = notes.map(n => n.innerText);
  const done = (ds) => tasks.length === 0 && ds.projections['pca-0'] === true
    && projector.projection != null && projector.projection.dataSet === ds;
  const panel = find(document, 'VZ-PROJECTOR-DATA-PANEL');
  const state = window.__projectorTest = window.__projectorTest || {};
  const ds = projector.dataSet;
  if (target !== null) {
    if (!panel || !panel.tensorNames || panel.tensorNames.length === 0) return {state: 'no tensors listed yet'};
    if (panel.selectedTensor !== target) {
      if (!ds || !done(ds)) return {state: 'first tensor still loading', selected: panel.selectedTensor, tasks: tasks};
      state.previous = ds;
      panel.selectedTensor = target;
      return {state: 'switched to ' + target};
    }
  }
  if (!ds || ds === state.previous) return {state: 'loading', tasks: tasks};
  if (!done(ds)) return {state: 'shown, not done', tasks: tasks, pca: ds.projections['pca-0'] === true};
  const info = ds.spriteAndMetadataInfo;
  if (!info || !info.stats) return {state: 'vectors without metadata', points: ds.points.length};
  return {
    state: 'ready',
    tensor: panel ? panel.selectedTensor : null,
    columns: info.stats.map(s => s.name),
    metadata: ds.points.map(p => p.metadata),
    vectors: ds.points.map(p => Array.from(p.vector)),
  };
}"""

# The data set shown now is "old": JS_READ waits for another one.
JS_FORGET = r"""() => {
  const find = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'VZ-PROJECTOR') return el;
      const found = el.shadowRoot ? find(el.shadowRoot) : null;
      if (found) return found;
    }
    return null;
  };
  (window.__projectorTest = window.__projectorTest || {}).previous = find(document).dataSet;
}"""

# What analyzeMetadata does to each value: "" was already null; isNaN(v) ? v : +v.
JS_AS_PROJECTOR = "(values) => values.map(v => (v === null || v === '') ? null : (isNaN(v) ? v : +v))"


def _summary(info: dict) -> dict:
    return {k: (len(v) if isinstance(v, list) and k in ("metadata", "vectors") else v) for k, v in info.items()}


def loaded(page, target: str | None, until=lambda info: True) -> dict:
    """What the front end holds once it is done with a data set (and `until` holds); fails at
    once on an error the projector shows or a page error."""
    deadline = time.time() + LOAD_S
    info: dict = {}
    while time.time() < deadline:
        info = page.evaluate(JS_READ, target)
        if info.get("state") == "error":
            pytest.fail(f"the projector says, loading {target or 'its data'}: {info['errors']}")
        if page.errors:
            pytest.fail(f"page error while loading {target or 'its data'} (state {_summary(info)}): {page.errors}")
        if info.get("state") == "ready" and until(info):
            return info
        time.sleep(0.25)
    pytest.fail(f"the projector did not load {target or 'its data'} within {LOAD_S} s: last state "
                f"{_summary(info)}; page errors: {page.errors[-5:]}")


# ------------------------------------------------------------------ the comparison


def expected_cell(value: str) -> str:
    """A source cell as the export contract writes it: CR LF, CR, LF and tab -> one space."""
    return _BREAKS.sub(" ", value)


def check_against_source(page, source: Source, info: dict, export_dir: Path) -> None:
    n = len(source.rows)
    metadata, columns = info["metadata"], info["columns"]
    assert len(metadata) == n, f"{source.name}: the projector has {len(metadata)} points, the source {n} rows"

    # Vectors: float32 exact.
    vectors = np.array(info["vectors"], dtype=np.float32)
    assert vectors.shape == source.vectors.shape
    assert np.array_equal(vectors, source.vectors), f"{source.name}: vectors differ"

    # Columns: the source header; one column is written without a header and called "label";
    # a "row" column is added by the writer only when some line would otherwise be blank.
    names = list(source.header) if len(source.header) > 1 else ["label"]
    extra = columns[len(names):]
    assert columns[: len(names)] == names and extra in ([], ["row"]), f"{source.name}: columns {columns}"

    # Every cell, row for row.
    flat = [expected_cell(v) for row in source.rows for v in row]
    as_projector = page.evaluate(JS_AS_PROJECTOR, flat)
    width = len(source.header)
    wrong = []
    for i, point in enumerate(metadata):
        want = dict(zip(names, as_projector[i * width : (i + 1) * width]))
        if extra:
            want["row"] = i
        if point != want:
            wrong.append((i, source.rows[i], point, want))
    assert not wrong, (f"{source.name}: {len(wrong)} of {n} rows differ from the source, first: "
                       f"row {wrong[0][0]} source {wrong[0][1]!r} projector {wrong[0][2]!r} expected {wrong[0][3]!r}")

    # Our own parser must agree with the real one on the same files.
    ours_vectors, ours_header, ours_rows = parse_projector(
        (export_dir / VECTORS_FILE).read_text(encoding="utf-8"),
        (export_dir / METADATA_FILE).read_text(encoding="utf-8"),
    )
    assert np.array_equal(ours_vectors, vectors)
    assert (ours_header or ["label"]) == columns
    ours = page.evaluate(JS_AS_PROJECTOR, [v for row in ours_rows for v in row])
    k = len(columns)
    differ = [(i, ours_rows[i], metadata[i]) for i in range(n)
              if dict(zip(columns, ours[i * k : (i + 1) * k])) != metadata[i]]
    assert len(ours_rows) == n and not differ, (
        f"{source.name}: parse_projector reads {len(differ)} rows differently from the real projector, "
        f"first: {differ[:1]}")


# ------------------------------------------------------------------ the tests


def test_tensorboard_projector_reads_every_row(tensorboard, page, sources: list[Source], logdir: Path) -> None:
    url, log = tensorboard
    page.goto(f"{url}/#projector")
    for source in sources:
        info = loaded(page, source.tensor_name)
        assert info["tensor"] == source.tensor_name
        check_against_source(page, source, info, logdir / source.name)
    assert not page.errors, page.errors


def open_standalone(page, published: Path, config_name: str) -> None:
    """The standalone projector app at APP_ORIGIN/?config=DATA_ORIGIN/<config_name>/projector_config.json."""
    folder = plugin_dir()
    html = (folder / "projector_binary.html").read_text(encoding="utf-8")
    app = '<vz-projector-app serving-mode="demo" projector-config-json-path="none.json"></vz-projector-app>'
    assert "<vz-projector-dashboard></vz-projector-dashboard>" in html
    html = html.replace("<vz-projector-dashboard></vz-projector-dashboard>", app)
    script = (folder / "projector_binary.js").read_bytes()
    with zipfile.ZipFile(folder.parents[2] / "webfiles.zip") as webfiles:  # TensorBoard's fonts
        fonts = {n: webfiles.read(n) for n in webfiles.namelist() if n.startswith("font-roboto/")}

    def serve_app(route) -> None:
        path = route.request.url.split("?")[0]
        if path.endswith("/projector_binary.js"):
            route.fulfill(body=script, content_type="text/javascript")
        elif path == APP_ORIGIN + "/":
            route.fulfill(body=html, content_type="text/html")
        elif path[len(APP_ORIGIN) + 1 :] in fonts:
            route.fulfill(body=fonts[path[len(APP_ORIGIN) + 1 :]])
        else:
            route.fulfill(status=404, body="")

    def serve_data(route) -> None:
        relative = route.request.url[len(DATA_ORIGIN) + 1 :]
        file = published / relative
        if ".." in relative or not file.is_file():
            route.fulfill(status=404, body="", headers={"Access-Control-Allow-Origin": "*"})
            return
        content_type = "image/png" if file.suffix == ".png" else "text/plain; charset=utf-8"
        route.fulfill(body=file.read_bytes(), content_type=content_type, headers={"Access-Control-Allow-Origin": "*"})

    page.route(APP_ORIGIN + "/**", serve_app)
    page.route(DATA_ORIGIN + "/**", serve_data)
    page.goto(f"{APP_ORIGIN}/?config={DATA_ORIGIN}/{config_name}/{CONFIG_FILE}")


@pytest.mark.parametrize("name", ["awkward", "awkward-cli", "docstrings", "chunky"])
def test_standalone_projector_reads_every_row(page, sources: list[Source], published: Path, name: str) -> None:
    source = next(s for s in sources if s.name == name)
    open_standalone(page, published, name)
    info = loaded(page, None)
    check_against_source(page, source, info, published / name)
    assert not page.errors, page.errors


@pytest.mark.parametrize("name", ["awkward-cli", "chunky"])
def test_projector_load_dialog_reads_every_row(page, sources: list[Source], published: Path, name: str) -> None:
    """What the CLI tells users: Load -> vectors.tsv, then metadata.tsv (the data panel's file inputs)."""
    source = next(s for s in sources if s.name == name)
    open_standalone(page, published, "docstrings")  # the app starts with some data set loaded
    loaded(page, None)
    page.evaluate(JS_FORGET)
    page.locator("#file").set_input_files(str(published / name / VECTORS_FILE))
    # Vectors alone: the projector shows them with an "__index__" column of its own.
    loaded(page, None, until=lambda info: len(info["vectors"]) == len(source.rows))
    page.locator("#file-metadata").set_input_files(str(published / name / METADATA_FILE))
    info = loaded(page, None, until=lambda info: info["columns"] != ["__index__"])
    check_against_source(page, source, info, published / name)
    assert not page.errors, page.errors


# ------------------------------------------------------------------ bookmarks and the demo layout

BOOKMARKED = "bookmarked"  # an export with bookmarks.txt, in the published folder
DEMO = "demo"  # the projector's demo layout: a .bytes tensor and a labels TSV, paths as URLs

# Loads bookmark `index` as its radio button does (BookmarkPanel.loadSavedState), pauses t-SNE
# as its Pause button does (a t-SNE bookmark goes on optimising from the bookmarked layout), and
# reads back what the projector then holds: the projection drawn, every shown point's original
# row and its coordinates under the projection's keys, the selection, colour and label options.
# index null: only wait until the bookmarks are listed and the first projection is drawn.
JS_BOOKMARK = r"""(index) => {
  const find = (root, tag) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === tag) return el;
      const found = el.shadowRoot ? find(el.shadowRoot, tag) : null;
      if (found) return found;
    }
    return null;
  };
  const projector = find(document, 'VZ-PROJECTOR');
  const panel = find(document, 'VZ-PROJECTOR-BOOKMARK-PANEL');
  if (!projector || !panel || !panel.savedStates || panel.savedStates.length === 0) return {state: 'no bookmarks yet'};
  if (!projector.projection || !projector.dataSet) return {state: 'nothing drawn yet'};
  if (index === 'read') {
    // read again what is shown now
  } else if (index === null) {
    return {state: 'ready', labels: panel.savedStates.map(s => s.label)};
  } else {
    panel.loadSavedState(index);
    projector.dataSet.tSNEShouldPause = true;
  }
  const p = projector.projection, ds = projector.dataSet;
  const keys = p.projectionComponents.filter(c => c != null);
  return {
    state: 'ready', type: p.projectionType, dims: p.dimensionality, keys: keys,
    rows: ds.points.map(pt => pt.index),
    coords: ds.points.map(pt => keys.map(k => pt.projections[k])),
    selected: projector.selectedPointIndices.map(i => ds.points[i].index),
    color: projector.dataPanel.selectedColorOptionName, label: projector.selectedLabelOption,
  };
}"""


def bookmark_views(vectors: np.ndarray) -> list:
    """PCA 2D (ours), UMAP 3D and t-SNE 2D (seeded coordinates: what is tested is where the
    projector puts them), and PCA 3D on a sample of the points (filteredPoints)."""
    from embeddings.reduce import Projection, project
    from embeddings.views import View

    n = len(vectors)
    rng = np.random.default_rng(5)
    sampled = project(vectors, "pca", 3, max_points=n // 2, seed=2, components=(2, 0, 1))
    return [
        View.of_projection(project(vectors, "pca", 2), name="our PCA", color="topic", label="text",
                           selection=(1, 5, 7)),
        View.of_projection(Projection(rng.standard_normal((n, 3)).astype(np.float32), "umap", 3,
                                      {"n_neighbors": 8, "min_dist": 0.3}), name="our UMAP 3D", label="topic"),
        View.of_projection(Projection(rng.standard_normal((n, 2)).astype(np.float32), "tsne", 2,
                                      {"perplexity": 12.0, "learning_rate": 100.0, "n_iter": 500}),
                           name="our t-SNE", color="text", selection=(0, n - 1)),
        View.of_projection(sampled, name="PCA of a sample", selection=(int(sampled.rows[3]),)),
    ]


@pytest.fixture(scope="module")
def own_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published folder of their own for the bookmark and demo tests (no wait for the other exports)."""
    return tmp_path_factory.mktemp("published-own")


@pytest.fixture(scope="module")
def bookmarked(own_folder: Path) -> list:
    """Our export with four bookmarks, written with base_url like a user publishing it."""
    published = own_folder
    n = 150
    vectors = _vectors(n, 8, 9)
    metadata = pd.DataFrame({"text": [f"point {i}" for i in range(n)], "topic": [f"t{i % 3}" for i in range(n)]})
    views = bookmark_views(vectors)
    write_projector(published / BOOKMARKED, vectors, metadata, tensor_name="bookmarked", views=views,
                    base_url=f"{DATA_ORIGIN}/{BOOKMARKED}/")
    return views


def bookmark_info(page, index) -> dict:
    deadline = time.time() + LOAD_S
    info: dict = {}
    while time.time() < deadline:
        info = page.evaluate(JS_BOOKMARK, index)
        if page.errors:
            pytest.fail(f"page error at bookmark {index}: {page.errors}")
        if info.get("state") == "ready":
            return info
        time.sleep(0.25)
    pytest.fail(f"no bookmarks shown within {LOAD_S} s: last state {info}; page errors: {page.errors[-5:]}")


def test_projector_puts_every_point_at_our_bookmarked_coordinates(page, own_folder: Path, bookmarked: list) -> None:
    from embeddings.bookmarks import coordinate_keys

    open_standalone(page, own_folder, BOOKMARKED)
    assert bookmark_info(page, None)["labels"] == [v.name for v in bookmarked]
    for index, view in enumerate(bookmarked):
        rows = view.projection.rows
        expected = view.projection.coords.astype(np.float64)  # bookmarks.txt holds each float32 exactly
        names = {"topic": "topic", "text": "text", None: None}
        for when in ("at once", "a second later"):
            info = bookmark_info(page, index if when == "at once" else "read")
            what = f"bookmark {index} ({view.name}), {when}"
            assert (info["type"], info["dims"]) == (view.method, view.dims), what
            assert info["keys"] == coordinate_keys(view), what
            assert info["rows"] == rows.tolist(), what  # the sample is the filtered data set, in order
            got = np.array(info["coords"], dtype=np.float64)
            assert got.shape == expected.shape and np.array_equal(got, expected), (
                f"{what}: {int((got != expected).any(axis=1).sum())} points not at our coordinates")
            assert sorted(info["selected"]) == sorted(view.look.selection), what
            assert info["color"] == (names[view.look.color] or "No color map"), what
            assert info["label"] == (names[view.look.label] or "text"), what
            time.sleep(1.0)
    assert not page.errors, page.errors


def demo_layout(folder: Path, n: int = 150, d: int = 4) -> np.ndarray:
    """The layout of the projector's demo data (oss_demo_projector_config.json's Iris entry): a
    .bytes tensor and a one-column labels TSV, named by absolute URLs in the config."""
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.round(_vectors(n, d, 11) * 3 + 5, 1).astype("<f4")  # like iris measurements
    vectors.tofile(folder / "iris_tensors.bytes")
    labels = [["Iris-setosa", "Iris-versicolor", "Iris-virginica"][i % 3] for i in range(n)]
    (folder / "iris_labels.tsv").write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    config = {"embeddings": [{"tensorName": "Iris", "tensorShape": [n, d],
                              "tensorPath": f"{DATA_ORIGIN}/{DEMO}/iris_tensors.bytes",
                              "metadataPath": f"{DATA_ORIGIN}/{DEMO}/iris_labels.tsv"}],
              "modelCheckpointPath": "Demo datasets"}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return vectors


def test_projector_demo_layout_opens_here_with_the_same_values(page, own_folder: Path) -> None:
    from embeddings.pipeline import load_input

    published = own_folder
    vectors = demo_layout(published / DEMO)
    ours = load_input(published / DEMO / CONFIG_FILE)  # the URLs stand for the files beside the config
    open_standalone(page, published, DEMO)
    info = loaded(page, None)
    theirs = np.array(info["vectors"], dtype=np.float32)
    assert np.array_equal(theirs, vectors) and np.array_equal(ours.vectors, theirs)
    assert info["columns"] == list(ours.metadata.columns) == ["label"]
    assert [m["label"] for m in info["metadata"]] == ours.texts
    assert not page.errors, page.errors


# ------------------------------------------------------------------ images: our sprite in the projector

DIGITS = "digits"

# The sprite as the projector holds it: the image it loaded (read back through a canvas), the tile
# size it was told, and its scatter plot's sprite visualizer: the texture it made from that image,
# tiles per row and column, and the tile index of every point.
JS_SPRITE = r"""() => {
  const find = (root, tag) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === tag) return el;
      const found = el.shadowRoot ? find(el.shadowRoot, tag) : null;
      if (found) return found;
    }
    return null;
  };
  const projector = find(document, 'VZ-PROJECTOR');
  const ds = projector && projector.dataSet, info = ds && ds.spriteAndMetadataInfo;
  if (!info || !info.spriteImage) return {state: 'no sprite yet'};
  const visualizer = projector.projectorScatterPlotAdapter && projector.projectorScatterPlotAdapter.spriteVisualizer;
  if (!visualizer || !visualizer.texture) return {state: 'no sprite texture yet'};
  const image = info.spriteImage, canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const ctx = canvas.getContext('2d'); ctx.drawImage(image, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data, grey = [];
  for (let k = 0; k < data.length; k += 4) grey.push(data[k]);
  return {
    state: 'ready', points: ds.points.length, size: [canvas.width, canvas.height], grey,
    singleImageDim: info.spriteMetadata.singleImageDim,
    textureIsTheImage: visualizer.texture.image === image,
    perRow: visualizer.spritesPerRow, perColumn: visualizer.spritesPerColumn,
    tileOf: Array.from(visualizer.spriteIndexBufferAttribute.array),
  };
}"""


def test_projector_loads_our_sprite_tile_for_tile(page, own_folder: Path, digits_dir) -> None:
    """The 1,797 digits exported with their sprite (pixels as vectors), published and opened with
    ?config=: the projector loads sprite.png, cuts it as we laid it out, and makes its texture."""
    from embeddings.pipeline import embed_points, load_input

    folder, pixels, _ = digits_dir
    points = embed_points(load_input(folder), "pixels")
    points.write_projector(own_folder / DIGITS, tensor_name="digits", base_url=f"{DATA_ORIGIN}/{DIGITS}/")
    open_standalone(page, own_folder, DIGITS)
    loaded(page, None)
    deadline, info = time.time() + LOAD_S, {}
    while time.time() < deadline:
        info = page.evaluate(JS_SPRITE)
        if info.get("state") == "ready":
            break
        time.sleep(0.25)
    assert info.get("state") == "ready", f"no sprite in the projector: {info}; page errors: {page.errors[-5:]}"
    assert info["points"] == 1797 and info["singleImageDim"] == [8, 8]
    assert info["size"] == [43 * 8, 43 * 8] and (info["perRow"], info["perColumn"]) == (43, 43)
    assert info["textureIsTheImage"] and info["tileOf"] == list(range(1797))  # point i is drawn as tile i
    sheet = np.asarray(info["grey"], dtype=np.uint8).reshape(43 * 8, 43 * 8)
    tiles = sheet.reshape(43, 8, 43, 8).transpose(0, 2, 1, 3).reshape(43 * 43, 8, 8)[:1797]
    np.testing.assert_array_equal(tiles, pixels)  # every tile is its point's digit
    assert not page.errors, page.errors
