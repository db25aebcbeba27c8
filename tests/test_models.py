"""Model specs, fingerprints and loading: bundled, local folders, hub ids, variants, failures."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from embeddings.errors import ModelError
from embeddings.models import (
    DEFAULT_MODEL,
    ModelSpec,
    bundled_path,
    fingerprint,
    fingerprint_folder,
    load_model,
)


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "minilm", "sentence-transformers/all-MiniLM-L6-v2", " MiniLM "])
def test_bundled_names_resolve_to_the_wheel_copy(name: str) -> None:
    spec = ModelSpec.parse(name)
    assert spec.origin == "bundled"
    assert Path(spec.location) == bundled_path()
    assert (Path(spec.location) / "model.safetensors").is_file()
    assert spec.name == DEFAULT_MODEL


def test_variants_parse_and_name() -> None:
    static = ModelSpec.parse("minilm@static")
    assert (static.origin, static.variant, static.layer, static.name) == ("bundled", "static", None, "all-MiniLM-L6-v2@static")
    layer = ModelSpec.parse("all-MiniLM-L6-v2@layer3")
    assert (layer.variant, layer.layer, layer.name) == ("layer:3", 3, "all-MiniLM-L6-v2@layer3")
    assert layer.base().variant is None
    hub = ModelSpec.parse("BAAI/bge-small-en-v1.5@layer2")
    assert (hub.origin, hub.location, hub.layer) == ("hub", "BAAI/bge-small-en-v1.5", 2)


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("", "empty"),
        ("minilm@banana", "unknown variant"),
        ("./no/such/folder", "no such folder"),
        ("a/b/c", "no such folder"),
        ("has space/model", "not a Hugging Face model id"),
    ],
)
def test_bad_specs_are_one_line_model_errors(spec: str, needle: str) -> None:
    with pytest.raises(ModelError) as info:
        ModelSpec.parse(spec)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_a_file_or_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "weights.bin"
    file.write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        ModelSpec.parse(str(file))
    with pytest.raises(ModelError, match="not a model"):
        ModelSpec.parse(str(tmp_path))


def test_fingerprint_follows_the_files_not_the_name(tiny_bert_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "renamed-copy"
    shutil.copytree(tiny_bert_dir, copy)
    assert fingerprint(str(copy)) == fingerprint(str(tiny_bert_dir))
    config = json.loads((copy / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    (copy / "config.json").write_text(json.dumps(config))
    assert fingerprint(str(copy)) != fingerprint(str(tiny_bert_dir))
    base = fingerprint(str(tiny_bert_dir))
    assert fingerprint(f"{tiny_bert_dir}@static") == f"{base}@static"
    assert fingerprint(f"{tiny_bert_dir}@layer1") == f"{base}@layer:1"


def test_fingerprint_of_an_uncached_hub_model_is_unknown() -> None:
    assert fingerprint("no-such-org/no-such-model") is None


def test_fingerprint_of_an_empty_model_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model files"):
        fingerprint_folder(tmp_path)


def test_unknown_hub_model_fails_within_seconds_offline() -> None:
    # Imported before the clock (load_model imports them on its way): on a loaded machine an
    # import alone takes seconds; what is timed is the hub check.
    import huggingface_hub  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401

    started = time.monotonic()
    with pytest.raises(ModelError) as info:
        load_model("no-such-org/no-such-model-xyz")
    assert time.monotonic() - started < 10
    assert "no-such-org/no-such-model-xyz" in str(info.value)


def test_default_model_loads_offline_with_its_facts() -> None:
    model = load_model(DEFAULT_MODEL)
    assert (model.dim, model.num_layers, model.max_seq_length) == (384, 6, 256)
    assert model.device in ("cpu", "cuda", "mps")
    assert load_model("minilm") is model  # memoised: the alias is the same model
    assert load_model("minilm@static").dim == 384


def test_plain_transformers_folders_load_with_mean_pooling(tiny_bert_dir: Path, tiny_gpt2_dir: Path) -> None:
    bert = load_model(str(tiny_bert_dir))
    gpt2 = load_model(str(tiny_gpt2_dir))
    assert (bert.dim, bert.num_layers) == (32, 2)
    assert (gpt2.dim, gpt2.num_layers) == (48, 2)
    assert gpt2.tokenizer.pad_token is not None  # GPT-2 has none of its own; batching needs one
    assert bert.fingerprint != gpt2.fingerprint


def test_a_layer_past_the_last_is_refused(tiny_bert_dir: Path) -> None:
    with pytest.raises(ModelError, match="layers 0..2"):
        load_model(f"{tiny_bert_dir}@layer5")


def test_remote_code_never_runs_unless_asked(tmp_path: Path) -> None:
    folder = tmp_path / "custom"
    folder.mkdir()
    marker = tmp_path / "code-ran"
    (folder / "config.json").write_text(
        json.dumps({"model_type": "sneaky-custom", "auto_map": {"AutoConfig": "modeling_sneaky.SneakyConfig",
                                                                 "AutoModel": "modeling_sneaky.SneakyModel"}})
    )
    (folder / "modeling_sneaky.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(ModelError) as info:
        load_model(str(folder))
    assert "trust_remote_code" in str(info.value) and "--" not in str(info.value)
    assert not marker.exists()
    # asked for, the model's code does run (this one defines no model, so loading still fails)
    with pytest.raises(ModelError):
        load_model(str(folder), trust_remote_code=True)
    assert marker.read_text() == "ran"
