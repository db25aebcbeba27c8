"""What the real-browser tests share: the skip-or-fail rule around harness/browser.py.

The servers and Chromium themselves come from harness.browser, the same code the benchmark
drives; here its errors become pytest's: in CI (``CI`` set) a browser test must run, so a
missing Chromium or package fails it; on a developer machine without them it skips and says why.
A server that does not start, a page that shows an exception or a wait that times out fails the test.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness import browser  # noqa: E402
from harness.browser import APP_MAIN, APP_SERVER, CHROMIUM, CHROMIUM_ARGS, free_port, stop, with_query  # noqa: E402

# What the browser tests import from here (APP_MAIN, APP_SERVER, CHROMIUM, CHROMIUM_ARGS, free_port, stop
# and with_query as harness.browser has them).
__all__ = ["APP_MAIN", "APP_SERVER", "CHROMIUM", "CHROMIUM_ARGS", "ROOT", "free_port", "stop", "poll", "in_ci",
           "require", "wait_for_port", "wait_idle", "RUN_S", "streamlit_server", "with_query", "chromium_page"]


def poll(page, read: Callable[[], object], until: Callable[[object], bool], timeout_s: float, what: str):
    """read() until until(value) holds; fails on a Streamlit exception box or with the last value."""
    try:
        return browser.poll(page, read, until, timeout_s, what)
    except (browser.PageError, TimeoutError) as exc:
        pytest.fail(str(exc))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


RUN_S = 300  # a script run of the app: seconds on an idle machine, a hang guard on a shared, loaded one


def wait_idle(page, timeout_s: float = RUN_S) -> None:
    """Until the app's script run is over: idle three polls in a row (a rerun that the map or a
    widget asked for has started and ended); fails on an exception box or after timeout_s."""
    try:
        browser.wait_idle(page, timeout_s)
    except (browser.PageError, TimeoutError) as exc:
        pytest.fail(str(exc))


def require(condition: bool, why: str, hint: str = "install Chromium (apt-get install chromium)") -> None:
    """Skip on a developer machine; fail in CI, where browser tests must never skip."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{why} (CI is set, so this browser test may not skip; .ci/run installs what it needs)")
    pytest.skip(f"{why}; {hint} to run it")


def wait_for_port(proc: subprocess.Popen, port: int, log: Path, what: str, seconds: float = 300) -> None:
    """Until proc listens on 127.0.0.1:port; fails the test if it exits first or time runs out."""
    try:
        browser.wait_for_port(proc, port, log, what, seconds)
    except browser.ServerError as exc:
        pytest.fail(str(exc))


@contextlib.contextmanager
def streamlit_server(script: Path, tmp_path: Path, **env_extra: str) -> Iterator[tuple[str, Path]]:
    """`streamlit run script` on a free port with its own empty vector cache: (url, log path).

    The explorer (app/main.py) is started as users start it, through app/server.py with an access
    token, and the url carries the token (``http://127.0.0.1:PORT/?token=...``; add parameters with
    ``with_query``). Test pages of their own (tests/pages) are served as they are.
    """
    env = dict(os.environ)
    env.update(
        EMBEDDINGS_CACHE=str(tmp_path / "cache" / "vectors.sqlite"),
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        **env_extra,
    )
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(browser.streamlit_server(script, tmp_path, env))
        except browser.ServerError as exc:
            pytest.fail(str(exc))
        yield server.url, server.log


@contextlib.contextmanager
def chromium_page(width: int, height: int, **context_options) -> Iterator:
    """A page in headless Chromium (Debian's, driven by Playwright); skips or fails when missing."""
    why = browser.browser_missing()
    require(why is None, why or "")
    with browser.chromium_page(width, height, **context_options) as page:
        yield page
