"""What the real-browser tests share: Chromium, the skip-or-fail rule, and servers they start.

In CI (``CI`` set) a browser test must run: a missing Chromium or package fails it. On a
developer machine without them it skips and says why.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embeddings.access import TOKEN_ENV, new_token, token_link

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]


def poll(page, read: Callable[[], object], until: Callable[[object], bool], timeout_s: float, what: str):
    """read() until until(value) holds; fails on a Streamlit exception box or with the last value."""
    deadline = time.time() + timeout_s
    value = None
    while time.time() < deadline:
        value = read()
        if value is not None and until(value):
            return value
        exceptions = page.locator('[data-testid="stException"]')
        if exceptions.count():
            pytest.fail(f"the page shows an exception: {exceptions.first.inner_text()[:2000]}")
        time.sleep(0.25)
    pytest.fail(f"{what} not as expected within {timeout_s:.0f} s; last state {value}")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


RUN_S = 300  # a script run of the app: seconds on an idle machine, a hang guard on a shared, loaded one

# No script run under way (the running icon) and nothing left stale by the last one.
JS_IDLE = """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
  && !document.querySelector('[data-stale="true"]')"""


def wait_idle(page, timeout_s: float = RUN_S) -> None:
    """Until the app's script run is over: idle three polls in a row (a rerun that the map or a
    widget asked for has started and ended); fails on an exception box or after timeout_s."""
    deadline = time.time() + timeout_s
    calm = 0
    while calm < 3:
        calm = calm + 1 if page.evaluate(JS_IDLE) else 0
        exceptions = page.locator('[data-testid="stException"]')
        if exceptions.count():
            pytest.fail(f"the page shows an exception: {exceptions.first.inner_text()[:2000]}")
        if time.time() > deadline:
            pytest.fail(f"the app was still running after {timeout_s:.0f} s")
        time.sleep(0.3)


def require(condition: bool, why: str, hint: str = "install Chromium (apt-get install chromium)") -> None:
    """Skip on a developer machine; fail in CI, where browser tests must never skip."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{why} (CI is set, so this browser test may not skip; .ci/run installs what it needs)")
    pytest.skip(f"{why}; {hint} to run it")


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
    deadline = time.time() + seconds
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.time() > deadline:
            pytest.fail(f"{what} did not listen on port {port} within {seconds:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


APP_MAIN = ROOT / "app" / "main.py"
APP_SERVER = ROOT / "app" / "server.py"  # app/main.py behind its access token, as make run starts it


@contextlib.contextmanager
def streamlit_server(script: Path, tmp_path: Path, **env_extra: str) -> Iterator[tuple[str, Path]]:
    """`streamlit run script` on a free port with its own empty vector cache: (url, log path).

    The explorer (app/main.py) is started as users start it, through app/server.py with an access
    token, and the url carries the token (``http://127.0.0.1:PORT/?token=...``; add parameters with
    ``with_query``). Test pages of their own (tests/pages) are served as they are.
    """
    port = free_port()
    env = dict(os.environ)
    token = new_token() if Path(script) == APP_MAIN else None
    env.update(
        EMBEDDINGS_CACHE=str(tmp_path / "cache" / "vectors.sqlite"),
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        **({TOKEN_ENV: token} if token else {}),
        **env_extra,
    )
    log = tmp_path / "streamlit.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP_SERVER if token else script),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        wait_for_port(proc, port, log, "streamlit")
        yield token_link("127.0.0.1", port, token).rstrip("/"), log
    finally:
        stop(proc)


def with_query(url: str, query: dict[str, str]) -> str:
    """`url` (with or without its ?token=) with more URL parameters."""
    from urllib.parse import urlencode

    base, _, present = url.partition("?")
    return f"{base.rstrip('/')}/?" + "&".join(part for part in (present, urlencode(query)) if part)


@contextlib.contextmanager
def chromium_page(width: int, height: int, **context_options) -> Iterator:
    """A page in headless Chromium (Debian's, driven by Playwright); skips or fails when missing."""
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport={"width": width, "height": height}, **context_options).new_page()
        finally:
            browser.close()
