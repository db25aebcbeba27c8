"""Fine-tune a sentence-transformers model on labelled texts and measure what it changed.

``finetune(texts, labels, out)`` splits the texts (seeded, stratified by label), trains with
sentence-transformers' own ``SentenceTransformerTrainer`` and a loss that pulls texts of one
label together and pushes other labels away, and writes a standard sentence-transformers
folder (``SentenceTransformer(out)`` loads it; ``embeddings.models`` fingerprints and caches
it like any local model) with ``finetune_report.json``: on the held-out texts, k-NN label
accuracy and silhouette before and after, the loss per step, the split and the parameters.

Everything is written into a temporary folder beside ``out`` and renamed into place at the
end, so a failure or a stop leaves nothing behind. ``datasets``, ``accelerate`` and torch are
imported only inside ``finetune``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.checks import StopFn
from embeddings.choices import DEFAULT_LOSS, DEFAULT_MODEL, LOSSES
from embeddings.encode import Stopped, encode_texts
from embeddings.errors import InputError, ModelError
from embeddings.models import ModelSpec, fingerprint, fingerprint_folder, open_sentence_transformer
from embeddings.probes import knn_accuracy, silhouette

REPORT_NAME = "finetune_report.json"
# (stage, done, total): stage is "base" (encoding with the base model), "train" (optimizer
# steps) or "tuned" (encoding with the tuned model).
FinetuneProgress = Callable[[str, int, int], None]
KNN_K = 5
# The losses on offer (embeddings.choices.LOSSES). Measured on sample_data/sentences.csv (bundled model, 80/20 split, seed 0,
# 1 epoch, batch 16, learning rate 5e-5), held-out 5-NN accuracy from 0.833 before:
# batch-hard-soft-margin 0.917, in-batch-negatives 0.883, batch-all-triplet 0.867
# (silhouette 0.062 before: 0.144, 0.124, 0.186). The hardest triplet per anchor, with no
# margin to tune, gave the best neighbours, so it is the default.


@dataclass(frozen=True)
class FinetuneResult:
    """The written model folder and its report (the same dict as finetune_report.json)."""

    folder: Path
    report: dict[str, Any]

    @property
    def spec(self) -> str:
        """A model spec for the tuned model (its folder)."""
        return str(self.folder)


# ---------------------------------------------------------------- checks


def check_labels(texts: Sequence[str], labels: Sequence[Any], label_column: str = "label") -> list[str]:
    """Labels as text, one per text; one line naming the problem otherwise."""
    if isinstance(texts, str) or not texts:
        raise InputError("no texts to fine-tune on")
    if len(texts) != len(labels):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels")
    out: list[str] = []
    for i, (text, label) in enumerate(zip(texts, labels)):
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"row {i + 1}: the text is empty")
        if label is None or (isinstance(label, float) and np.isnan(label)) or not str(label).strip():
            raise InputError(f"row {i + 1}, column '{label_column}': no label")
        out.append(str(label).strip())
    counts: dict[str, int] = {}
    for label in out:
        counts[label] = counts.get(label, 0) + 1
    if len(counts) < 2:
        raise InputError(
            f"column '{label_column}': has one class ({next(iter(counts))!r}); fine-tuning needs texts of at least 2 labels"
        )
    single = [label for label, count in counts.items() if count < 2]
    if single:
        shown = ", ".join(repr(s) for s in single[:5]) + (" ..." if len(single) > 5 else "")
        which = f"class {shown} has a single text" if len(single) == 1 else f"classes {shown} have a single text each"
        raise InputError(
            f"column '{label_column}': {which}; each class needs at least 2 (one to train on, one to hold out)"
        )
    return out


def check_output(out: str | Path, overwrite: bool) -> Path:
    """The output folder: must not exist (unless overwrite) and must not be a file."""
    path = Path(out).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{path}: exists and is a file, not a folder")
        if not overwrite:
            raise InputError(f"{path}: the folder exists; choose another folder, or replace it (overwrite)")
    return path


def split(labels: Sequence[str], test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: (train rows, test rows), each sorted."""
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise InputError(f"test size must be a fraction between 0 and 1, not {test_size!r}")
    n = len(labels)
    classes = len(set(labels))
    held_out = int(np.ceil(test_size * n))
    if held_out < classes or n - held_out < classes:
        raise InputError(
            f"test size {test_size} holds out {held_out} of {n} texts, but a stratified split needs at least "
            f"one text per class ({classes}) on each side; hold out another share of the texts"
        )
    rows = np.arange(n)
    train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=list(labels))
    return np.sort(train), np.sort(test)


def _check_trainable_split(train_labels: list[str], loss: str, label_column: str) -> None:
    """A triplet loss needs pairs: at least 2 classes with 2 or more training texts each."""
    counts: dict[str, int] = {}
    for label in train_labels:
        counts[label] = counts.get(label, 0) + 1
    paired = sum(1 for count in counts.values() if count >= 2)
    if loss != "in-batch-negatives" and paired < 2:
        raise InputError(
            f"column '{label_column}': after holding texts out, {paired} class(es) keep 2 or more training texts; "
            "a triplet loss needs at least 2 such classes (add texts, or hold out fewer)"
        )


