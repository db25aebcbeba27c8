"""The access token: only the person who started the explorer can open it, as with Jupyter.

The server listens on 127.0.0.1, but every user of the same machine can open 127.0.0.1 too, and
the explorer reads files by path with the rights of whoever started it. So every start (`make
run`, `embeddings view`) asks for a token: a random one per start, or ``EMBEDDINGS_TOKEN``. The
link it prints carries it (``http://127.0.0.1:8501/?token=...``). The first page opened with it
gets a cookie holding it (HttpOnly: the page's scripts cannot read it; SameSite=Strict: other
sites cannot send it; named after the port, so two explorers on one machine keep theirs apart),
so a reload, or a link without the token, works in the same browser.

``TokenGate`` is an ASGI middleware placed in front of every Streamlit route: the page, its
websocket (``/_stcore/stream``), component files, media, uploads. A request without the token
gets one line saying where to find the link (``REFUSED``); it never reaches Streamlit, so no
session starts, no script runs and no file is read. Only the health check answers without it
(it says "ok", nothing else).

Turning the token off is a deliberate setting: ``EMBEDDINGS_TOKEN=off`` (``embeddings view
--no-token``). Nothing here imports Streamlit.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import parse_qs

from embeddings.errors import InputError

TOKEN_ENV = "EMBEDDINGS_TOKEN"
OFF = "off"
TOKEN_PARAM = "token"  # the URL parameter
COOKIE_PREFIX = "embeddings_token_"  # + the port
HEALTH_PATH = "/_stcore/health"  # answers "ok" without the token (start-up checks poll it)
# Set by app/server.py, the launcher behind the gate; app/main.py run any other way under a real
# server refuses to work (unless the token is deliberately off).
LAUNCHER_ENV = "EMBEDDINGS_LAUNCHER"
REFUSED = ("This embedding explorer needs its access token: open the link with ?token= that was printed "
           "where it was started (make run or embeddings view).")
UNGATED = ("This page was started without its access token (streamlit run app/main.py), so anyone on this "
           "machine could open it: start it with make run or embeddings view, which print a link with the token "
           "(EMBEDDINGS_TOKEN=off turns the token off deliberately).")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9._~-]{8,256}$")

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def new_token() -> str:
    """A random token, 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def token_setting(environ: Mapping[str, str] | None = None) -> str | None:
    """The token this start asks for: EMBEDDINGS_TOKEN, else a new random one; None when it is "off"."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    if value.lower() == OFF:
        return None
    if value and not _TOKEN_CHARS.match(value):
        raise InputError(f"{TOKEN_ENV}: a token is 8 to 256 letters, digits or . _ ~ - (or 'off' to turn it off)")
    return value or new_token()


def token_link(host: str, port: int, token: str | None) -> str:
    """The URL to open: the server's address with the token in it (none when it is off)."""
    return f"http://{host}:{port}/" + (f"?{TOKEN_PARAM}={token}" if token else "")


def cookie_name(port: int | None) -> str:
    """Cookies are shared by every port of a host, so each server's is named after its port."""
    return f"{COOKIE_PREFIX}{port or 0}"


def started_without_gate(environ: Mapping[str, str], served_over_http: bool) -> bool:
    """True when app/main.py serves a browser without the gate (a bare `streamlit run app/main.py`)
    and the token was not turned off on purpose. AppTest sessions (no HTTP) are not served."""
    if not served_over_http or environ.get(LAUNCHER_ENV):
        return False
    return environ.get(TOKEN_ENV, "").strip().lower() != OFF


class TokenGate:
    """ASGI middleware: let a request through only with the token, in the URL or the cookie."""

    def __init__(self, app: Callable[..., Awaitable[None]], token: str, base_path: str = "") -> None:
        """`base_path`: Streamlit's server.baseUrlPath, under which its health check answers."""
        if not _TOKEN_CHARS.match(token or ""):
            raise ValueError("TokenGate needs a token of 8 to 256 URL-safe characters")
        self.app = app
        self._token = token.encode()
        base = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self._health = {base + HEALTH_PATH, base + HEALTH_PATH + "/"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (kind == "http" and scope.get("path") in self._health):
            await self.app(scope, receive, send)
            return
        name = cookie_name((scope.get("server") or (None, None))[1])
        if self._matches(_query_token(scope)):
            if kind == "http":  # remember it in this browser: reloads and links without it work
                send = _with_cookie(send, name, self._token.decode())
            await self.app(scope, receive, send)
        elif self._matches(_cookie(scope, name)):
            await self.app(scope, receive, send)
        else:
            await _refuse(kind, receive, send)

    def _matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self._token)


def _query_token(scope: Scope) -> str | None:
    query = parse_qs(bytes(scope.get("query_string") or b"").decode("latin-1"))
    values = query.get(TOKEN_PARAM)
    return values[-1] if values else None


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers") or ():
        if header.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, content = part.strip().partition("=")
            if key == name:
                return content
    return None


def _with_cookie(send: Send, name: str, token: str) -> Send:
    cookie = f"{name}={token}; Path=/; HttpOnly; SameSite=Strict".encode()

    async def sending(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)

    return sending


async def _refuse(kind: str, receive: Receive, send: Send) -> None:
    if kind == "websocket":
        await receive()  # websocket.connect; closing before accepting answers the handshake with 403
        await send({"type": "websocket.close", "code": 1008})
        return
    body = (REFUSED + "\n").encode()
    await send({"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
