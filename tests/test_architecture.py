"""The shape of the code: imports flow one way, the library never imports streamlit, the public
API is light to import, and the README's library example runs with the names it shows."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "embeddings"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (top level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(path) if m in modules and m != name and m != "embeddings"}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_library_import_graph_has_no_cycles() -> None:
    graph = _graph()
    assert "embeddings.points" in graph and "embeddings.checks" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_lower_modules_do_not_reach_up() -> None:
    graph = _graph()
    assert graph["embeddings.choices"] == set() and graph["embeddings.errors"] == set()
    assert graph["embeddings.checks"] <= {"embeddings.errors", "embeddings.choices"}
    assert graph["embeddings.digests"] == set()
    assert "embeddings.projector" not in graph["embeddings.data"]  # reading data imports no writer
    assert "embeddings.cache" not in graph["embeddings.models"]  # fingerprints skip the vector cache
    assert "embeddings.reduce" not in graph["embeddings.neighbors"]


def test_the_library_never_imports_streamlit_and_the_app_is_never_imported() -> None:
    for path in PACKAGE.rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in ("streamlit", "app"), f"{path.name} imports {name}"


def test_import_embeddings_is_light_and_every_public_name_resolves() -> None:
    code = (
        "import sys, embeddings as em\n"
        "heavy = ('torch', 'umap', 'sklearn', 'streamlit', 'transformers', 'sentence_transformers', 'openTSNE',"
        " 'plotly')\n"
        "names = [getattr(em, name) for name in em.__all__]\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Library", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_library_example_uses_only_public_names() -> None:
    import embeddings

    code = _readme_example()
    assert "from embeddings." not in code and "import embeddings as em" in code
    used = set(re.findall(r"\bem\.(\w+)", code))
    assert used and used <= set(embeddings.__all__), used - set(embeddings.__all__)


@pytest.mark.slow
def test_the_readme_library_example_runs(tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    """The example as printed, with the tiny model for speed, from the repository root."""
    import embeddings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data")
    monkeypatch.setattr(embeddings, "DEFAULT_MODEL", str(tiny_bert_dir), raising=False)
    scope: dict = {}
    exec(compile(_readme_example(), "README.md", "exec"), scope)
    points, projection = scope["points"], scope["projection"]
    assert projection.coords.shape == (len(points), 2) and len(points) == 300
    assert (tmp_path / "out" / "sentences" / "vectors.tsv").read_text().count("\n") == 300
    assert (tmp_path / "out" / "sentences" / "metadata.tsv").read_text(encoding="utf-8").startswith("text\ttopic")
    assert "[" in capsys.readouterr().out  # the neighbours were printed


def test_the_server_listens_on_this_machine_only_by_default() -> None:
    import tomllib

    from embeddings.data import MAX_UPLOAD_MB

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    run = (REPO / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "--server.address 127.0.0.1" in run
    assert "--server.address 0.0.0.0" in (REPO / "README.md").read_text(encoding="utf-8")


def test_no_full_garbage_collection_after_every_rerun() -> None:
    """Streamlit's forced gc.collect(2) after each script run costs ~0.9 s with torch loaded: off in
    `make run` (config.toml) and in `embeddings view` (its own flags), and in the runner both read."""
    import tomllib

    from streamlit import config as st_config

    from embeddings.serve import STREAMLIT_OPTIONS

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["runner"]["postScriptGC"] is False
    flag = STREAMLIT_OPTIONS.index("--runner.postScriptGC")
    assert STREAMLIT_OPTIONS[flag + 1] == "false"
    assert st_config.get_option("runner.postScriptGC") is False  # the tests' AppTest runs read it too


def test_an_upload_over_the_limit_is_refused_before_it_is_read() -> None:
    from embeddings.data import check_upload_size
    from embeddings.errors import InputError

    check_upload_size("ok.csv", 5 * 1024 * 1024, limit_mb=5)
    with pytest.raises(InputError, match=r"^big\.csv: 6 MB is over the upload limit of 5 MB$"):
        check_upload_size("big.csv", 6 * 1024 * 1024, limit_mb=5)


def _spelled_out(node: ast.AST) -> bool:
    """A key written as text in place (an f-string built on a name from app.state is fine)."""
    return isinstance(node, ast.Constant) or (isinstance(node, ast.JoinedStr) and "state." not in ast.unparse(node))


def test_every_session_state_key_is_named_in_app_state() -> None:
    """No section spells a key itself: widget keys and st.session_state keys come from app.state."""
    found = []
    for path in (REPO / "app").rglob("*.py"):
        if path.name == "state.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "key" and _spelled_out(keyword.value):
                        found.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Subscript) and "session_state" in ast.unparse(node.value):
                if _spelled_out(node.slice):
                    found.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.startswith("KEY_") for t in node.targets
            ):
                found.append(f"{path.name}:{node.lineno}")
    assert not found, found


def test_one_error_display() -> None:
    defined = [p.name for p in (REPO / "app").rglob("*.py")
               if re.search(r"^def (show_error|error_line)\b", p.read_text(encoding="utf-8"), re.M)]
    assert defined == ["__init__.py"]


def test_no_app_function_is_over_sixty_lines() -> None:
    long = []
    for path in (REPO / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


# The vocabularies embeddings.choices defines; no other module of the library or the app may
# define one of these names again (a copy drifts: five LEVELS once disagreed about "vocab").
VOCABULARIES = {"LEVELS", "TEXT_LEVELS", "METHODS", "VIEW_METHODS", "METHOD_NAMES", "METRICS", "UMAP_METRICS",
                "ENGINES", "DEFAULT_VOCAB_SIZE", "LOOK_KEYS", "VIEW_KEYS", "CLUSTER_SPACES", "LOSSES",
                "DEFAULT_LOSS", "DEFAULT_MODEL"}


def _assigned_names(path: Path) -> set[str]:
    """Names a module binds at its top level by assignment (imports do not count)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def test_choices_is_the_bottom_and_imports_nothing_of_ours() -> None:
    assert _graph()["embeddings.choices"] == set()
    assert _imports(PACKAGE / "choices.py") <= {"__future__", "__future__.annotations"}