def _check_model(spec: ModelSpec) -> None:
    if spec.variant is not None:
        raise ModelError(f"model {spec.raw}: is a variant (@{spec.variant.replace(':', '')}); fine-tune the model itself")


# ---------------------------------------------------------------- training


def _training_dataset(texts: list[str], codes: np.ndarray, loss: str, seed: int) -> Any:
    from datasets import Dataset as HFDataset

    if loss == "in-batch-negatives":
        # (anchor, positive) pairs: each text with another text of its label. Other pairs in a
        # batch are the negatives (some share the label: a cost of this loss, measured).
        rng = random.Random(seed)
        by_label: dict[int, list[int]] = {}
        for i, code in enumerate(codes):
            by_label.setdefault(int(code), []).append(i)
        anchors, positives = [], []
        for i, code in enumerate(codes):
            others = [j for j in by_label[int(code)] if j != i]
            anchors.append(texts[i])
            positives.append(texts[rng.choice(others)])
        return HFDataset.from_dict({"anchor": anchors, "positive": positives})
    return HFDataset.from_dict({"text": texts, "label": [int(c) for c in codes]})


def _loss(name: str, model: Any) -> tuple[Any, str]:
    """The loss module and the batch sampler it needs."""
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import losses

    if name == "batch-all-triplet":
        return losses.BatchAllTripletLoss(model), BatchSamplers.GROUP_BY_LABEL
    if name == "batch-hard-soft-margin":
        return losses.BatchHardSoftMarginTripletLoss(model), BatchSamplers.GROUP_BY_LABEL
    if name == "in-batch-negatives":
        return losses.MultipleNegativesRankingLoss(model), BatchSamplers.NO_DUPLICATES
    raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


def _callback(progress: FinetuneProgress | None, stop: StopFn | None, losses_seen: list[dict]) -> Any:
    """Reports steps, records the loss of each logged step, and stops between steps when asked."""
    from transformers import TrainerCallback

    class ProgressAndStop(TrainerCallback):
        stopped = False

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers' signature
            if progress is not None:
                progress("train", int(state.global_step), int(state.max_steps))
            if stop is not None and stop():
                self.stopped = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "loss" in logs:
                losses_seen.append({"step": int(state.global_step), "epoch": float(state.epoch or 0.0),
                                    "loss": float(logs["loss"])})
            return control

    return ProgressAndStop()


def _train(model: Any, texts: list[str], codes: np.ndarray, params: dict[str, Any],
           progress: FinetuneProgress | None, stop: StopFn | None) -> tuple[list[dict], bool]:
    """Train `model` in place; (loss per step, stopped)."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    class _QuietTrainer(SentenceTransformerTrainer):
        # The model-card callback copies training texts into the card's examples (README.md):
        # the user's data stays out of the written folder, and its progress bar off the terminal.
        def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
            return None

    loss_module, sampler = _loss(params["loss"], model)
    dataset = _training_dataset(texts, codes, params["loss"], params["seed"])
    losses_seen: list[dict] = []
    callback = _callback(progress, stop, losses_seen)
    with tempfile.TemporaryDirectory(prefix="embeddings-finetune-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=params["epochs"],
            per_device_train_batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            warmup_ratio=params["warmup_ratio"],
            seed=params["seed"],
            data_seed=params["seed"],
            batch_sampler=sampler,
            logging_steps=1,
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=str(model.device) == "cpu",
        )
        trainer = _QuietTrainer(
            model=model, args=args, train_dataset=dataset, loss=loss_module, callbacks=[callback],
        )
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # our progress replaces its printed log lines
        trainer.train()
    return losses_seen, bool(callback.stopped)


# ---------------------------------------------------------------- measuring


def separation(vectors: np.ndarray, labels: list[str], train: np.ndarray, test: np.ndarray, k: int = KNN_K) -> dict:
    """How well the held-out texts' vectors separate their labels (JSON-ready figures)."""
    test_labels = [labels[i] for i in test]
    return {
        "knn_accuracy": knn_accuracy(
            vectors[test], test_labels, reference_vectors=vectors[train],
            reference_labels=[labels[i] for i in train], k=k,
        ),
        "knn_accuracy_within_test": knn_accuracy(vectors[test], test_labels, k=min(k, len(test) - 1)),
        "silhouette": silhouette(vectors[test], test_labels),
    }


