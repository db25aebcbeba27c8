"""Fine-tune a sentence-transformers model on labelled texts, keep it only if it validates better.

``finetune(texts, labels, out)`` holds out a seeded, stratified share of the texts to measure the
result (classes with a single text train but are not held out), carves a validation share from
the rest, and trains with sentence-transformers' own ``SentenceTransformerTrainer``. Each loss of
``LOSS_CANDIDATES`` (or the one asked for) trains from the base weights for up to ``epochs``
epochs, one epoch at a time, by successive halving: every loss trains its first epoch; after
every epoch the validation texts are classified by their nearest training texts (k-NN
accuracy), and a loss trains on only while it is within TRAILING_MARGIN of the best loss after
as many epochs, among the KEEP_GOING best, and still improving (PATIENCE). Each loss keeps its
optimizer and learning-rate schedule from epoch to epoch, so its epochs are those of one
uninterrupted run, and its best epoch's weights are kept. The loss and epoch that validate
best win, and only if they beat the base model on
validation: otherwise the base model is the result and the report says so ("no gain on
validation; the base model is better for this data"), unless ``keep_tuned`` asks for the tuned
weights anyway. The held-out texts play no part in any choice.

The folder written is a standard sentence-transformers folder (``SentenceTransformer(out)``
loads it; ``embeddings.models`` fingerprints and caches it like any local model) with
``finetune_report.json``: what was chosen and why, every candidate's validation curve, held-out
k-NN accuracy and silhouette before and after, the loss per step, the split and the parameters.

Everything is written into a temporary folder beside ``out`` and renamed into place at the
end, so a failure or a stop leaves nothing behind. ``datasets``, ``accelerate`` and torch are
imported only inside ``finetune``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.checks import StopFn
from embeddings.choices import AUTO_LOSS, DEFAULT_EPOCHS, DEFAULT_LOSS, DEFAULT_MODEL, LOSS_CANDIDATES, LOSSES
from embeddings.encode import Stopped, encode_texts
from embeddings.errors import InputError, ModelError
from embeddings.models import ModelSpec, fingerprint, fingerprint_folder, open_sentence_transformer
from embeddings.probes import knn_accuracy, silhouette

REPORT_NAME = "finetune_report.json"
# (stage, done, total): stage is "base" (encoding with the base model), "train" (optimizer steps
# of the loss being tried), "validate" (encoding the training texts to score an epoch) or "tuned"
# (encoding with the chosen model).
FinetuneProgress = Callable[[str, int, int], None]
KNN_K = 5
# The losses (embeddings.choices.LOSSES); loss="auto" (the default) trains each of
# LOSS_CANDIDATES in turn and the one that validates best wins. See the module docstring and
# README.md ("Fine-tuning that helps, or says it did not") for what each gave.
AUTO = AUTO_LOSS
VALIDATION_SIZE = 0.2  # of the training texts
# Epochs without a better validation accuracy before a loss stops training.
PATIENCE = 1
# Successive halving (see _tournament): after every epoch a loss stops when its best validation
# accuracy trails the best loss's by more than this (about 1 validation text in 100), and only the
# KEEP_GOING best losses train on. On 1,000 texts every loss's first epoch is the price of trying
# it; the later epochs go only to the losses that may still win.
TRAILING_MARGIN = 0.01
KEEP_GOING = 2
# When the machine is busy with other work (the 1-minute load, or the tasks of other processes
# running now where that is lower: see _others_load) at least its core count, torch trains on one
# thread: its threads wait for each other by spinning, and on a shared 2-core machine at load
# 17-20 two threads burnt ~12 CPU seconds per batch-hard step of 16 docstrings against ~1.6 with
# one (about 50 s against 6 s of wall time per step).
BUSY_LOAD_PER_CORE = 1.0
NO_GAIN = "no gain on validation; the base model is better for this data"


@dataclass(frozen=True)
class FinetuneResult:
    """The written model folder and its report (the same dict as finetune_report.json)."""

    folder: Path
    report: dict[str, Any]

    @property
    def spec(self) -> str:
        """A model spec for the written model (its folder)."""
        return str(self.folder)

    @property
    def improved(self) -> bool:
        """True when the folder holds tuned weights that validated better than the base model."""
        return bool(self.report["choice"]["improved"])


def verdict(report: dict[str, Any]) -> str:
    """One plain sentence: what the folder holds and why (for the CLI and the app)."""
    choice = report["choice"]
    k = report["parameters"]["knn_k"]
    base, best = choice["base_validation_accuracy"], choice.get("best_validation_accuracy")
    if choice["improved"]:
        return (f"tuned with {choice['loss']} for {choice['epochs']} epoch(s): validation {k}-NN accuracy "
                f"{base:.3f} -> {best:.3f}")
    tried = "no loss trained" if best is None else f"best tuned {best:.3f} ({choice['best_loss']})"
    if choice["kept"] == "tuned":
        return (f"{NO_GAIN} (validation {k}-NN accuracy: base {base:.3f}, {tried}); the folder holds the tuned "
                "model anyway, as asked")
    return (f"{NO_GAIN} (validation {k}-NN accuracy: base {base:.3f}, {tried}); the folder holds the base model "
            "unchanged (ask to keep the tuned model to write it instead)")


# ---------------------------------------------------------------- checks


def check_labels(texts: Sequence[str], labels: Sequence[Any], label_column: str = "label") -> list[str]:
    """Labels as text, one per text; one line naming the problem otherwise.

    A class with a single text is fine (it trains, and is not held out); the data needs at least
    2 classes of 2 or more texts, so that something can be held out and measured.
    """
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
    counts = _counts(out)
    if len(counts) < 2:
        raise InputError(
            f"column '{label_column}': has one class ({next(iter(counts))!r}); fine-tuning needs texts of at least 2 labels"
        )
    if sum(1 for count in counts.values() if count >= 2) < 2:
        raise InputError(
            f"column '{label_column}': fewer than 2 classes have 2 or more texts; fine-tuning needs at least 2 such "
            "classes (texts to train on and texts held out to measure the result)"
        )
    return out


def _counts(labels: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return counts


def check_output(out: str | Path, overwrite: bool) -> Path:
    """The output folder: must not exist (unless overwrite) and must not be a file."""
    path = Path(out).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{path}: exists and is a file, not a folder")
        if not overwrite:
            raise InputError(f"{path}: the folder exists; choose another folder, or replace it (overwrite)")
    return path


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise InputError(f"{name} must be a fraction between 0 and 1, not {value!r}")
    return float(value)


def split(labels: Sequence[str], test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: (train rows, test rows), each sorted.

    Classes with a single text go to training only. The others are split with scikit-learn's
    stratified split where it can keep every class on both sides, else class by class (each
    class holds out round(test_size x its texts), at least 1, and keeps at least 1).
    """
    from sklearn.model_selection import train_test_split

    _fraction(test_size, "test size")
    labels = list(labels)
    counts = _counts(labels)
    rows = np.array([i for i, label in enumerate(labels) if counts[label] >= 2], dtype=np.int64)
    alone = np.array([i for i, label in enumerate(labels) if counts[label] < 2], dtype=np.int64)
    classes = len({labels[i] for i in rows})
    held_out = int(np.ceil(test_size * len(rows)))
    if classes <= held_out <= len(rows) - classes:
        train, test = train_test_split(rows, test_size=test_size, random_state=seed,
                                       stratify=[labels[i] for i in rows])
    else:
        train, test = _per_class_split(rows, [labels[i] for i in rows], test_size, seed)
    return np.sort(np.concatenate([train, alone])).astype(np.int64), np.sort(test).astype(np.int64)


