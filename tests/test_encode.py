"""Encoding: text vectors against bare sentence-transformers, variants, tokens, vocabulary, cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.cache import VectorCache
from embeddings.encode import (
    Stopped,
    encode_texts,
    token_embeddings,
    tokenize,
    vocabulary_embeddings,
)
from embeddings.errors import InputError
from embeddings.models import bundled_path, load_model

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "A short one.",
    "Transformers map text to vectors; this sentence is a good deal longer than the first one was.",
    "Ünïcödé, emoji 🙂 and 日本語 mixed in",
    "A short one.",  # duplicate: encoded once, returned twice
    "x",
    "Tabs\tand\nnewlines inside",
]


def in_new_process(statement: str, report: str, cache: Path) -> dict:
    """Run `statement` in a fresh Python on the same vector cache; return the JSON of `report`."""
    script = (
        "import sys, json\nfrom embeddings.encode import encode_texts, token_embeddings\n"
        f"{statement}\nprint(json.dumps({report}))\n"
    )
    env = {**os.environ, "EMBEDDINGS_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def manual_mean_pooling(folder: Path, texts: list[str], layer: int = -1) -> np.ndarray:
    """What a plain transformers model's mean-pooled vectors are, computed with transformers directly."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModel.from_pretrained(folder).eval()
    out = []
    for text in texts:
        enc = tokenizer([text], return_tensors="pt", truncation=True, max_length=tokenizer.model_max_length)
        with torch.inference_mode():
            hidden = model(**enc, output_hidden_states=True).hidden_states[layer][0]
        out.append(hidden.mean(dim=0).numpy())
    return np.stack(out)


def test_default_model_matches_bare_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    bare = SentenceTransformer(str(bundled_path()), device="cpu").encode(TEXTS, batch_size=2)
    ours = encode_texts(TEXTS, batch_size=2)
    assert ours.vectors.shape == (len(TEXTS), 384)
    assert ours.vectors.dtype == np.float32
    np.testing.assert_allclose(ours.vectors, bare, atol=1e-5)
    assert (ours.level, ours.model) == ("text", "all-MiniLM-L6-v2")
    np.testing.assert_array_equal(ours.vectors[0], ours.vectors[3])


def test_normalize_progress_and_cache_round_trip(isolated_cache: Path) -> None:
    calls: list[tuple[int, int]] = []
    first = encode_texts(TEXTS, normalize=True, batch_size=1, progress=lambda d, t: calls.append((d, t)))
    np.testing.assert_allclose(np.linalg.norm(first.vectors, axis=1), 1.0, atol=1e-6)
    assert calls[-1] == (len(TEXTS), len(TEXTS))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert first.cached == 0
    assert VectorCache(isolated_cache).count(first.fingerprint) == len(set(TEXTS))
    again = encode_texts(list(reversed(TEXTS)), normalize=True)
    assert again.cached == len(TEXTS)
    np.testing.assert_array_equal(again.vectors, first.vectors[::-1])


def test_no_cache_writes_nothing(isolated_cache: Path) -> None:
    encode_texts(TEXTS[:2], cache=False)
    assert not isolated_cache.exists() or VectorCache(isolated_cache).count() == 0


def test_cached_run_in_a_new_process_loads_no_model(isolated_cache: Path) -> None:
    encode_texts(TEXTS)
    report = in_new_process(
        f"e = encode_texts({TEXTS!r})",
        "{'torch': 'torch' in sys.modules, 'cached': e.cached, 'first': e.vectors[1].tolist()}",
        isolated_cache,
    )
    assert report["torch"] is False
    assert report["cached"] == len(TEXTS)
    np.testing.assert_array_equal(np.float32(report["first"]), encode_texts(TEXTS).vectors[1])


def test_stop_ends_the_encoding_between_batches() -> None:
    seen = []
    with pytest.raises(Stopped):
        encode_texts([f"text number {i}" for i in range(600)], batch_size=8,
                     progress=lambda d, t: seen.append(d), stop=lambda: len(seen) > 1, cache=False)
    assert seen and seen[-1] < 600


