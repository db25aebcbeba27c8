"""The Fine-tune tab: tune the model on the loaded texts' labels, then compare base and tuned.

Training is ``embeddings.finetune.finetune`` (sentence-transformers' own trainer, a seeded
stratified split, a validation share that picks the loss and the epoch, and keeps the base model
when nothing beats it there). This module draws the form, a progress bar with a Stop button, the
verdict and the report, and, when the folder holds tuned weights, hands the two models' vectors
to the Compare models tab, which opens on them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from embeddings.data import Dataset
from embeddings.choices import AUTO_LOSS, DEFAULT_EPOCHS, LOSSES

from app import state
from app.sections import show_error, texts_needed

STAGES = {"base": "Encoding with the base model", "train": "Training", "validate": "Validating",
          "tuned": "Encoding with the tuned model"}
# A stage's share of the bar: training (several losses, each scored on validation) dominates.
STAGE_SPAN = {"base": (0.0, 0.1), "train": (0.1, 0.9), "validate": (0.1, 0.9), "tuned": (0.9, 1.0)}


def label_columns(dataset: Dataset) -> list[str]:
    """Metadata columns that could be labels: at least 2 classes, fewer classes than half the rows.
    Those whose every class has 2 texts or more (one to train on, one to hold out) come first, so
    the one picked at first can be trained on (the docstrings' 48 modules, some of one text, cannot)."""
    out = []
    for column in dataset.metadata.columns:
        if column == dataset.text_column:
            continue
        counts = dataset.metadata[column].astype(str).value_counts()
        if 2 <= len(counts) <= max(2, len(dataset) // 2):
            out.append((bool(counts.min() < 2), str(column)))
    return [column for _, column in sorted(out, key=lambda item: item[0])]


def default_folder(model: str, label: str | None, seed: int) -> str:
    """Where a tuned model goes unless the user says otherwise: the user's data folder."""
    from platformdirs import user_data_dir

    from embeddings.models import ModelSpec

    try:
        name = ModelSpec.parse(model).name
    except Exception:
        name = "model"
    safe = re.sub(r"[^\w.-]+", "-", f"{name}-{label or 'labels'}-seed{seed}").strip("-")
    return str(Path(user_data_dir("embedding-explorer")) / "tuned" / safe)


def _form(dataset: Dataset, model: str) -> dict | None:
    columns = label_columns(dataset)
    if not columns:
        st.info("Fine-tuning needs a label column: a column with at least 2 classes (e.g. the samples' 'topic').")
        return None
    left, middle, right = st.columns(3)
    label = left.selectbox("Label column", columns, key=state.FINETUNE_LABEL)
    epochs = middle.number_input("Epochs (at most)", min_value=1, max_value=20, value=DEFAULT_EPOCHS,
                                 key=state.FINETUNE_EPOCHS,
                                 help="Per loss; a validation share of the training texts picks the best epoch.")
    seed = right.number_input("Seed", min_value=0, value=0, step=1, key=state.FINETUNE_SEED)
    out = st.text_input("Output folder (a new folder)", value=default_folder(model, label, int(seed)),
                        key=state.FINETUNE_OUT)
    loss = st.selectbox("Loss", (AUTO_LOSS, *LOSSES), key=state.FINETUNE_LOSS,
                        format_func=lambda name: name if name != AUTO_LOSS
                        else "auto: try three, keep the one that validates best")
    overwrite = st.checkbox("Replace the folder if it exists", key=state.FINETUNE_OVERWRITE)
    keep_tuned = st.checkbox("Keep the tuned model even if it does not beat the base model",
                             key=state.FINETUNE_KEEP_TUNED,
                             help="By default the folder then holds the base model unchanged, and says so.")
    counts = dataset.metadata[label].astype(str).value_counts()
    single = int((counts == 1).sum())
    st.caption(f"{len(counts)} classes, {len(dataset):,} texts; 20% of each class is held out to measure the result, "
               "20% of the rest validates (it picks the loss and the epoch)"
               + (f"; {single} class(es) with a single text train only" if single else "") + ".")
    return {"label": label, "epochs": int(epochs), "seed": int(seed), "out": out.strip(), "overwrite": overwrite,
            "keep_tuned": keep_tuned, "loss": loss}


def _progress(bar):
    def progress(stage: str, done: int, total: int) -> None:
        # Every update is a Streamlit call: the Stop button's rerun interrupts training right here.
        st.session_state[state.FINETUNE_REACHED] = (stage, done, total)  # what Stop says it stopped at
        start, end = STAGE_SPAN.get(stage, (0.0, 1.0))
        share = done / total if total else 1.0
        bar.progress(min(1.0, start + (end - start) * share),
                     text=f"{STAGES.get(stage, stage)}: {done:,} of {total:,}" + (" steps" if stage == "train" else ""))

    return progress


def _mark_stopped() -> None:
    st.session_state[state.FINETUNE_STOPPED] = st.session_state.pop(state.FINETUNE_REACHED, None) or True


def _stopped_line(reached) -> str:
    """What Stop ended: "Fine-tuning stopped during training, at step 3 of 90; nothing was written." """
    if isinstance(reached, tuple):
        stage, done, total = reached
        where = f"at step {done:,} of {total:,}" if stage == "train" else f"at {done:,} of {total:,} texts"
        return f"Fine-tuning stopped ({STAGES.get(stage, stage).lower()}, {where}); nothing was written."
    return "Fine-tuning stopped before it started training; nothing was written."


def _train(dataset: Dataset, model: str, form: dict) -> dict | None:
    from embeddings.finetune import finetune

    st.session_state.pop(state.FINETUNE_REACHED, None)
    panel = st.empty()
    failure: Exception | None = None
    with panel.container():
        # A press reruns the page, which interrupts training at its next progress update; the
        # callback runs first in that rerun (where this button is not drawn) to say so.
        st.button("Stop", key=state.FINETUNE_STOP, on_click=_mark_stopped)
        bar = st.progress(0.0, text=f"Fine-tuning {model} on '{form['label']}'...")
        try:
            result = finetune(
                dataset.texts, dataset.metadata[form["label"]].tolist(), form["out"], model=model,
                epochs=form["epochs"], seed=form["seed"], label_column=form["label"], overwrite=form["overwrite"],
                loss=form["loss"], keep_tuned=form["keep_tuned"], progress=_progress(bar),
            )
        except Exception as error:
            failure = error
    panel.empty()
    if failure is not None:
        show_error(failure, "Fine-tuning")
        return None
    return {"folder": str(result.folder), "report": result.report, "base": model, "source": dataset.source}


def render_finetune(dataset: Dataset, model: str) -> dict | None:
    """The Fine-tune tab; returns the last result ({"folder", "report", "base"}) when one is shown."""
    st.caption("Fine-tune the model so texts with the same label move together (sentence-transformers' trainer; "
               "two losses tried, the one that validates best kept, and only if it beats the base model), "
               "then compare base and tuned on the same texts.")
    if texts_needed(dataset, "Fine-tuning"):
        return None
    form = _form(dataset, model)
    if form is None:
        return None
    stopped = st.session_state.pop(state.FINETUNE_STOPPED, None)
    if stopped:
        st.info(_stopped_line(stopped))
    if st.button("Start fine-tuning", type="primary", key=state.FINETUNE_START, disabled=not form["out"]):
        result = _train(dataset, model, form)
        if result is not None:
            st.session_state[state.FINETUNE_RESULT] = result
            if result["report"]["choice"]["kept"] == "tuned" and _hand_to_compare(dataset, result):
                return result  # the caller switches to the Compare models tab and reruns
    result = st.session_state.get(state.FINETUNE_RESULT)
    if result is None or result["source"] != dataset.source:
        return None
    render_report(result)
    return result


def _hand_to_compare(dataset: Dataset, result: dict) -> bool:
    """Give the Compare models tab the base and tuned vectors (both cached by now: no encoding)."""
    from embeddings.pipeline import embed

    from .compare import open_comparison

    try:
        vectors = {spec: embed(dataset, spec).vectors for spec in (result["base"], result["folder"])}
    except Exception as error:
        show_error(error, "Opening the comparison")
        return False
    open_comparison(dataset, vectors)
    result["opened"] = True
    return True


def render_report(result: dict) -> None:
    report = result["report"]
    before, after = report["before"], report["after"]
    if report["choice"]["improved"]:
        st.success(f"Tuned model written to {result['folder']} (use it as a model spec anywhere): {report['verdict']}.")
    else:
        st.warning(f"{report['verdict'][:1].upper()}{report['verdict'][1:]}. Folder: {result['folder']}.")
    a, b, c = st.columns(3)
    k = report["parameters"]["knn_k"]
    a.metric(f"Held-out {k}-NN accuracy", f"{after['knn_accuracy']:.3f}",
             f"{after['knn_accuracy'] - before['knn_accuracy']:+.3f} vs base")
    if before["silhouette"] is not None and after["silhouette"] is not None:
        b.metric("Held-out silhouette (cosine)", f"{after['silhouette']:.3f}",
                 f"{after['silhouette'] - before['silhouette']:+.3f} vs base")
    split = report["split"]
    c.metric("Training time", f"{report['seconds']['train']:.1f} s",
             help=f"{split['fit']} texts trained, {split['validation']} validated, {split['test']} held out")
    st.dataframe(_candidates_table(report), hide_index=True)
    losses = pd.DataFrame(report["loss_per_step"])
    if not losses.empty:
        losses["x"] = range(1, len(losses) + 1)
        st.line_chart(losses, x="x", y="loss", color="loss_name", x_label="step (losses one after another)",
                      y_label="training loss", height=200)


def _candidates_table(report: dict) -> pd.DataFrame:
    """One row per loss tried, and the base model: validation accuracy per epoch, which one was kept."""
    k = report["parameters"]["knn_k"]
    choice = report["choice"]
    rows = [{"model": "base (no training)", f"best validation {k}-NN accuracy": choice["base_validation_accuracy"],
             "by epoch": "", "kept": choice["kept"] == "base"}]
    for run in report["candidates"]:
        rows.append({"model": run["loss"], f"best validation {k}-NN accuracy": run["best_validation_accuracy"],
                     "by epoch": run["skipped"] or ", ".join(f"{e['validation_accuracy']:.3f}" for e in run["evaluations"])
                     + (f" (stopped: {run['stopped']})" if run.get("stopped") else ""),
                     "kept": choice["kept"] == "tuned" and choice["loss"] == run["loss"]})
    return pd.DataFrame(rows)