def _stage(progress: FinetuneProgress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _encode_tuned(model: Any, texts: list[str], batch_size: int, progress: FinetuneProgress | None) -> np.ndarray:
    chunk = max(batch_size * 8, 64)
    out = []
    model.eval()
    for start in range(0, len(texts), chunk):
        out.append(np.asarray(model.encode(texts[start : start + chunk], batch_size=batch_size,
                                           convert_to_numpy=True, show_progress_bar=False), dtype=np.float32))
        if progress is not None:
            progress("tuned", min(len(texts), start + chunk), len(texts))
    return np.concatenate(out)


def _cache_tuned(folder: Path, texts: list[str], vectors: np.ndarray) -> None:
    """Store the tuned vectors under the folder's fingerprint: opening the result costs no encoding."""
    from embeddings.cache import shared_cache

    fp = fingerprint_folder(folder)  # the same after the rename: it hashes contents, not paths
    shared_cache().put_many(fp, "text", ((t, v, None) for t, v in zip(texts, vectors)))


# ---------------------------------------------------------------- the job


def finetune(
    texts: Sequence[str],
    labels: Sequence[Any],
    out: str | Path,
    *,
    model: str | ModelSpec = DEFAULT_MODEL,
    epochs: int = 1,
    test_size: float = 0.2,
    seed: int = 0,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    loss: str = DEFAULT_LOSS,
    label_column: str = "label",
    overwrite: bool = False,
    cache: bool = True,
    device: str | None = None,
    progress: FinetuneProgress | None = None,
    stop: StopFn | None = None,
    trust_remote_code: bool = False,
) -> FinetuneResult:
    """Fine-tune `model` on (texts, labels) and write it with its report to folder `out`.

    Raises InputError (one line) for bad input before anything is written, and ``Stopped``
    when `stop()` asked training to end (nothing is written then either).
    """
    started = time.perf_counter()
    texts = [t for t in texts] if not isinstance(texts, str) else texts
    names = check_labels(texts, labels, label_column)
    out_path = check_output(out, overwrite)
    for name, value, low in (("epochs", epochs, 1), ("batch size", batch_size, 4)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{name} must be a whole number of at least {low}, not {value!r}")
    if loss not in LOSSES:
        raise InputError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if loss != "in-batch-negatives" and batch_size % 2:
        raise InputError(f"batch size must be even for {loss} (texts are drawn two per label), not {batch_size}")
    spec = ModelSpec.parse(model, trust_remote_code=trust_remote_code)
    _check_model(spec)
    train_rows, test_rows = split(names, test_size, seed)
    _check_trainable_split([names[i] for i in train_rows], loss, label_column)
    classes = sorted(set(names))
    codes = np.array([classes.index(n) for n in names])

    from embeddings.models import pick_device

    st = open_sentence_transformer(spec, pick_device(device))
    base_fp = fingerprint(spec)
    params = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "loss": loss,
              "warmup_ratio": 0.1, "seed": seed, "test_size": test_size, "knn_k": KNN_K}
    base = encode_texts(texts, spec, batch_size=32, cache=cache, device=device, progress=_stage(progress, "base"),
                        stop=stop).vectors
    before = separation(base, names, train_rows, test_rows)

    _seed_everything(seed)
    train_started = time.perf_counter()
    losses_seen, stopped = _train(st, [texts[i] for i in train_rows], codes[train_rows], params, progress, stop)
    train_seconds = time.perf_counter() - train_started
    if stopped:
        raise Stopped("fine-tuning stopped before it finished; nothing was written")
    tuned = _encode_tuned(st, texts, 32, progress)
    after = separation(tuned, names, train_rows, test_rows)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".part", dir=out_path.parent))
    try:
        st.save(str(tmp))
        report = {
            "model": spec.name,
            "base_model": spec.raw,
            "base_fingerprint": base_fp,
            "fingerprint": fingerprint_folder(tmp),
            "label_column": label_column,
            "classes": {c: int(np.sum(codes == i)) for i, c in enumerate(classes)},
            "split": {"seed": seed, "test_size": test_size, "stratified": True, "train": len(train_rows),
                      "test": len(test_rows), "test_rows": [int(r) for r in test_rows]},
            "parameters": params,
            "before": before,
            "after": after,
            "loss_per_step": losses_seen,
            "seconds": {"train": round(train_seconds, 3), "total": round(time.perf_counter() - started, 3)},
            "versions": _versions(),
        }
        (tmp / REPORT_NAME).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        if cache:
            _cache_tuned(tmp, texts, tuned)
        _move_into_place(tmp, out_path, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FinetuneResult(out_path, report)


def _move_into_place(tmp: Path, out_path: Path, overwrite: bool) -> None:
    if out_path.exists():
        if not overwrite:
            raise InputError(f"{out_path}: the folder appeared while training; nothing was replaced")
        old = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".old", dir=out_path.parent))
        os.replace(out_path, old / out_path.name)
        os.replace(tmp, out_path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_path)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _versions() -> dict[str, str]:
    import sentence_transformers
    import torch
    import transformers

    return {"sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
            "torch": torch.__version__}


def read_report(folder: str | Path) -> dict[str, Any]:
    """The finetune_report.json of a tuned model folder."""
    path = Path(folder) / REPORT_NAME
    if not path.is_file():
        raise InputError(f"{folder}: holds no {REPORT_NAME}; is it a folder written by finetune?")
    return json.loads(path.read_text(encoding="utf-8"))