def _per_class_split(rows: np.ndarray, labels: list[str], share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each class with 2+ rows gives round(share x its rows) rows (at least 1, keeping 1) to the second part."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for row, label in zip(rows, labels):
        by_label.setdefault(label, []).append(int(row))
    first: list[int] = []
    second: list[int] = []
    for label in sorted(by_label):
        members = by_label[label]
        if len(members) < 2:
            first += members
            continue
        members = list(rng.permutation(members))
        take = min(len(members) - 1, max(1, int(round(share * len(members)))))
        second += members[:take]
        first += members[take:]
    return np.array(sorted(first), dtype=np.int64), np.array(sorted(second), dtype=np.int64)


def validation_split(labels: Sequence[str], train_rows: np.ndarray, share: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows to fit on, validation rows), carved class by class from the training rows.

    Classes with a single training text only fit. The validation rows choose the loss and the
    epoch; the held-out test rows are never looked at for that.
    """
    return _per_class_split(np.asarray(train_rows), [labels[i] for i in train_rows], share, seed + 1)


def _trainable(loss: str, fit_labels: list[str]) -> str | None:
    """Why `loss` cannot train on these texts (None when it can)."""
    paired = sum(1 for count in _counts(fit_labels).values() if count >= 2)
    if paired < 2 and loss != "in-batch-negatives":
        return (f"after holding texts out, {paired} class(es) keep 2 or more training texts; {loss} needs at least 2 "
                "such classes")
    if paired < 1:
        return "no class keeps 2 or more training texts to pair"
    return None


def _check_model(spec: ModelSpec) -> None:
    if spec.variant is not None:
        raise ModelError(f"model {spec.raw}: is a variant (@{spec.variant.replace(':', '')}); fine-tune the model itself")


# ---------------------------------------------------------------- training


def _training_dataset(texts: list[str], codes: np.ndarray, loss: str, seed: int) -> Any:
    from datasets import Dataset as HFDataset

    rng = random.Random(seed)
    by_label: dict[int, list[int]] = {}
    for i, code in enumerate(codes):
        by_label.setdefault(int(code), []).append(i)
    if loss == "in-batch-negatives":
        # (anchor, positive) pairs: each text with another text of its label. The other pairs'
        # positives in a batch are the negatives, except those of the anchor's own label (masked
        # in _LabelAwareInBatchNegatives: they are not negatives).
        anchors, positives, labels = [], [], []
        for i, code in enumerate(codes):
            others = [j for j in by_label[int(code)] if j != i]
            if not others:
                continue  # a class with one training text has no pair
            anchors.append(texts[i])
            positives.append(texts[rng.choice(others)])
            labels.append(int(code))
        return HFDataset.from_dict({"anchor": anchors, "positive": positives, "label": labels})
    if loss == "cosine-pairs":
        # SetFit's contrastive pairs, one per text: every other text with a text of its label
        # (similarity 1), the others with a text of another label (similarity 0), shuffled. Two
        # pairs per text (one of each) cost twice the time for no better choice: on 997 packages
        # their first epoch validated 0.742 against 0.761 with one, on 2,000 docstrings 0.753
        # against 0.741, and cosine pairs trailed the winning loss by 0.03 or more either way.
        firsts, seconds, scores = [], [], []
        for i, code in enumerate(codes):
            others = [j for j in by_label[int(code)] if j != i]
            if i % 2 == 0 and others:
                firsts.append(texts[i])
                seconds.append(texts[rng.choice(others)])
                scores.append(1.0)
                continue
            j = rng.randrange(len(codes))
            while codes[j] == code:
                j = rng.randrange(len(codes))
            firsts.append(texts[i])
            seconds.append(texts[j])
            scores.append(0.0)
        order = list(range(len(firsts)))
        rng.shuffle(order)
        return HFDataset.from_dict({"sentence1": [firsts[i] for i in order], "sentence2": [seconds[i] for i in order],
                                    "score": [scores[i] for i in order]})
    return HFDataset.from_dict({"text": texts, "label": [int(c) for c in codes]})


def _label_aware_in_batch_negatives(model: Any, scale: float = 20.0) -> Any:
    """MultipleNegativesRankingLoss over (anchor, positive) pairs, with same-label in-batch "negatives" masked."""
    import torch
    from torch import nn

    class _LabelAwareInBatchNegatives(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, sentence_features: Any, labels: Any) -> Any:
            anchors, positives = (self.model(features)["sentence_embedding"] for features in sentence_features)
            scores = nn.functional.normalize(anchors, dim=-1) @ nn.functional.normalize(positives, dim=-1).T * scale
            same = labels[:, None] == labels[None, :]
            same.fill_diagonal_(False)
            scores = scores.masked_fill(same, torch.finfo(scores.dtype).min)
            return nn.functional.cross_entropy(scores, torch.arange(len(scores), device=scores.device))

    return _LabelAwareInBatchNegatives()


def _loss(name: str, model: Any) -> tuple[Any, str]:
    """The loss module and the batch sampler it needs."""
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import losses

    if name == "batch-all-triplet":
        return losses.BatchAllTripletLoss(model), BatchSamplers.GROUP_BY_LABEL
    if name == "batch-hard-soft-margin":
        return losses.BatchHardSoftMarginTripletLoss(model), BatchSamplers.GROUP_BY_LABEL
    if name == "in-batch-negatives":
        return _label_aware_in_batch_negatives(model), BatchSamplers.BATCH_SAMPLER
    if name == "cosine-pairs":
        return losses.CosineSimilarityLoss(model), BatchSamplers.BATCH_SAMPLER
    raise InputError(f"unknown loss {name!r}; choose one of {', '.join((AUTO,) + LOSSES)}")


@dataclass
class _Run:
    """One loss's training: its validation accuracy after every epoch and its best weights."""

    loss: str
    evaluations: list[dict]
    losses_seen: list[dict]
    best_accuracy: float | None = None
    best_epoch: int = 0
    best_state: dict | None = None
    # The fit and validation texts' vectors at the best epoch (fit rows, then validation rows): the
    # written model's vectors of those texts, so that only the held-out texts are encoded again.
    best_vectors: np.ndarray | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of this process (all threads): what a busy machine does not stretch
    skipped: str | None = None
    stopped: str | None = None  # why it trained fewer epochs than it could (None: it ran them all)

    def summary(self) -> dict[str, Any]:
        return {"loss": self.loss, "best_validation_accuracy": self.best_accuracy, "best_epoch": self.best_epoch,
                "evaluations": self.evaluations, "seconds": round(self.seconds, 3),
                "cpu_seconds": round(self.cpu_seconds, 3), "skipped": self.skipped, "stopped": self.stopped}


class _Trainee:
    """One loss being trained an epoch at a time: its data, its optimizer and learning-rate schedule
    (over all its epochs, kept between them), and its weights while another loss trains."""

    def __init__(self, loss: str, model: Any, texts: list[str], codes: np.ndarray, params: dict[str, Any]) -> None:
        self.run = _Run(loss=loss, evaluations=[], losses_seen=[])
        self.loss_module, self.sampler = _loss(loss, model)
        self.dataset = _training_dataset(texts, codes, loss, params["seed"])
        self.optimizer: Any = None
        self.scheduler: Any = None
        self.steps_per_epoch = 0
        self.epochs_done = 0
        self.steps_done = 0
        self.epochs = params["epochs"]
        self.weights: dict | None = None  # its weights while another loss has the model (None: the model has them)

    @property
    def going(self) -> bool:
        """Whether it trains another epoch."""
        return self.run.stopped is None and self.epochs_done < self.epochs

    def stop(self, why: str) -> None:
        """Train no further (why goes into the report)."""
        self.run.stopped = why
        self.release()

    def release(self) -> None:
        """Free its optimizer and paused weights (the run keeps its best weights while they are the best)."""
        self.optimizer = self.scheduler = self.weights = None


def _train_epoch(trainee: _Trainee, model: Any, params: dict[str, Any], validate: Callable[[], float],
                 progress: FinetuneProgress | None, stop: StopFn | None) -> float:
    """Train `model` (holding the trainee's weights) one more epoch of the trainee's loss; its validation accuracy.

    The optimizer and the learning-rate schedule (warm-up, then linear decay over all ``epochs``)
    are the trainee's and carry over from epoch to epoch: an epoch here is the epoch of one
    uninterrupted run of ``epochs`` epochs, only with the batches shuffled by seed + epoch.
    Raises Stopped when `stop()` asked training to end.
    """
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers import TrainerCallback, get_scheduler
    from transformers.trainer_callback import PrinterCallback

    run = trainee.run

    class _QuietTrainer(SentenceTransformerTrainer):
        # The model-card callback copies training texts into the card's examples (README.md):
        # the user's data stays out of the written folder, and its progress bar off the terminal.
        def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
            return None

    class _StepsAndStop(TrainerCallback):
        stopped = False

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers' signature
            if progress is not None:
                progress("train", trainee.steps_done + int(state.global_step),
                         trainee.steps_per_epoch * params["epochs"])
            if stop is not None and stop():
                self.stopped = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "loss" in logs:
                run.losses_seen.append({"loss_name": run.loss, "step": trainee.steps_done + int(state.global_step),
                                        "epoch": trainee.epochs_done + float(state.epoch or 0.0),
                                        "loss": float(logs["loss"]),
                                        "learning_rate": float(logs.get("learning_rate", float("nan")))})
            return control

    started, cpu_started = time.perf_counter(), time.process_time()
    _seed_everything(params["seed"] + trainee.epochs_done)
    callback = _StepsAndStop()
    with tempfile.TemporaryDirectory(prefix="embeddings-finetune-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=1,
            per_device_train_batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            warmup_ratio=params["warmup_ratio"],
            # a new seed per epoch: the batches of epoch e are shuffled as one run's epoch e would be
            seed=params["seed"] + trainee.epochs_done,
            data_seed=params["seed"] + trainee.epochs_done,
            batch_sampler=trainee.sampler,
            logging_steps=1,
            save_strategy="no",
            eval_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=str(model.device) == "cpu",
        )
        trainer = _QuietTrainer(model=model, args=args, train_dataset=trainee.dataset, loss=trainee.loss_module,
                                callbacks=[callback])
        trainer.remove_callback(PrinterCallback)  # our progress replaces its printed log lines
        if trainee.optimizer is None:
            trainee.steps_per_epoch = len(trainer.get_train_dataloader())
            total = trainee.steps_per_epoch * params["epochs"]
            trainee.optimizer = trainer.create_optimizer()
            trainee.scheduler = get_scheduler(args.lr_scheduler_type, optimizer=trainee.optimizer,
                                              num_warmup_steps=args.get_warmup_steps(total), num_training_steps=total)
        trainer.optimizer, trainer.lr_scheduler = trainee.optimizer, trainee.scheduler
        trainer.train()
        steps = int(trainer.state.global_step)
    if callback.stopped:
        raise Stopped("fine-tuning stopped before it finished; nothing was written")
    trainee.steps_done += steps
    accuracy = validate()
    run.seconds += time.perf_counter() - started
    run.cpu_seconds += time.process_time() - cpu_started
    return accuracy


def _tournament(model: Any, base_state: dict, trainees: list[_Trainee], params: dict[str, Any],
                validate: Callable[[], float], progress: FinetuneProgress | None, stop: StopFn | None) -> None:
    """Train the losses by successive halving, keeping each run's best epoch (see the module docstring).

    Round 1: every loss trains one epoch from the base weights. Each later round, the losses still
    going train one more epoch each. After every epoch a loss stops when it trails the best
    validation accuracy so far by more than TRAILING_MARGIN or is not among the KEEP_GOING best,
    and when PATIENCE epochs in a row brought it no gain.
    """
    holder: _Trainee | None = None  # whose training weights the model holds now
    for epoch in range(1, params["epochs"] + 1):
        for trainee in [t for t in trainees if t.going]:
            if not trainee.going:  # dropped by a loss that trained before it in this round
                continue
            if trainee is not holder:
                if holder is not None and holder.going and holder.weights is None:
                    holder.weights = _copy_state(model)
                model.load_state_dict(trainee.weights if trainee.epochs_done else base_state)
                holder = trainee
            trainee.weights = None  # the model holds them, and training changes them
            accuracy = _train_epoch(trainee, model, params, validate, progress, stop)
            trainee.epochs_done += 1
            run = trainee.run
            run.evaluations.append({"epoch": epoch, "step": trainee.steps_done, "validation_accuracy": accuracy})
            if run.best_accuracy is None or accuracy > run.best_accuracy:
                run.best_accuracy, run.best_epoch = accuracy, epoch
                run.best_state = _copy_state(model)
                run.best_vectors = getattr(validate, "vectors", None)
                trainee.weights = run.best_state  # shared, not copied: the model's own tensors are apart from it
            elif epoch - run.best_epoch >= PATIENCE and trainee.going:
                trainee.stop(f"no gain on validation in epoch {epoch}")
            _drop_trailing(trainees, epoch, round_done=False)
            _drop_all_but_the_best([t.run for t in trainees])  # one copy of the weights per loss: 90 MB for MiniLM
            if not trainee.going:
                trainee.release()
        _drop_trailing(trainees, epoch, round_done=True)


def _drop_trailing(trainees: list[_Trainee], epoch: int, round_done: bool) -> None:
    """Stop the losses trailing by more than TRAILING_MARGIN the best validation accuracy any loss
    reached in as many epochs; when a round is done, also those not among the KEEP_GOING best of
    the losses still going (ties: the loss tried first goes on)."""
    for trainee in trainees:
        if not trainee.going or trainee.run.best_accuracy is None:
            continue
        done = trainee.epochs_done
        best = max(e["validation_accuracy"] for t in trainees for e in t.run.evaluations if e["epoch"] <= done)
        gap = best - trainee.run.best_accuracy
        if gap > TRAILING_MARGIN:
            trainee.stop(f"trailed the best loss by {gap:.3f} on validation after epoch {done}")
    if round_done:
        going = sorted((t for t in trainees if t.going), key=lambda t: -t.run.best_accuracy)
        for trainee in going[KEEP_GOING:]:
            trainee.stop(f"not among the {KEEP_GOING} best losses on validation after epoch {epoch}")


def _copy_state(model: Any) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


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


def _encode_with(model: Any, texts: list[str], batch_size: int, progress: FinetuneProgress | None, stage: str,
                 stop: StopFn | None = None) -> np.ndarray:
    chunk = max(batch_size * 8, 64)
    out = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), chunk):
            if stop is not None and stop():
                raise Stopped("fine-tuning stopped before it finished; nothing was written")
            out.append(np.asarray(model.encode(texts[start : start + chunk], batch_size=batch_size,
                                               convert_to_numpy=True, show_progress_bar=False), dtype=np.float32))
            if progress is not None:
                progress(stage, min(len(texts), start + chunk), len(texts))
    finally:
        model.train(was_training)
    return np.concatenate(out)


