"""Sections of the explorer page: each takes values, draws its widgets, and returns values.

Shared here: how any section shows a failure (one ``st.error`` line, never a traceback box).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from embeddings.errors import InputError


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
