"""Watch a UMAP or t-SNE layout form: computed in a thread of its own, read frame by frame, with
pause, resume and stop.

    run = LiveProjection(points.vectors, "tsne", seed=0).start()
    seq, frame = run.wait(after=0, timeout=1.0)  # the newest Frame (reduce.Frame) and its number
    run.pause(); run.resume()
    run.stop()       # the layout reached becomes run.result(); the optimiser waits where it is ...
    run.resume()     # ... and carries on from it
    projection = run.result()

Pause and stop park the optimiser between two iterations, inside the frame callback of
``embeddings.reduce.project``: nothing of its state (momentum, gains, learning-rate schedule,
random streams) is lost or changed, so a run paused, stopped and resumed ends with exactly the
layout an unwatched run gives (the frames are copies). ``cancel`` ends a run for good, and a run
left waiting longer than PARK_LIMIT_SECONDS ends itself (its thread and memory would otherwise
wait for a resume that may never come). Nothing here imports streamlit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from embeddings.errors import InputError
from embeddings.reduce import Frame, Projection, project

LIVE_METHODS = ("umap", "tsne")
# What a run is doing: computing neighbours or affinities (no frame yet), optimising, waiting
# where it is (paused, or stopped: the layout reached is its result), or over.
STATES = ("preparing", "running", "paused", "stopped", "done", "failed", "cancelled")
OVER = ("done", "failed", "cancelled")
PARK_LIMIT_SECONDS = 30 * 60  # a run paused or stopped this long is cancelled


class LiveCancelled(Exception):
    """Raised in the optimiser's thread to end a cancelled run (and by result() for it)."""


