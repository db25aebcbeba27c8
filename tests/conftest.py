"""Shared fixtures: an isolated cache per test, and two tiny offline models of different kinds.

The tiny models are randomly initialised from ``transformers`` configs with tokenizers trained
here on the sample data, so the generic loading and token paths are tested with no hub:
a BERT (WordPiece, width 32, [CLS]/[SEP] specials) and a GPT-2 (byte-level BPE, width 48, no
specials, no padding token). They are plain ``transformers`` folders, not sentence-transformers
ones, so loading them exercises the mean-pooling path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_configure(config: pytest.Config) -> None:
    """One numba cache for the whole run (every test, app server and CLI process, both xdist
    workers), in pytest's own cache folder, never the user's: UMAP's kernels compile once per
    run instead of once per server (27 s of CPU each, empty cache against filled, README). Set
    here, before any test module imports umap, so numba reads it when first imported."""
    if "NUMBA_CACHE_DIR" not in os.environ and config.cache is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(config.cache.mkdir("numba"))


@pytest.fixture(scope="session", autouse=True)
def converted_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted models (embeddings.backends) for the whole session, never the user's folder; and
    backend "auto" pinned to torch, so only the backend tests (tests/test_backends.py, which unpin
    it) pay for converting models: converting the bundled model takes a minute on 2 cores."""
    folder = tmp_path_factory.mktemp("converted-models")
    os.environ["EMBEDDINGS_MODELS"] = str(folder)
    os.environ["EMBEDDINGS_BACKEND"] = "torch"
    return folder


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own vector cache; nothing touches the hub."""
    path = tmp_path / "cache" / "vectors.sqlite"
    monkeypatch.setenv("EMBEDDINGS_CACHE", str(path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return path


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every in-memory media storage AppTest creates, so download bytes can be read back."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    storages: list = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, endpoint: str) -> None:
            super().__init__(endpoint)
            storages.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return storages


@pytest.fixture
def clean_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned worker processes re-run __main__; AppTest leaves its own script there, so hide it."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def _training_texts() -> list[str]:
    import pandas as pd

    texts = pd.read_csv(ROOT / "sample_data" / "sentences.csv")["text"].tolist()
    texts += pd.read_csv(ROOT / "sample_data" / "words.csv")["text"].tolist()
    return texts


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT of width 32 with a 400-entry WordPiece vocabulary, saved to a folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(_training_texts(), trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    tok.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64,
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    BertModel(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer GPT-2 of width 48 with a 500-entry byte-level BPE vocabulary, saved to a folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        _training_texts(),
        trainers.BpeTrainer(
            vocab_size=500, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>",
        model_max_length=48,
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(1)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=48, n_layer=2, n_head=2, n_positions=48,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    GPT2Model(config).eval().save_pretrained(folder)
    return folder



@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer CLIP (text and vision towers of width 32, 16-wide shared space, 32 x 32 px input,
    8 px patches) with a 300-entry byte-level BPE, its tokenizer and image processor saved beside
    it: a plain transformers folder that sentence-transformers loads as an image-and-text model."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-clip")
    specials = ["<|startoftext|>", "<|endoftext|>"]
    tok = Tokenizer(models.BPE(unk_token=specials[1]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(_training_texts(), trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.TemplateProcessing(
        single=f"{specials[0]} $A {specials[1]}", special_tokens=[(s, tok.token_to_id(s)) for s in specials])
    tok.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=specials[0], eos_token=specials[1],
                                        unk_token=specials[1], pad_token=specials[1], model_max_length=32)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(2)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(config).eval().save_pretrained(folder)
    return folder


def write_digits(folder: Path, count: int | None = None) -> tuple[Path, "np.ndarray", "np.ndarray"]:
    """scikit-learn's bundled handwritten digits (8 x 8, values 0-16) as greyscale PNG files, one
    sub-folder per digit (folder/3/0003.png): (folder, the 8-bit pixels in file order, the digits)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * 255 / 16).astype(np.uint8)[:count]
    targets = digits.target[:count]
    for i, (image, target) in enumerate(zip(pixels, targets)):
        (folder / str(target)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / str(target) / f"{i:04d}.png")
    # Files are read in sorted path order: by digit, then by number.
    order = sorted(range(len(pixels)), key=lambda i: (str(targets[i]), f"{i:04d}"))
    return folder, pixels[order], targets[order]


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, "np.ndarray", "np.ndarray"]:
    """All 1,797 digits as PNG files (see write_digits)."""
    return write_digits(tmp_path_factory.mktemp("digits") / "digits")
