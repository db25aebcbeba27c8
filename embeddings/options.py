"""How to encode, as one value: ``EncodeOptions``.

The CLI and the app build one (from flags, from widgets), ``embed_points`` takes it and hands the
same value on to ``embed``, the encoders (``encode_texts``, ``token_embeddings``,
``vocabulary_embeddings``) and Ray (``encode_on_ray`` and its actors). Every field is checked
when the value is made, so a bad option is one ``InputError`` line before any work starts.

The model is a ``ModelSpec``: it carries ``trust_remote_code``, so nothing passes that by hand.

A new encoding option is one field here (with its check in ``__post_init__``), read where it
matters; the CLI turns a flag of the same name into it (``embeddings.cli.common.encode_options``)
and the app a widget (``app.sections.data``). Notebook calls keep their keywords:
``embed_points(data, "all-MiniLM-L6-v2", level="token")`` builds the options from them
(``EncodeOptions.of``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from embeddings.checks import is_whole, whole_number
from embeddings.choices import BACKENDS, DEFAULT_MODEL, DEFAULT_VOCAB_SIZE, ENGINES, LEVELS, QUANTIZE
from embeddings.errors import InputError
from embeddings.models import ModelSpec


@dataclass(frozen=True)
class EncodeOptions:
    """How a Dataset becomes vectors: which model, at which level, how, and where."""

    model: ModelSpec = field(default_factory=lambda: ModelSpec.parse(DEFAULT_MODEL))  # with trust_remote_code
    level: str = "text"  # one of LEVELS: one vector per text, per token, or per vocabulary entry
    layer: int = -1  # token level: the layer the vectors come from (-1: the last)
    batch_size: int | None = None  # texts per model call; None: the encoder's own (32 texts, 16 at token level)
    normalize: bool = False  # text level: L2-normalise each vector
    cache: bool = True  # read and fill the vector cache
    processes: int | str = 1  # local engine: CPU worker processes, or "auto"
    engine: str = "local"  # one of ENGINES: this process, or a Ray Data actor pool
    ray_address: str | None = None  # engine "ray": the cluster to join; None starts a private Ray here
    actors: int | None = None  # engine "ray": encoding actors (None: one per GPU, else one per node)
    vocab_size: int = DEFAULT_VOCAB_SIZE  # level "vocab": how many whole-word tokens
    vocab_tokens: tuple[str, ...] | None = None  # level "vocab": these words' rows instead
    device: str | None = None  # "cpu", "cuda", "mps"...; None: CUDA, then MPS, then CPU
    backend: str = "auto"  # one of BACKENDS: what runs the model (embeddings.backends)
    quantize: str = "none"  # one of QUANTIZE: "int8" runs a quantised graph (faster, not exact)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise InputError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        whole_number(self.layer, "layer")
        if self.batch_size is not None:
            whole_number(self.batch_size, "batch size", minimum=1)
        for name in ("normalize", "cache"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.processes != "auto" and (not is_whole(self.processes) or self.processes < 1):
            raise InputError(f"processes must be a whole number of at least 1 or 'auto', not {self.processes!r}")
        if self.engine not in ENGINES:
            raise InputError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.actors is not None:
            whole_number(self.actors, "actors", minimum=1)
        if self.backend not in BACKENDS:
            raise InputError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.quantize not in QUANTIZE:
            raise InputError(f"quantize must be one of {', '.join(QUANTIZE)}, not {self.quantize!r}")
        if self.quantize != "none" and self.backend not in ("auto", "onnx"):
            raise InputError(f"{self.quantize} quantisation runs on the onnx backend (or auto), not on {self.backend}")
        whole_number(self.vocab_size, "vocabulary size", minimum=1)
        if self.vocab_tokens is not None:
            if isinstance(self.vocab_tokens, str):
                raise InputError("vocab_tokens must be a list of words, not one string")
            object.__setattr__(self, "vocab_tokens", tuple(self.vocab_tokens))
        object.__setattr__(self, "model", ModelSpec.parse(self.model))  # last: the other checks cost nothing

    @classmethod
    def of(cls, given: "EncodeOptions | ModelSpec | str | None" = None, **overrides: Any) -> "EncodeOptions":
        """Options from what a call was given: options (with `overrides` replaced), or a model spec
        (None: the default model) and keyword options. ``trust_remote_code=`` goes onto the spec."""
        trust = bool(overrides.pop("trust_remote_code", False))
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown encoding option {unknown[0]!r}")
        if isinstance(given, EncodeOptions):
            options = replace(given, **overrides) if overrides else given
        else:
            model = overrides.pop("model", None) if given is None else given
            options = cls(model=model if model is not None else DEFAULT_MODEL, **overrides)
        if trust and not options.model.trust_remote_code:
            options = replace(options, model=ModelSpec.parse(options.model, trust_remote_code=True))
        return options

    def with_model(self, model: "ModelSpec | str") -> "EncodeOptions":
        """The same options for another model (its spec keeps this one's trust_remote_code)."""
        return replace(self, model=ModelSpec.parse(model, trust_remote_code=self.model.trust_remote_code))

    @property
    def model_name(self) -> str:
        """The model as the caller named it (what Points record: it loads again)."""
        return self.model.raw
