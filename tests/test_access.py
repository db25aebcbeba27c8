"""The access token (embeddings.access, app/server.py): every start asks for it, as Jupyter does.

Unit tests drive the ASGI gate directly: without the token nothing reaches Streamlit (http gets
one line, a websocket is closed before it is accepted); the token in the URL passes and sets the
cookie; the cookie passes. Then the real server (`streamlit run app/server.py`, as make run starts
it): every Streamlit route answers the one line without the token. The browser test opens the
app from a second browser (a fresh context, no cookie) on a path whose reading leaves a trace
(inotify on the file, and on app/main.py, which Streamlit opens to run the script): the page is
the one line and nothing was opened; with the token everything works, and so does a reload
without the token in the URL (the cookie).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from browser_support import APP_MAIN, ROOT, chromium_page, poll, streamlit_server, with_query
from embeddings.access import (
    LAUNCHER_ENV, REFUSED, TOKEN_ENV, UNGATED, TokenGate, cookie_name, started_without_gate, token_link, token_setting,
)
from embeddings.errors import InputError
from embeddings.serve import SERVE_ENV, ServeRequest

TOKEN = "s3cret-token_for.tests"


# ------------------------------------------------------------------ the gate, as ASGI


def _call(scope: dict) -> tuple[list[dict], list[str]]:
    """Run the gate on one request; (messages it sent back, what reached the app behind it)."""
    reached: list[str] = []
    sent: list[dict] = []

    async def inner(scope, receive, send):
        reached.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"app"})

    async def receive():
        return {"type": "websocket.connect"} if scope["type"] == "websocket" else {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(TokenGate(inner, TOKEN)(scope, receive, send))
    return sent, reached


def _scope(kind: str = "http", path: str = "/", query: str = "", cookie: str | None = None) -> dict:
    headers = [(b"host", b"127.0.0.1:8501")] + ([(b"cookie", cookie.encode())] if cookie else [])
    return {"type": kind, "path": path, "query_string": query.encode(), "headers": headers,
            "server": ("127.0.0.1", 8501)}


def test_without_the_token_nothing_reaches_the_app() -> None:
    for scope in (_scope(), _scope(path="/_stcore/host-config"), _scope(path="/component/x/index.html"),
                  _scope(query="token=wrong-token"), _scope(cookie=f"{cookie_name(8501)}=wrong-token"),
                  _scope(cookie=f"{cookie_name(8502)}={TOKEN}")):  # another server's cookie
        sent, reached = _call(scope)
        assert reached == [], scope
        assert sent[0]["status"] == 403
        assert sent[1]["body"].decode().strip() == REFUSED
    sent, reached = _call(_scope("websocket", "/_stcore/stream"))
    assert reached == [] and sent == [{"type": "websocket.close", "code": 1008}]


def test_the_token_in_the_url_passes_and_is_kept_in_a_strict_http_only_cookie() -> None:
    sent, reached = _call(_scope(query=f"data=x&token={TOKEN}"))
    assert reached == ["http"] and sent[0]["status"] == 200
    cookies = [value.decode() for name, value in sent[0]["headers"] if name == b"set-cookie"]
    assert cookies == [f"{cookie_name(8501)}={TOKEN}; Path=/; HttpOnly; SameSite=Strict"]
    sent, reached = _call(_scope(cookie=f"other=1; {cookie_name(8501)}={TOKEN}"))
    assert reached == ["http"] and not [h for h in sent[0]["headers"] if h[0] == b"set-cookie"]
    _, reached = _call(_scope("websocket", "/_stcore/stream", cookie=f"{cookie_name(8501)}={TOKEN}"))
    assert reached == ["websocket"]
    _, reached = _call(_scope(path="/_stcore/health"))  # says "ok", nothing else: start-up checks poll it
    assert reached == ["http"]
    _, reached = _call(_scope(path="/component/x/_stcore/health"))  # only the health check itself
    assert reached == []
    _, reached = _call({"type": "lifespan"})
    assert reached == ["lifespan"]


def test_the_token_setting() -> None:
    assert token_setting({TOKEN_ENV: "off"}) is None and token_setting({TOKEN_ENV: " OFF "}) is None
    assert token_setting({TOKEN_ENV: TOKEN}) == TOKEN
    made = {token_setting({}) for _ in range(3)}
    assert len(made) == 3 and all(re.fullmatch(r"[A-Za-z0-9_-]{32}", t) for t in made)
    with pytest.raises(InputError, match=f"^{TOKEN_ENV}: a token is 8 to 256"):
        token_setting({TOKEN_ENV: "short"})
    assert token_link("127.0.0.1", 8501, TOKEN) == f"http://127.0.0.1:8501/?token={TOKEN}"
    assert token_link("127.0.0.1", 8501, None) == "http://127.0.0.1:8501/"


def test_the_page_refuses_to_work_when_served_without_the_gate() -> None:
    assert started_without_gate({}, served_over_http=True)  # a bare `streamlit run app/main.py`
    assert not started_without_gate({LAUNCHER_ENV: "app/server.py"}, served_over_http=True)
    assert not started_without_gate({TOKEN_ENV: "off"}, served_over_http=True)  # deliberately off
    assert not started_without_gate({}, served_over_http=False)  # AppTest: no browser, no HTTP
    assert "make run or embeddings view" in UNGATED


def test_this_streamlit_serves_app_server_as_an_asgi_app_with_the_gate() -> None:
    """Streamlit must see app/server.py as an st.App (so `streamlit run` serves it through its
    middleware), and st.App must still take middleware and lifespan: an upgrade that changes
    either fails here, not silently in front of users."""
    import inspect

    import streamlit as st
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app" / "server.py")
    assert found.is_asgi_app and found.app_name == "app", found
    parameters = inspect.signature(st.App).parameters
    assert {"middleware", "lifespan"} <= set(parameters)


# ------------------------------------------------------------------ the real server


class FileOpens:
    """Counts opens of some files (Linux inotify, through libc): a trace that reading them leaves."""

    IN_OPEN, IN_NONBLOCK = 0x20, 0o4000

    def __init__(self, *paths: Path) -> None:
        libc_name = ctypes.util.find_library("c")
        if sys.platform != "linux" or not libc_name:
            pytest.skip("inotify (Linux) is needed to see a file being opened")
        self.libc = ctypes.CDLL(libc_name, use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        for path in paths:
            assert self.libc.inotify_add_watch(self.fd, str(path).encode(), self.IN_OPEN) >= 0

    def count(self) -> int:
        """Opens seen since the last call (each event is 16 bytes, the files are named by watch)."""
        seen = 0
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return seen
            seen += len(chunk) // 16

    def close(self) -> None:
        os.close(self.fd)


def _answer(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"" if method in ("PUT", "POST") else None)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


JS_MAP_POINTS = """() => { const f = document.querySelector("iframe[title='app.components.map.point_map']");
  const S = f && f.contentWindow && f.contentWindow.__map; if (!S || !S.data) return null;
  return Number(f.contentDocument.getElementById('status').dataset.points); }"""


@pytest.mark.browser
@pytest.mark.slow
def test_a_second_browser_without_the_token_reads_nothing_and_the_token_opens_everything(tmp_path: Path) -> None:
    n = 40
    data = tmp_path / "private" / "vectors.npy"
    data.parent.mkdir()
    np.save(data, np.random.default_rng(0).standard_normal((n, 6)).astype(np.float32))
    # As `embeddings view private/vectors.npy` starts it: the page would read the file at once.
    request = ServeRequest(data=str(data)).to_env()
    with streamlit_server(APP_MAIN, tmp_path, **{SERVE_ENV: request}) as (url, log):
        base, _, token_query = url.partition("?")
        assert token_query.startswith("token=")
        link_without_token = with_query(base, {"data": str(data), "method": "pca"})
        # Opens of the data file, which a script run reads at once (the serve request names it). Not
        # of app/main.py: inotify sees every process's opens, and any other server started from this
        # checkout (a second copy of the suite beside this one) opens it too.
        opens = FileOpens(data)
        try:
            # Every Streamlit route answers the one line without the token (the websocket: 403).
            for path, method in (("/", "GET"), ("/_stcore/host-config", "GET"), ("/_stcore/metrics", "GET"),
                                 ("/component/app.components.map.point_map/index.html", "GET"),
                                 ("/media/0123456789abcdef.png", "GET"), ("/_stcore/upload_file/s/f", "PUT"),
                                 ("/static/index.html", "GET"), ("/_stcore/script-health-check", "GET"),
                                 (f"/?token=not-{token_query[6:]}", "GET")):
                assert _answer(base.rstrip("/") + path, method) == (403, REFUSED + "\n"), path
            assert _answer(base.rstrip("/") + "/_stcore/health")[0] == 200
            _websocket_is_refused(base)

            with chromium_page(1200, 800) as page:  # a second browser: no cookie, no token
                sockets: list = []
                page.on("websocket", lambda socket: sockets.append(socket.url))
                page.goto(link_without_token)
                time.sleep(5)  # time enough for a page that runs to open its websocket and read the file
                assert page.inner_text("body").strip() == REFUSED
                assert page.locator("[data-testid='stApp']").count() == 0 and sockets == []
                assert opens.count() == 0, "a request without the token opened the file (ran the script)"

                context = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
                owner = context.new_page()  # the owner's browser, opening the printed link
                owner.goto(url)
                poll(owner, lambda: owner.evaluate(JS_MAP_POINTS), lambda v: v == n, 300, "the map, with the token")
                assert opens.count() > 0  # the trace works: with the token the script ran and read the file
                assert "token=" in owner.url  # the address keeps the token: a link copied from it opens anywhere
                ours = cookie_name(int(base.rsplit(":", 1)[1].strip("/")))
                (cookie,) = [c for c in context.cookies() if c["name"].startswith("embeddings_")]
                assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (ours, True, "Strict")
                owner.goto(link_without_token)  # a reload, or a link without the token, in the same browser
                poll(owner, lambda: owner.evaluate(JS_MAP_POINTS), lambda v: v == n, 300, "the map, by cookie")
                assert "token=" not in owner.url
                context.close()
        finally:
            opens.close()
        assert "Traceback" not in log.read_text()


def _websocket_is_refused(base: str) -> None:
    import websockets

    async def connect() -> str:
        try:
            async with websockets.connect(base.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream",
                                          subprotocols=["streamlit"], open_timeout=120):
                return "accepted"
        except websockets.exceptions.InvalidStatus as error:
            return f"refused {error.response.status_code}"

    assert asyncio.run(connect()) == "refused 403"