class LiveProjection:
    """``embeddings.reduce.project`` of UMAP or t-SNE, run in a thread of its own and watched.

    Takes project()'s arguments. Frames are numbered from 1 in the order they come (``seq``);
    ``wait`` hands the newest one to any number of readers, none of which can slow the optimiser
    down (it only keeps a reference to the newest frame).
    """

    def __init__(self, vectors: Any, method: str, dims: int = 2, *, seed: int = 0,
                 park_limit: float = PARK_LIMIT_SECONDS, **options: Any) -> None:
        method = str(method).lower()
        if method not in LIVE_METHODS:
            raise InputError(f"only UMAP and t-SNE layouts can be watched as they form, not {method!r}")
        self.method, self.dims, self.seed = method, dims, seed
        self._args = (vectors, method, dims)
        self._options = dict(options, seed=seed)
        self._lock = threading.Condition()
        self._state = "preparing"
        self._wanted: str | None = None  # "pause" or "stop": applied at the next frame
        self._cancelled = False
        self._seq = 0
        self._frame: Frame | None = None
        self._progress = (0, 1)
        self._stopped: Projection | None = None
        self._result: Projection | None = None
        self._error: BaseException | None = None
        self._paused_seconds = 0.0
        self._thread: threading.Thread | None = None
        self._park_limit = park_limit
        self._listeners: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- the optimiser's side
    def start(self) -> LiveProjection:
        """Start computing (once); returns the run."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True, name=f"live-{self.method}")
                self._thread.start()
        return self

    def _work(self) -> None:
        try:
            result = self._compute()
        except BaseException as error:  # noqa: BLE001 - handed to result(); the thread ends quietly
            self._finished(None, error)
        else:
            self._finished(result, None)

    def _compute(self) -> Projection:
        return project(*self._args, progress=self._on_progress, frames=self._on_frame, **self._options)

    def _on_progress(self, done: int, total: int) -> None:
        with self._lock:
            if self._cancelled:
                raise LiveCancelled()
            self._progress = (done, total)

    def _on_frame(self, frame: Frame) -> None:
        with self._lock:
            if self._cancelled:
                raise LiveCancelled()
            self._seq += 1
            self._frame = frame
            if self._state == "preparing":
                self._state = "running"
            self._lock.notify_all()
        self._tell()
        self._hold(frame)

    def _hold(self, frame: Frame) -> None:
        """Wait here, between two iterations, while a pause or a stop is wanted."""
        parked_at, parked = time.perf_counter(), False
        while True:
            measure = tell = False
            with self._lock:
                if self._cancelled:
                    raise LiveCancelled()
                wanted = self._wanted
                if wanted is None:
                    if parked:
                        self._paused_seconds += time.perf_counter() - parked_at
                        self._state = "running"
                        self._lock.notify_all()
                    break
                if wanted == "stop" and self._stopped is None:
                    measure = True
                elif self._state != ("paused" if wanted == "pause" else "stopped"):
                    parked, tell = True, True
                    self._state = "paused" if wanted == "pause" else "stopped"
                    self._lock.notify_all()
                elif not self._lock.wait(timeout=max(0.0, parked_at + self._park_limit - time.perf_counter())):
                    self._cancelled = True  # waited too long: nobody is coming back for it
            if tell:
                self._tell()  # listeners are called without the lock
            if measure:
                # A stop wants the layout reached as a projection: measured outside the lock
                # (readers go on reading), valid for as long as the run waits at this frame.
                stopped = frame.projection()
                with self._lock:
                    if self._wanted == "stop" and self._stopped is None:
                        self._stopped = replace(stopped, seconds=stopped.seconds - self._paused_seconds)
        if parked:
            self._tell()  # going on again

    def _finished(self, result: Projection | None, error: BaseException | None) -> None:
        with self._lock:
            if isinstance(error, LiveCancelled) or (error is not None and self._cancelled):
                self._state = "cancelled"
            elif error is not None:
                self._state, self._error = "failed", error
            else:
                assert result is not None
                self._state = "done"
                self._result = replace(result, seconds=result.seconds - self._paused_seconds)
            self._lock.notify_all()
        self._tell()

    # ---------------------------------------------------------------- the watcher's side
    @property
    def state(self) -> str:
        """One of STATES."""
        with self._lock:
            return self._state

    @property
    def wanted(self) -> str | None:
        """A pause or stop asked for and not yet reached (the optimiser takes it at its next frame)."""
        with self._lock:
            return self._wanted if self._state not in OVER else None

    @property
    def progress(self) -> tuple[int, int]:
        """(done, total) of the whole run as project() reports it (neighbours, then iterations)."""
        with self._lock:
            return self._progress

    @property
    def reached(self) -> Projection | None:
        """The layout a stop reached, as a projection, while it stands: until resume() (also after
        the run ended, waiting there longer than its park limit); None otherwise."""
        with self._lock:
            return self._stopped

    @property
    def frame(self) -> Frame | None:
        with self._lock:
            return self._frame

    @property
    def seq(self) -> int:
        with self._lock:
            return self._seq

    @property
    def error(self) -> BaseException | None:
        with self._lock:
            return self._error

    def snapshot(self) -> dict:
        """The newest frame with how far the run has got, read at once: {seq, frame, state,
        wanted, progress, error} (error: the failure's one line)."""
        with self._lock:
            return {"seq": self._seq, "frame": self._frame, "state": self._state,
                    "wanted": self._wanted if self._state not in OVER else None, "progress": self._progress,
                    "error": None if self._error is None else (str(self._error).splitlines() or [type(self._error).__name__])[0]}

    def status(self, snapshot: dict | None = None) -> dict:
        """How far the run has got, as small JSON (what a map's live bar shows): seq, method,
        iteration, total, state, wanted, error. `snapshot`: one ``snapshot()`` to read it from."""
        snap = snapshot or self.snapshot()
        frame = snap["frame"]
        return {"seq": snap["seq"], "method": self.method, "iteration": frame.iteration if frame else 0,
                "total": frame.total if frame else 0, "state": snap["state"], "wanted": snap["wanted"],
                "error": snap["error"]}

    def wait(self, after: int = 0, timeout: float | None = None) -> tuple[int, Frame | None]:
        """(number, frame) of the newest frame once there is one newer than `after`, the run has
        ended, or `timeout` seconds passed (then the newest there is, maybe still number `after`)."""
        with self._lock:
            self._lock.wait_for(lambda: self._seq > after or self._state in OVER, timeout)
            return self._seq, self._frame

    def notify(self, listener: Callable[[], None]) -> None:
        """Call listener() once, at the run's next change (a frame, its state, a pause or stop asked
        for), from whichever thread makes it (the optimiser's, mostly): keep it short. A reader
        that waits this way wakes once per change it waits for, not on a timer (on 2 cores a
        timer's wake-ups take the optimiser's threads off their core)."""
        with self._lock:
            over = self._state in OVER
            if not over:
                self._listeners.append(listener)
        if over:
            listener()

    def _tell(self) -> None:
        with self._lock:
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener()

    def pause(self) -> None:
        """The optimiser waits at its next frame until resume()."""
        self._want("pause")

    def stop(self) -> None:
        """The optimiser waits at its next frame, and the layout reached there is the result (with
        its own quality figure, and a note saying where it stopped); resume() carries on from it."""
        self._want("stop")

    def resume(self) -> None:
        """Go on from a pause or a stop."""
        with self._lock:
            self._wanted = None
            self._stopped = None
            self._lock.notify_all()
        self._tell()

    def cancel(self) -> None:
        """End the run for good (at its next frame or progress report); result() then raises."""
        with self._lock:
            self._cancelled = True
            self._lock.notify_all()
        self._tell()

    def _want(self, what: str) -> None:
        with self._lock:
            if self._state not in OVER:
                self._wanted = what
                self._lock.notify_all()
        self._tell()

    def settled(self, timeout: float | None = None) -> str:
        """Wait until the run is over, or waits where a pause or stop put it; returns the state."""
        with self._lock:
            self._lock.wait_for(lambda: self._state in OVER or self._state in ("paused", "stopped")
                                and self._wanted is not None, timeout)
            return self._state

    def result(self, timeout: float | None = None) -> Projection:
        """The finished projection, or the layout reached when stopped; waits for one or the other.

        Raises what the run raised (an InputError for bad parameters), LiveCancelled for a cancelled
        run, TimeoutError after `timeout` seconds.
        """
        with self._lock:
            ready = self._lock.wait_for(lambda: self._state in OVER or self._stopped is not None
                                        and self._state == "stopped", timeout)
            if not ready:
                raise TimeoutError(f"the {self.method} layout is still being computed")
            if self._state == "stopped":
                assert self._stopped is not None
                return self._stopped
            if self._state == "cancelled":
                raise LiveCancelled(f"the {self.method} layout was cancelled")
            if self._error is not None:
                raise self._error
            assert self._result is not None
            return self._result
