"""A Streamlit server on a free port and a headless Chromium: one copy for the tests and the benchmark.

The explorer (app/main.py) is started as users start it: through app/server.py, behind an access
token of its own, and the server's URL carries it (``http://127.0.0.1:PORT/?token=...``); any
other script (a test page, the benchmark's map page) is served as it is. Debian's Chromium is
driven by Playwright (never a browser Playwright downloads); servers listen on 127.0.0.1 on a port
the system hands out (others run servers on this machine too).

Failures are ordinary exceptions: BrowserMissing (no Chromium or Playwright here), ServerError (a
server that exited or never listened), PageError (the page shows an exception) and TimeoutError.
tests/browser_support.py turns them into pytest's skip or fail; the benchmark reports them as a
failed section.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from embeddings.access import OFF, TOKEN_ENV, new_token, token_link

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
APP_MAIN = ROOT / "app" / "main.py"
APP_SERVER = ROOT / "app" / "server.py"  # app/main.py behind its access token, as make run starts it


class BrowserMissing(RuntimeError):
    """Chromium or Playwright is not installed on this machine."""


class ServerError(RuntimeError):
    """A server exited or did not listen in time; the message ends with its log."""


class PageError(RuntimeError):
    """The page shows a Streamlit exception box."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_for_port(proc: subprocess.Popen, port: int, log: Path, what: str, seconds: float = 300) -> None:
    """Until something listens on 127.0.0.1:port; ServerError if proc exits first or time runs out."""
    deadline = time.time() + seconds
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if proc.poll() is not None:
            raise ServerError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.time() > deadline:
            raise ServerError(f"{what} did not listen on port {port} within {seconds:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Server:
    url: str  # the page to open; the explorer's carries its token (http://127.0.0.1:PORT/?token=...)
    process: subprocess.Popen
    log: Path
    started: float  # time.perf_counter() just before the process was started
    token: str | None = None  # the explorer's access token; None for a page served as it is


def with_query(url: str, query: Mapping[str, str]) -> str:
    """`url` (with or without its ?token=) with more URL parameters."""
    from urllib.parse import urlencode

    base, _, present = url.partition("?")
    return f"{base.rstrip('/')}/?" + "&".join(part for part in (present, urlencode(query)) if part)


@contextlib.contextmanager
def streamlit_server(script: Path, log_dir: Path, env: Mapping[str, str] | None = None, *,
                     args: Sequence[str] = (), seconds: float = 300, gate: bool = True) -> Iterator[Server]:
    """`streamlit run script` on a free port of 127.0.0.1 (cwd: the repository), stopped on exit.

    The explorer (APP_MAIN) runs through APP_SERVER with a new access token (EMBEDDINGS_TOKEN in
    its environment, the token in Server.url); any other script runs as it is. gate=False serves
    app/main.py bare, with the token deliberately off (no token, no live routes: how the app ran
    before app/server.py, a baseline for the benchmark). env: the server's whole environment
    (default: this process's). args: more `streamlit run` flags. Its output goes to
    log_dir/streamlit-<port>.log.
    """
    port = free_port()
    log = Path(log_dir) / f"streamlit-{port}.log"
    explorer = Path(script).resolve() == APP_MAIN
    token = new_token() if explorer and gate else None
    env = dict(os.environ if env is None else env)
    if explorer:
        env[TOKEN_ENV] = token or OFF
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP_SERVER if token else script),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *args,
    ]
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        wait_for_port(proc, port, log, "streamlit", seconds)
        yield Server(token_link("127.0.0.1", port, token).rstrip("/"), proc, log, started, token)
    finally:
        stop(proc)


def browser_missing() -> str | None:
    """Why no Chromium can be driven here, or None when it can."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


@contextlib.contextmanager
def chromium() -> Iterator:
    """Headless Chromium (a Playwright Browser), closed on exit; BrowserMissing when it cannot start."""
    why = browser_missing()
    if why:
        raise BrowserMissing(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(width: int, height: int, **context_options) -> Iterator:
    """A page of width x height in a new headless Chromium."""
    with chromium() as browser:
        yield browser.new_context(viewport={"width": width, "height": height}, **context_options).new_page()


# No script run of the app under way (Streamlit's running icon) and nothing left stale by the last one.
JS_IDLE = """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
  && !document.querySelector('[data-stale="true"]')"""


def _raise_on_exception_box(page) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        raise PageError(f"the page shows an exception: {exceptions.first.inner_text()[:2000]}")


def wait_idle(page, timeout_s: float, polls: int = 3, interval_s: float = 0.3) -> float:
    """Until the app's script run is over: idle `polls` polls in a row (a rerun that the map or a
    widget asked for has started and ended); the seconds waited. PageError on a Streamlit exception
    box, TimeoutError after timeout_s."""
    start = time.perf_counter()
    calm = 0
    while calm < polls:
        calm = calm + 1 if page.evaluate(JS_IDLE) else 0
        _raise_on_exception_box(page)
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError(f"the app was still running after {timeout_s:.0f} s")
        time.sleep(interval_s)
    return time.perf_counter() - start


def poll(page, read: Callable[[], object], until: Callable[[object], bool], timeout_s: float, what: str):
    """read() until until(value) holds: that value. PageError on a Streamlit exception box,
    TimeoutError (with the last value) when time runs out."""
    deadline = time.time() + timeout_s
    value = None
    while time.time() < deadline:
        value = read()
        if value is not None and until(value):
            return value
        _raise_on_exception_box(page)
        time.sleep(0.25)
    raise TimeoutError(f"{what} not as expected within {timeout_s:.0f} s; last state {value}")
