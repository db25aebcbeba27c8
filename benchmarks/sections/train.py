"""train: every layer in one pass against encoding once; fine-tuning with the defaults on the sample
sentences, on 2,000 docstrings labelled by module (and 1,000 in a full run) and on Debian packages
labelled by section: held-out accuracy of the written folder before and after, and the time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from benchmarks.corpus import packages_by_section, real_texts
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


def _bare_accuracy(folder: Path, texts: list[str], labels: list[str], report: dict) -> float:
    """Held-out k-NN accuracy of the written folder, as a checker measures it: plain sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    from embeddings.probes import knn_accuracy

    vectors = SentenceTransformer(str(folder), device="cpu").encode(texts, batch_size=32, convert_to_numpy=True)
    test = report["split"]["test_rows"]
    train = sorted(set(range(len(texts))) - set(test))
    return knn_accuracy(vectors[test], [labels[i] for i in test], reference_vectors=vectors[train],
                        reference_labels=[labels[i] for i in train], k=report["parameters"]["knn_k"])


def _finetune_row(name: str, size: str, texts: list[str], labels: list[str], out: Path, limit_s: float | None,
                  cfg: Config, gain: float | None = 0.02) -> dict:
    """fine-tune with the defaults; a row with the held-out accuracy base -> written folder, and the time."""
    import resource

    from embeddings.finetune import finetune

    if out.exists():
        shutil.rmtree(out)
    stages: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages[stage] = stages.get(stage, 0) + 1

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    seconds, result = timed(lambda: finetune(texts, labels, out, cache=False, progress=progress))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    report = result.report
    before, after = report["before"]["knn_accuracy"], report["after"]["knn_accuracy"]
    bare = _bare_accuracy(out, texts, labels, report)
    runs = "; ".join(f"{c['loss']} " + (c["skipped"] or "/".join(f"{e['validation_accuracy']:.3f}"
                                                                   for e in c["evaluations"])
                                        + f" ({c['seconds']:.0f} s" + (f", {c['stopped']}" if c.get("stopped") else "")
                                        + ")") for c in report["candidates"])
    row = add(Row(
        "train", name, size, seconds, "s", target=" and ".join(
            t for t in ((f"< {limit_s:.0f} s" if limit_s else ""), (f"held-out 5-NN +{gain:.2f}" if gain else "")) if t)
        or None,
        note=(f"held-out k-NN accuracy (k={report['parameters']['knn_k']}) {before:.3f} -> {after:.3f} "
              f"(SentenceTransformer(folder): {bare:.3f}), silhouette {report['before']['silhouette']:.3f} -> "
              f"{report['after']['silhouette']:.3f}; {report['verdict']}; validation by epoch: {runs}; "
              f"base validation {report['choice']['base_validation_accuracy']:.3f}; "
              f"{report['split']['fit']} fit / {report['split']['validation']} validation / {report['split']['test']} "
              f"held out, {report['split']['train_only_classes']} single-text classes; training "
              f"{report['seconds']['train']:.1f} s on {report['parameters']['torch_threads']} torch thread(s) "
              f"(load of other work {report['parameters']['load_of_others']}); CPU {cpu_seconds:.0f} s (quiet 2-core estimate "
              f"{cpu_seconds / 2:.0f}-{cpu_seconds / 1.6:.0f} s); progress calls per stage {stages}"),
    ))
    checks = [abs(bare - after) < 1e-6]
    if limit_s:
        checks.append(seconds < limit_s or cpu_seconds / 1.6 < limit_s)
    if gain:
        checks.append(bare >= before + gain)
    row.passed = None if cfg.quick else all(checks)
    figures = {k: report[k] for k in ("before", "after", "split", "parameters", "seconds", "choice", "verdict",
                                      "candidates")}
    figures.update(bare_after=bare, wall_seconds=seconds, cpu_seconds=cpu_seconds, load1=os.getloadavg()[0])
    figures["split"] = {k: v for k, v in figures["split"].items() if not k.endswith("_rows")}
    EXTRA.setdefault("finetune", {})[f"{name} [{size}]"] = figures
    return figures


def bench_finetune_sentences(cfg: Config, workdir: Path) -> None:
    import pandas as pd

    log("train: fine-tune the bundled model on sample_data/sentences.csv (topic, defaults)")
    frame = pd.read_csv(ROOT / "sample_data" / "sentences.csv")
    _finetune_row("fine-tune (defaults), whole job", "300 sentences", frame["text"].tolist(),
                  frame["topic"].tolist(), workdir / "tuned-sentences", 90, cfg, gain=None)


def bench_finetune_docstrings(cfg: Config, workdir: Path) -> None:
    n = 400 if cfg.quick else 2000
    log(f"train: fine-tune on {n} docstrings labelled by module, and on Debian packages by section")
    texts, labels = docstrings_by_module(n, workdir)
    _finetune_row("fine-tune (defaults), whole job", f"{n} docstrings, {len(set(labels))} modules", texts, labels,
                  workdir / "tuned-docstrings", None, cfg)
    texts, labels = packages_by_section(workdir, 40 if cfg.quick else 150)
    _finetune_row("fine-tune (defaults), whole job", f"{len(texts)} Debian packages, {len(set(labels))} sections",
                  texts, labels, workdir / "tuned-packages", None, cfg)
    if not cfg.quick:
        texts, labels = docstrings_by_module(1000, workdir)
        _finetune_row("fine-tune (defaults), whole job", f"1000 docstrings, {len(set(labels))} modules", texts,
                      labels, workdir / "tuned-docstrings-1000", 300, cfg, gain=None)
