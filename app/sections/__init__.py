"""Sections of the explorer page: each takes values, draws its widgets, and returns values.

Shared here: how any section shows a failure (one ``st.error`` line, never a traceback box).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from embeddings.errors import InputError


def show_error(error: BaseException, doing: str | None = None) -> None:
    """One st.error line: an InputError as it says, anything else with what was being done."""
    if isinstance(error, InputError):
        st.error(str(error))
        return
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    what = f"{doing} failed" if doing else "Something went wrong"
    st.error(f"{what}: {type(error).__name__}" + (f": {message}" if message else ""))


@contextmanager
def guarded(doing: str) -> Iterator[None]:
    """Run a section; a bug in it becomes one st.error line and the rest of the page still draws.

    Only Exception is caught: Streamlit's own rerun/stop signals (BaseException) pass through.
    """
    try:
        yield
    except Exception as error:
        show_error(error, doing)
