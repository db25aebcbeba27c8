"""The live routes: a layout forming, sent to the map as it forms (the frames of an
``embeddings.live.LiveProjection``) by the app's own server, so the page never reruns for them.

A Streamlit script that is computing cannot send a component new arguments without a rerun, so
the frames take another way: two routes of the app's server (``live_routes``, mounted by
app/server.py in its ``st.App``), which the map's Streamlit host calls from the browser:

- ``GET /emap-live/<name>?after=N&status=S`` answers with ``embeddings.mapdata.pack_coords`` of
  the newest frame (with how far the run has got, under ``live``) as soon as there is a frame
  newer than N, or the run's status (state and what was asked of it) is no longer S, or after
  LONG_POLL_SECONDS (then no coordinates). The browser asks for the next frame once it has
  drawn the last, so a slow browser gets fewer frames and never a queue of them.
- ``POST /emap-live/<name>/pause|resume|stop`` asks the run for that.

Who may call them: the routes sit behind the same access-token gate as every other route of the
server (the gate is the st.App's first middleware), and each run is named by a random name of
its own (``publish``), which only the session that started it learns, through the component's
arguments on Streamlit's websocket. Without the app's server (AppTest, or app/main.py served
without app/server.py) ``served()`` is False and the app computes layouts as before.

This module imports no Streamlit component (app/server.py imports it before the app's runtime
exists, and a component declared then would not be served).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from typing import Any

# The server computes a layout while the browser draws it, on the same cores. OpenMP's default is
# to keep waiting threads spinning, so openTSNE's two threads then burn a core fighting the
# browser: a 3,000-point t-SNE with one core busy took 21.6 s, and 11.1 s with passive waiting
# (10.7 s alone). Read when OpenMP starts, which in this process is after this import (the app's
# first layout); an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from embeddings.live import OVER, LiveProjection
from embeddings.mapdata import pack_coords

ROUTE = "/emap-live"
LONG_POLL_SECONDS = 10.0
KEEP_OVER_SECONDS = 300.0  # a run that is over stays readable this long (its last frames may be in flight)
ACTIONS = ("pause", "resume", "stop")

_runs: dict[str, LiveProjection] = {}
_over_since: dict[str, float] = {}
_lock = threading.Lock()
_served = False
_base = ""


def served() -> bool:
    """True when this process's server has the live routes (app/server.py mounted them)."""
    return _served


def publish(run: LiveProjection) -> str:
    """Make a run's frames readable; returns the address the browser reads them from."""
    name = secrets.token_urlsafe(18)
    now = time.monotonic()
    with _lock:
        for old, other in list(_runs.items()):  # forget runs that ended a while ago
            if other.state in OVER:
                if now - _over_since.setdefault(old, now) > KEEP_OVER_SECONDS:
                    _runs.pop(old, None)
                    _over_since.pop(old, None)
        _runs[name] = run
    return f"{_base}{ROUTE}/{name}"


def withdraw(address: str) -> None:
    """The run behind this address is no longer readable."""
    name = address.rsplit("/", 1)[-1]
    with _lock:
        _runs.pop(name, None)
        _over_since.pop(name, None)


def _status_key(status: dict) -> str:
    return f"{status['state']}|{status['wanted'] or ''}"


async def _frames(request: Any) -> Any:
    from starlette.responses import Response

    run = _runs.get(request.path_params["name"])
    if run is None:
        return Response("no such layout (it ended, or the server restarted)", status_code=404)
    try:
        after = int(request.query_params.get("after", "0"))
    except ValueError:
        after = 0
    known = request.query_params.get("status", "")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LONG_POLL_SECONDS
    while True:
        changed = loop.create_future()
        # woken by the run's next change, not by a timer (see LiveProjection.notify)
        run.notify(lambda: loop.call_soon_threadsafe(_settle, changed))
        snap = run.snapshot()
        status = run.status(snap)
        if snap["seq"] > after or _status_key(status) != known or loop.time() >= deadline:
            break
        try:
            await asyncio.wait_for(changed, timeout=deadline - loop.time())
        except asyncio.TimeoutError:
            pass
    frame = snap["frame"] if snap["seq"] > after else None
    body = pack_coords([frame.coords] if frame is not None else [], live=status)
    return Response(body, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


async def _control(request: Any) -> Any:
    from starlette.responses import Response

    run, action = _runs.get(request.path_params["name"]), request.path_params["action"]
    if run is None or action not in ACTIONS:
        return Response("no such layout or action", status_code=404)
    getattr(run, action)()
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


def live_routes(base_path: str = "") -> list:
    """The two routes, for ``st.App(routes=...)``; `base_path` is Streamlit's server.baseUrlPath."""
    from starlette.routing import Route

    global _served, _base
    _base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    _served = True
    return [
        Route(f"{_base}{ROUTE}/{{name}}", _frames, methods=["GET"]),
        Route(f"{_base}{ROUTE}/{{name}}/{{action}}", _control, methods=["POST"]),
    ]
