"""Sections of the explorer page: each takes values, draws its widgets, and returns values.

Shared here: how any section shows a failure (one ``st.error`` line, never a traceback box), and
how every tab that encodes texts says it has none to work on (one wording, ``texts_needed``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from embeddings.data import Dataset
from embeddings.errors import InputError

CHOOSE_TEXTS = "Choose texts in the sidebar: a sample, a file or folder by path, an upload or pasted texts."


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 point", "2 points", "1,000 points": the count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def error_line(error: BaseException, doing: str | None = None, subject: str | None = None) -> str:
    """One line for a failure, never a traceback.

    An InputError reads as it says; anything else gives its type and first line, after what was
    being done (`doing`). `subject` (a model spec, a file) is put first unless the line names it.
    """
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(error, InputError):
        message = first or type(error).__name__
    else:
        message = type(error).__name__ + (f": {first}" if first else "")
        if doing:
            message = f"{doing} failed: {message}"
        elif not subject:
            message = f"Something went wrong: {message}"
    if subject and subject not in message:
        message = f"{subject}: {message}"
    return message


def show_error(error: BaseException, doing: str | None = None, *, subject: str | None = None) -> None:
    """The one way a section shows a failure: one st.error line (see ``error_line``)."""
    st.error(error_line(error, doing, subject))


@contextmanager
def guarded(doing: str) -> Iterator[None]:
    """Run a section; a bug in it becomes one st.error line and the rest of the page still draws.

    Only Exception is caught: Streamlit's own rerun/stop signals (BaseException) pass through.
    """
    try:
        yield
    except Exception as error:
        show_error(error, doing)


def missing_texts_line(dataset: Dataset | None, needs: str) -> str | None:
    """The one line for "no texts to work on" (None when `dataset` has texts). `needs` says what
    needs them, as a sentence starts: "Walking the layers", "Fine-tuning", "Comparing models"."""
    if dataset is None:
        return f"{needs} needs texts. {CHOOSE_TEXTS}"
    if not dataset.has_texts:
        return (f"{needs} needs texts, and {dataset.source} holds precomputed vectors (its columns label the "
                f"points; no model encodes them). {CHOOSE_TEXTS}")
    return None


def texts_needed(dataset: Dataset | None, needs: str) -> bool:
    """True, with the one line on screen, when `dataset` has no texts for what `needs` them."""
    line = missing_texts_line(dataset, needs)
    if line is not None:
        st.info(line)
    return line is not None