def test_every_vocabulary_is_defined_once_in_choices() -> None:
    import embeddings.choices as choices

    assert VOCABULARIES <= set(vars(choices)) | {"VIEW_KEYS"}
    copies = [f"{path.relative_to(REPO)}: {name}"
              for path in [*PACKAGE.rglob("*.py"), *(REPO / "app").rglob("*.py")] if path.name != "choices.py"
              for name in sorted(_assigned_names(path) & VOCABULARIES)]
    assert not copies, copies


def test_options_sit_on_the_model_spec_and_below_the_encoders() -> None:
    graph = _graph()
    assert graph["embeddings.options"] <= {"embeddings.checks", "embeddings.choices", "embeddings.errors",
                                            "embeddings.models"}
    for encoder in ("embeddings.encode", "embeddings.pipeline", "embeddings.distributed"):
        assert "embeddings.options" in graph[encoder], encoder


# EncodeOptions fields that are not a flag of `embeddings encode`, and why.
NOT_FLAGS = {
    "model": "--model, parsed with --trust-remote-code into the spec",
    "cache": "--no-cache",
    "vocab_tokens": "the app's word list; the CLI's vocabulary is the most useful --vocab-size tokens",
    "device": "chosen automatically (CUDA, then MPS, then CPU)",
}


def test_every_encoding_option_is_a_flag_named_like_its_field() -> None:
    """The CLI turns a flag into the EncodeOptions field of the same name (cli.common.encode_options),
    so a new option is its field and its flag; this fails when the flag is forgotten."""
    from dataclasses import fields

    from embeddings.cli import build_parser
    from embeddings.cli.common import encode_options
    from embeddings.options import EncodeOptions

    parser = build_parser()
    encode = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(" encode"))
    dests = {action.dest for action in encode._actions}
    missing = [f.name for f in fields(EncodeOptions) if f.name not in dests and f.name not in NOT_FLAGS]
    assert not missing, missing
    args = parser.parse_args(["encode", "d.csv", "--out", "o.npy", "--level", "token", "--layer", "2", "--batch-size",
                              "8", "--normalize", "--no-cache", "--processes", "auto", "--vocab-size", "7",
                              "--trust-remote-code"])
    options = encode_options(args)
    assert (options.level, options.layer, options.batch_size, options.normalize, options.cache, options.processes,
            options.vocab_size, options.model.trust_remote_code) == ("token", 2, 8, True, False, "auto", 7, True)


def test_the_cli_package_only_assembles_commands_that_carry_their_own_parser() -> None:
    import embeddings.cli as cli

    modules = sorted(p.stem for p in (PACKAGE / "cli").glob("*.py") if p.stem not in ("__init__", "common"))
    assert sorted(m.__name__.rsplit(".", 1)[1] for m in cli.COMMANDS) == modules
    for module in cli.COMMANDS:
        assert callable(module.add_parser) and callable(module.run), module.__name__
    defined = [node.name for node in ast.parse((PACKAGE / "cli" / "__init__.py").read_text(encoding="utf-8")).body
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert defined == ["build_parser", "main"]


def test_no_error_the_app_can_show_names_a_command_line_flag() -> None:
    """One wording per error in the UI: the library's errors (which the app shows as they are)
    name no CLI flag ("pass --overwrite") where the app has a checkbox or a select instead. The
    CLI's own modules (embeddings/cli, serve) may."""
    flag = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
    found = []
    for path in list((REPO / "embeddings").rglob("*.py")) + list((REPO / "app").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("embeddings/cli/") or relative == "embeddings/serve.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                texts = [n.value for n in ast.walk(node.exc) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("error", "warning", "info", "caption"):
                texts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            else:
                continue
            found += [f"{relative}:{node.lineno}: {text.strip()[:60]}" for text in texts if flag.search(text)]
    assert not found, found
