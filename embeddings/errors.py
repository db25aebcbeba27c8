"""Errors the user can act on.

Every problem caused by input (a file, a column, a row, a model name) is raised as an
``InputError`` whose message is one line naming the thing at fault. The CLI prints it as
``error: ...`` and exits 2; the app shows it with ``st.error``. Anything else is a bug.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message is one line that names the file, row or column at fault."""


class ModelError(InputError):
    """A model cannot be found, loaded or used as asked."""