@pytest.mark.parametrize("bad, needle", [([], "no texts"), ("one string", "list of strings"), (["a", 3], "text 1")])
def test_bad_texts_are_input_errors(bad, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        encode_texts(bad)


def test_plain_transformers_models_mean_pool(tiny_bert_dir: Path, tiny_gpt2_dir: Path) -> None:
    for folder, width in ((tiny_bert_dir, 32), (tiny_gpt2_dir, 48)):
        ours = encode_texts(TEXTS, str(folder))
        assert ours.vectors.shape == (len(TEXTS), width)
        np.testing.assert_allclose(ours.vectors, manual_mean_pooling(folder, TEXTS), atol=1e-4)
        # the last layer as a variant is the same vectors by another road
        np.testing.assert_allclose(encode_texts(TEXTS, f"{folder}@layer2").vectors, ours.vectors, atol=1e-4)


def test_layer_variant_pools_that_layer(tiny_bert_dir: Path) -> None:
    ours = encode_texts(TEXTS, f"{tiny_bert_dir}@layer1")
    np.testing.assert_allclose(ours.vectors, manual_mean_pooling(tiny_bert_dir, TEXTS, layer=1), atol=1e-4)
    assert ours.model.endswith("@layer1")


def test_static_variant_is_a_bag_of_input_table_rows(tiny_bert_dir: Path) -> None:
    model = load_model(str(tiny_bert_dir))
    table = model.transformer.get_input_embeddings().weight.detach().numpy()
    text = "the quick brown fox"
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    static = encode_texts([text], f"{tiny_bert_dir}@static").vectors[0]
    np.testing.assert_allclose(static, table[ids].mean(axis=0), atol=1e-6)


def test_tokenize_bert_and_gpt2(tiny_bert_dir: Path, tiny_gpt2_dir: Path) -> None:
    text = "Hello, tokenizer world! 🙂"
    bert = tokenize(text, str(tiny_bert_dir))
    assert bert.special[0] and bert.special[-1] and not any(bert.special[1:-1])
    assert bert.tokens[0] == "[CLS]" and bert.tokens[-1] == "[SEP]"
    for token, (start, end), special in zip(bert.tokens, bert.offsets, bert.special):
        if not special and token != "[UNK]":
            assert text[start:end].lower() == token.removeprefix("##")
    gpt2 = tokenize(text, str(tiny_gpt2_dir))
    assert not any(gpt2.special)
    assert gpt2.ids == load_model(str(tiny_gpt2_dir)).tokenizer(text)["input_ids"]
    starts = [s for s, _ in gpt2.offsets]
    assert starts == sorted(starts) and all(0 <= s <= e <= len(text) for s, e in gpt2.offsets)
    covered = {i for s, e in gpt2.offsets for i in range(s, e)}
    assert covered == {i for i, ch in enumerate(text) if not ch.isspace()}  # byte pieces of 🙂 share its span
    table = gpt2.table()
    assert list(table.columns) == ["position", "token", "id", "start", "end", "special", "text"]
    assert len(table) == len(gpt2.tokens)


def test_tokenize_refuses_empty_text() -> None:
    with pytest.raises(InputError, match="empty"):
        tokenize("   ")


def test_token_vectors_are_that_layer_of_the_model(tiny_bert_dir: Path) -> None:
    import torch

    texts = ["the cat sat", "a dog ran home"]
    emb = token_embeddings(texts, str(tiny_bert_dir), layer=1)
    model = load_model(str(tiny_bert_dir))
    assert emb.level == "token" and emb.layer == 1
    assert list(emb.rows.columns) == ["text_index", "position", "token", "token_id", "start", "end", "special"]
    start = 0
    for index, text in enumerate(texts):
        enc = model.tokenizer([text], return_tensors="pt")
        with torch.inference_mode():
            hidden = model.transformer(**enc, output_hidden_states=True).hidden_states[1][0].numpy()
        rows = emb.rows[emb.rows.text_index == index]
        assert rows.position.tolist() == list(range(len(rows)))
        np.testing.assert_allclose(emb.vectors[start : start + len(rows)], hidden[1:-1], atol=1e-4)  # no [CLS]/[SEP]
        for _, row in rows.iterrows():
            assert text[row.start : row.end] == row.token.removeprefix("##")
        start += len(rows)
    with_specials = token_embeddings(texts, str(tiny_bert_dir), layer=1, include_special=True)
    assert len(with_specials) == len(emb) + 2 * len(texts)


def test_long_texts_lose_no_tokens(tiny_bert_dir: Path, tiny_gpt2_dir: Path) -> None:
    long_text = " ".join(["the quick brown fox jumps over the lazy dog"] * 40)  # far past a 48-64 token window
    for folder in (tiny_bert_dir, tiny_gpt2_dir):
        tokenizer = load_model(str(folder)).tokenizer
        expected = tokenizer(long_text, add_special_tokens=False)["input_ids"]
        emb = token_embeddings([long_text, "short"], str(folder), layer=-1)
        rows = emb.rows[emb.rows.text_index == 0]
        assert rows.token_id.tolist() == expected
        assert rows.end.max() == len(long_text)


def test_token_vectors_are_cached_with_their_rows(tiny_gpt2_dir: Path) -> None:
    first = token_embeddings(TEXTS, str(tiny_gpt2_dir), layer=0)
    second = token_embeddings(TEXTS, str(tiny_gpt2_dir), layer=0)
    assert second.cached == len(TEXTS)
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert first.rows.equals(second.rows)
    other_layer = token_embeddings(TEXTS, str(tiny_gpt2_dir), layer=2)
    assert other_layer.cached == 0
    assert not np.allclose(other_layer.vectors, first.vectors)


def test_token_layer_out_of_range(tiny_bert_dir: Path) -> None:
    with pytest.raises(InputError, match="layers 0..2"):
        token_embeddings(["a b"], str(tiny_bert_dir), layer=7)


def test_vocabulary_rows_are_the_input_table(tiny_bert_dir: Path, tiny_gpt2_dir: Path) -> None:
    for folder in (tiny_bert_dir, tiny_gpt2_dir):
        model = load_model(str(folder))
        table = model.transformer.get_input_embeddings().weight.detach().numpy()
        top = vocabulary_embeddings(str(folder), vocab_size=50)
        assert 0 < len(top) <= 50 and top.level == "vocab"
        np.testing.assert_array_equal(top.vectors, table[top.rows.token_id.to_numpy()])
        assert all(word.isalpha() and len(word) > 1 for word in top.rows.token)
        assert top.rows.token.str.lower().is_unique
    words = vocabulary_embeddings(tokens=["king", "queen", "king", " ", "tokenization"])
    assert words.rows.token.tolist() == ["king", "queen", "tokenization"]
    assert words.rows.pieces.tolist()[:2] == [1, 1] and words.rows.pieces.iloc[2] > 1
    table = load_model("minilm").transformer.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_array_equal(words.vectors[0], table[words.rows.token_id.iloc[0]])
    with pytest.raises(InputError):
        vocabulary_embeddings(tokens=["  "])


def test_embeddings_subset_keeps_rows_in_step(tiny_bert_dir: Path) -> None:
    emb = token_embeddings(["one two three", "four five"], str(tiny_bert_dir))
    part = emb.subset([3, 0])
    np.testing.assert_array_equal(part.vectors, emb.vectors[[3, 0]])
    assert part.rows.token.tolist() == emb.rows.token.iloc[[3, 0]].tolist()


def test_worker_processes_give_the_same_vectors(clean_main: None) -> None:
    texts = [f"sentence {i}: " + "word " * (i % 17) for i in range(160)]
    token_embeddings(texts[:2], cache=False)  # leaves transformers' (unpicklable) hooks on the model
    single = encode_texts(texts, cache=False, backend="torch")
    pooled = encode_texts(texts, cache=False, processes=2, backend="torch")  # the pool is torch's
    np.testing.assert_allclose(pooled.vectors, single.vectors, atol=1e-5)
    with pytest.raises(InputError, match="processes"):
        encode_texts(texts[:2], cache=False, processes=0)


def test_cached_token_vectors_of_the_last_layer_load_no_model(isolated_cache: Path) -> None:
    first = token_embeddings(TEXTS[:3])  # layer -1: the last, resolved from config.json
    report = in_new_process(
        f"e = token_embeddings({TEXTS[:3]!r})",
        "{'torch': 'torch' in sys.modules, 'layer': e.layer, 'n': len(e), 'cached': e.cached}",
        isolated_cache,
    )
    assert report == {"torch": False, "layer": 6, "n": len(first), "cached": 3}
    assert first.layer == 6
