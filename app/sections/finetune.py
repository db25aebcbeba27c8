"""The Fine-tune tab: tune the model on the loaded texts' labels, then compare base and tuned.

Training is ``embeddings.finetune.finetune`` (sentence-transformers' own trainer, a seeded
stratified split, a report of held-out k-NN accuracy before and after). This module draws the
form, a progress bar with a Stop button, the report, and hands the two models' vectors to the
Compare models tab, which opens on them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from embeddings.data import Dataset

from app import state
from app.sections import show_error, texts_needed

STAGES = {"base": "Encoding with the base model", "train": "Training", "tuned": "Encoding with the tuned model"}
# A stage's share of the bar: training dominates.
STAGE_SPAN = {"base": (0.0, 0.1), "train": (0.1, 0.9), "tuned": (0.9, 1.0)}


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
    epochs = middle.number_input("Epochs", min_value=1, max_value=20, value=1, key=state.FINETUNE_EPOCHS)
    seed = right.number_input("Seed", min_value=0, value=0, step=1, key=state.FINETUNE_SEED)
    out = st.text_input("Output folder (a new folder)", value=default_folder(model, label, int(seed)),
                        key=state.FINETUNE_OUT)
    overwrite = st.checkbox("Replace the folder if it exists", key=state.FINETUNE_OVERWRITE)
    counts = dataset.metadata[label].astype(str).value_counts()
    st.caption(f"{len(counts)} classes, {len(dataset):,} texts; 20% of each class is held out to measure the result.")
    return {"label": label, "epochs": int(epochs), "seed": int(seed), "out": out.strip(), "overwrite": overwrite}


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
                progress=_progress(bar),
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
    st.caption("Fine-tune the model so texts with the same label move together (sentence-transformers' trainer, "
               "a triplet loss over batches grouped by label), then compare base and tuned on the same texts.")
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
            if _hand_to_compare(dataset, result):
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
    st.success(f"Tuned model written to {result['folder']} (use it as a model spec anywhere).")
    a, b, c = st.columns(3)
    k = report["parameters"]["knn_k"]
    a.metric(f"Held-out {k}-NN accuracy", f"{after['knn_accuracy']:.3f}",
             f"{after['knn_accuracy'] - before['knn_accuracy']:+.3f} vs base")
    if before["silhouette"] is not None and after["silhouette"] is not None:
        b.metric("Held-out silhouette (cosine)", f"{after['silhouette']:.3f}",
                 f"{after['silhouette'] - before['silhouette']:+.3f} vs base")
    c.metric("Training time", f"{report['seconds']['train']:.1f} s",
             help=f"{report['split']['train']} texts trained, {report['split']['test']} held out")
    losses = pd.DataFrame(report["loss_per_step"])
    if not losses.empty:
        st.line_chart(losses.set_index("step")["loss"], x_label="step", y_label="training loss", height=200)
