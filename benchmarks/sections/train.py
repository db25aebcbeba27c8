"""train: every layer in one pass against encoding once; fine-tuning on the sample sentences and on
2,000 docstrings labelled by module."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.corpus import real_texts
from benchmarks.measure import EXTRA, ROOT, Config, Row, add, log, timed


def docstrings_by_module(n: int, workdir: Path, classes: int = 12, seed: int = 0) -> tuple[list[str], list[str]]:
    """n docstrings labelled by top-level module: the `classes` modules with most docstrings, a
    seeded sample of n texts spread over them in proportion (stratified)."""
    import pandas as pd

    real_texts(1, workdir)  # writes docstrings.csv
    frame = pd.read_csv(workdir / "docstrings.csv", dtype=str, keep_default_na=False)
    frame["label"] = frame["module"].str.split(".").str[0]
    frame = frame.drop_duplicates("text")
    top = frame["label"].value_counts().index[:classes]
    frame = frame[frame["label"].isin(top)]
    share = min(1.0, n / len(frame))
    keep = frame.groupby("label").sample(frac=share, random_state=seed).index
    chosen = frame.loc[keep].sample(frac=1.0, random_state=seed).head(n)
    return chosen["text"].tolist(), chosen["label"].tolist()


def bench_train(cfg: Config, workdir: Path) -> None:
    bench_layers_pass(cfg, workdir)
    bench_finetune_sentences(cfg, workdir)
    bench_finetune_docstrings(cfg, workdir)


def bench_layers_pass(cfg: Config, workdir: Path) -> None:
    n = 200 if cfg.quick else 1000
    log(f"train: every layer of {n} docstrings in one pass vs encode_texts once")
    from embeddings.encode import encode_texts
    from embeddings.layers import layer_vectors

    texts = real_texts(n, workdir)
    encode_texts(texts[:64], cache=False)  # load and warm the model for both
    layer_vectors(texts[:64], cache=False)
    ours, baseline = [], []
    for i in range(cfg.repeats):
        order = ("encode", "layers") if i % 2 == 0 else ("layers", "encode")
        for which in order:
            if which == "encode":
                baseline.append(timed(lambda: encode_texts(texts, batch_size=32, cache=False))[0])
            else:
                seconds, walk = timed(lambda: layer_vectors(texts, batch_size=32, cache=False))
                ours.append(seconds)
    row = add(Row(
        "train", f"all {walk.count} layers, one pass (layer_vectors, cache=False)", f"{n} texts", None, "s",
        "encode_texts once (cache=False)", runs=ours, baseline_runs=baseline, target="≤ 1.2x encoding once",
        note=f"{walk.count} layers x {walk.layers[0].shape[1]} dims per text",
    ))
    row.passed = None if cfg.quick else row.value <= 1.2 * row.baseline


def _finetune_row(name: str, size: str, texts: list[str], labels: list[str], out: Path, limit_s: float,
                  cfg: Config) -> None:
    from embeddings.finetune import finetune

    if out.exists():
        shutil.rmtree(out)
    stages: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages[stage] = stages.get(stage, 0) + 1

    seconds, result = timed(lambda: finetune(texts, labels, out, cache=False, progress=progress))
    report = result.report
    before, after = report["before"]["knn_accuracy"], report["after"]["knn_accuracy"]
    row = add(Row(
        "train", name, size, seconds, "s", target=f"< {limit_s:.0f} s, held-out k-NN accuracy up",
        note=(f"held-out k-NN accuracy (k={report['parameters']['knn_k']}) {before:.3f} -> {after:.3f}, "
              f"silhouette {report['before']['silhouette']:.3f} -> {report['after']['silhouette']:.3f}; "
              f"{report['split']['train']} trained / {report['split']['test']} held out, "
              f"{len(report['loss_per_step'])} steps, training {report['seconds']['train']:.1f} s; "
              f"progress calls per stage {stages}"),
    ))
    row.passed = None if cfg.quick else (seconds < limit_s and after > before)
    EXTRA.setdefault("finetune", {})[size] = {k: report[k] for k in ("before", "after", "split", "parameters",
                                                                     "seconds")}


def bench_finetune_sentences(cfg: Config, workdir: Path) -> None:
    import pandas as pd

    log("train: fine-tune the bundled model on sample_data/sentences.csv (topic, 80/20, defaults)")
    frame = pd.read_csv(ROOT / "sample_data" / "sentences.csv")
    _finetune_row("fine-tune (defaults), whole job", "300 sentences", frame["text"].tolist(),
                  frame["topic"].tolist(), workdir / "tuned-sentences", 90, cfg)


def bench_finetune_docstrings(cfg: Config, workdir: Path) -> None:
    n = 400 if cfg.quick else 2000
    log(f"train: fine-tune on {n} docstrings labelled by module")
    texts, labels = docstrings_by_module(n, workdir)
    _finetune_row("fine-tune (defaults), whole job", f"{n} docstrings, {len(set(labels))} modules", texts, labels,
                  workdir / "tuned-docstrings", 300, cfg)
