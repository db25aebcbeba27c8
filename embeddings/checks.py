"""Checks and types shared by the library's modules: the bottom of the import graph.

Every module that takes vectors, a whole-number option, a metric or a progress callback checks
it here, so the message a user reads for the same mistake is the same everywhere. This module
imports nothing from the package but ``errors`` and ``choices``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from embeddings.choices import METRICS
from embeddings.errors import InputError

ProgressFn = Callable[[int, int], None]  # (done, total)
StopFn = Callable[[], bool]  # True asks the work to stop between batches


def is_whole(value: Any) -> bool:
    """True for an int (Python or NumPy), never for a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def whole_number(value: Any, what: str, minimum: int | None = None) -> int:
    """`value` as an int when it is a whole number (at least `minimum`), else one InputError line."""
    if not is_whole(value) or (minimum is not None and value < minimum):
        floor = "" if minimum is None else f" of at least {minimum}"
        raise InputError(f"{what} must be a whole number{floor}, not {value!r}")
    return int(value)


def number(value: Any, what: str, numeric_type: type, minimum: float) -> Any:
    """A parameter as int/float, at least `minimum`, or one InputError line."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, not {value!r}")
    try:
        number = numeric_type(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise InputError(f"{what} must be a number, not {value!r}") from None
    if numeric_type is int and number != value:
        raise InputError(f"{what} must be a whole number, not {value!r}")
    if not np.isfinite(number) or number < minimum:
        raise InputError(f"{what} must be at least {minimum:g}, not {value!r}")
    return number


def check_metric(metric: Any, what: str = "metric") -> str:
    if metric not in METRICS:
        raise InputError(f"unknown {what} {metric!r}; choose one of {', '.join(METRICS)}")
    return str(metric)


def check_vectors(vectors: Any, what: str = "vectors") -> np.ndarray:
    """A 2-D finite float array with at least one row and column, or one InputError line."""
    try:
        array = np.asarray(vectors)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"{what}: cannot be read as a numeric array ({exc})") from None
    if array.ndim != 2:
        raise InputError(f"{what}: must be a 2-D array (points x dimensions), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{what}: is empty (shape {array.shape})")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{what}: must hold real numbers, got dtype {array.dtype}")
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise InputError(f"{what}: row {row}, column {column} is {array[row, column]} (NaN/inf not allowed)")
    return array


def report(progress: ProgressFn | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