class _Validator:
    """Validation k-NN accuracy of the model as it is now: validation texts against the texts it fits on.

    Keeps the vectors of its last call (fit rows, then validation rows) in ``vectors``.
    """

    def __init__(self, model: Any, texts: list[str], names: list[str], fit: np.ndarray, val: np.ndarray,
                 progress: FinetuneProgress | None, stop: StopFn | None) -> None:
        self.model, self.fit, self.val, self.progress, self.stop = model, fit, val, progress, stop
        self.texts = [texts[i] for i in np.concatenate([fit, val])]
        self.fit_names, self.val_names = [names[i] for i in fit], [names[i] for i in val]
        self.vectors: np.ndarray | None = None

    def __call__(self) -> float:
        self.vectors = _encode_with(self.model, self.texts, 32, self.progress, "validate", self.stop)
        return knn_accuracy(self.vectors[len(self.fit):], self.val_names, reference_vectors=self.vectors[: len(self.fit)],
                            reference_labels=self.fit_names, k=KNN_K)


def _cache_vectors(folder: Path, texts: list[str], vectors: np.ndarray) -> None:
    """Store the written model's vectors under the folder's fingerprint: opening the result costs no encoding."""
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
    epochs: int = DEFAULT_EPOCHS,
    test_size: float = 0.2,
    validation_size: float = VALIDATION_SIZE,
    seed: int = 0,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    loss: str = DEFAULT_LOSS,
    keep_tuned: bool = False,
    label_column: str = "label",
    overwrite: bool = False,
    cache: bool = True,
    device: str | None = None,
    progress: FinetuneProgress | None = None,
    stop: StopFn | None = None,
    trust_remote_code: bool = False,
) -> FinetuneResult:
    """Fine-tune `model` on (texts, labels) and write the better of base and tuned, with its report, to `out`.

    epochs: at most this many per loss; validation picks the epoch. loss: "auto" tries each of
    LOSS_CANDIDATES, or one of LOSSES. keep_tuned: write the best tuned weights even when they do
    not beat the base model on validation (the report says so). Raises InputError (one line) for
    bad input before anything is written, and ``Stopped`` when `stop()` asked training to end
    (nothing is written then either).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    texts = [t for t in texts] if not isinstance(texts, str) else texts
    names = check_labels(texts, labels, label_column)
    out_path = check_output(out, overwrite)
    for name, value, low in (("epochs", epochs, 1), ("batch size", batch_size, 4)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{name} must be a whole number of at least {low}, not {value!r}")
    if loss != AUTO and loss not in LOSSES:
        raise InputError(f"unknown loss {loss!r}; choose one of {', '.join((AUTO,) + LOSSES)}")
    if batch_size % 2:
        raise InputError(f"batch size must be even (triplet losses draw texts two per label), not {batch_size}")
    _fraction(validation_size, "validation size")
    spec = ModelSpec.parse(model, trust_remote_code=trust_remote_code)
    _check_model(spec)
    train_rows, test_rows = split(names, test_size, seed)
    fit_rows, val_rows = validation_split(names, train_rows, validation_size, seed)
    candidates = LOSS_CANDIDATES if loss == AUTO else (loss,)
    fit_names = [names[i] for i in fit_rows]
    reasons = {name: _trainable(name, fit_names) for name in candidates}
    if all(reasons.values()):
        raise InputError(f"column '{label_column}': {next(iter(reasons.values()))} (add texts, or hold out fewer)")
    classes = sorted(set(names))
    codes = np.array([classes.index(n) for n in names])

    from embeddings.models import pick_device

    st = open_sentence_transformer(spec, pick_device(device))
    base_fp = fingerprint(spec)
    params = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "loss": loss,
              "losses_tried": list(candidates), "warmup_ratio": 0.1, "seed": seed, "test_size": test_size,
              "validation_size": validation_size, "patience": PATIENCE, "knn_k": KNN_K, "keep_tuned": keep_tuned}
    base = encode_texts(texts, spec, batch_size=32, cache=cache, device=device, progress=_stage(progress, "base"),
                        stop=stop).vectors
    before = separation(base, names, train_rows, test_rows)
    base_validation = knn_accuracy(base[val_rows], [names[i] for i in val_rows], reference_vectors=base[fit_rows],
                                   reference_labels=fit_names, k=KNN_K)

    base_state = _copy_state(st)
    validate = _Validator(st, texts, names, fit_rows, val_rows, progress, stop)
    fit_texts = [texts[i] for i in fit_rows]
    runs: list[_Run] = []
    trainees: list[_Trainee] = []
    train_started = time.perf_counter()
    with _threads_for_the_load(params):
        for name in candidates:
            if reasons[name]:
                runs.append(_Run(loss=name, evaluations=[], losses_seen=[], skipped=reasons[name]))
            else:
                trainees.append(_Trainee(name, st, fit_texts, codes[fit_rows], params))
                runs.append(trainees[-1].run)
        _tournament(st, base_state, trainees, params, validate, progress, stop)
        del trainees  # their optimizers
        train_seconds = time.perf_counter() - train_started
        choice = _choose(runs, base_validation, keep_tuned)
        best = next((r for r in runs if r.loss == choice["best_loss"]), None)
        if choice["kept"] == "tuned" and best is not None:
            st.load_state_dict(best.best_state)
            written = _written_vectors(st, texts, fit_rows, val_rows, best.best_vectors, progress, stop)
        else:
            st.load_state_dict(base_state)
            written = base
    after = separation(written, names, train_rows, test_rows)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".part", dir=out_path.parent))
    try:
        st.save(str(tmp))
        single = sorted(c for c, n in _counts(names).items() if n == 1)
        report = {
            "model": spec.name,
            "base_model": spec.raw,
            "base_fingerprint": base_fp,
            "fingerprint": fingerprint_folder(tmp),
            "label_column": label_column,
            "classes": {c: int(np.sum(codes == i)) for i, c in enumerate(classes)},
            "split": {"seed": seed, "test_size": test_size, "stratified": True, "train": len(train_rows),
                      "test": len(test_rows), "fit": len(fit_rows), "validation": len(val_rows),
                      "train_only_classes": len(single), "train_only_class_names": single[:50],
                      "test_rows": [int(r) for r in test_rows], "validation_rows": [int(r) for r in val_rows]},
            "parameters": params,
            "choice": choice,
            "verdict": "",
            "candidates": [r.summary() for r in runs],
            "before": before,
            "after": after,
            "loss_per_step": [entry for r in runs for entry in r.losses_seen],
            "seconds": {"train": round(train_seconds, 3), "total": round(time.perf_counter() - started, 3),
                        "cpu_total": round(time.process_time() - cpu_started, 3)},
            "versions": _versions(),
        }
        report["verdict"] = verdict(report)
        (tmp / REPORT_NAME).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        if cache:
            _cache_vectors(tmp, texts, written)
        _move_into_place(tmp, out_path, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FinetuneResult(out_path, report)


def _written_vectors(model: Any, texts: list[str], fit: np.ndarray, val: np.ndarray, known: np.ndarray | None,
                     progress: FinetuneProgress | None, stop: StopFn | None) -> np.ndarray:
    """Every text's vector from `model`: the fit and validation texts' from `known` (their vectors
    when the model was validated, fit rows then validation rows), the others encoded now."""
    if known is None or len(known) != len(fit) + len(val):
        return _encode_with(model, texts, 32, progress, "tuned", stop)
    rows = np.concatenate([fit, val])
    rest = np.setdiff1d(np.arange(len(texts)), rows)
    out = np.empty((len(texts), known.shape[1]), dtype=np.float32)
    out[rows] = known
    if len(rest):
        out[rest] = _encode_with(model, [texts[i] for i in rest], 32, progress, "tuned", stop)
    return out


def _drop_all_but_the_best(runs: list[_Run]) -> None:
    """Forget the weights of every run but the best validated so far (the first among equals)."""
    trained = [r for r in runs if r.best_accuracy is not None]
    best = max(trained, key=lambda r: r.best_accuracy, default=None)
    for run in trained:
        if run is not best:
            run.best_state = run.best_vectors = None


def _choose(runs: list[_Run], base_validation: float, keep_tuned: bool) -> dict[str, Any]:
    """The best loss and epoch on validation, and whether they beat the base model there."""
    trained = [r for r in runs if r.best_accuracy is not None]
    # Ties go to the loss tried first (LOSS_CANDIDATES order) and the earlier epoch.
    best = max(trained, key=lambda r: r.best_accuracy, default=None)
    improved = best is not None and best.best_accuracy > base_validation
    kept = "tuned" if best is not None and (improved or keep_tuned) else "base"
    return {
        "kept": kept,
        "improved": improved,
        "base_validation_accuracy": base_validation,
        "best_loss": None if best is None else best.loss,
        "best_validation_accuracy": None if best is None else best.best_accuracy,
        "loss": best.loss if kept == "tuned" else None,
        "epochs": best.best_epoch if kept == "tuned" else 0,
    }


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


@contextlib.contextmanager
def _threads_for_the_load(params: dict[str, Any]) -> Iterator[None]:
    """One torch thread while the machine is busier than its cores (see BUSY_LOAD_PER_CORE); noted in params."""
    import torch

    before = torch.get_num_threads()
    cores = os.cpu_count() or 1
    load = _others_load()
    busy = load is not None and load >= BUSY_LOAD_PER_CORE * cores
    params["torch_threads"] = 1 if busy else before
    params["load_of_others"] = None if load is None else round(load, 2)
    if busy:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _others_load(samples: int = 20, every: float = 0.05) -> float | None:
    """How busy the machine is with other work: the 1-minute load, or where it is lower, the
    tasks of other processes running or waiting to run now (Linux: /proc/stat's procs_running
    less this process's running threads, averaged over a second).

    The 1-minute load counts this process too: right after one fine-tuning (two torch threads
    spinning for minutes) it reads about 2 on an otherwise idle 2-core machine, and the next
    run would train on one thread for no reason. None where the load cannot be read.
    """
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    stat, tasks = Path("/proc/stat"), Path("/proc/self/task")
    if load is None or not stat.is_file() or not tasks.is_dir():
        return load
    counts = []
    for i in range(samples):
        try:
            running = next(int(line.split()[1]) for line in stat.read_text().splitlines()
                           if line.startswith("procs_running "))
            mine = 0
            for task in tasks.iterdir():
                with contextlib.suppress(OSError, IndexError):
                    mine += (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, StopIteration, ValueError):
            return load
        counts.append(max(0, running - mine))
        if i + 1 < samples:
            time.sleep(every)
    return min(load, sum(counts) / len(counts))


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
