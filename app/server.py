"""The explorer's server: app/main.py behind its access token. `make run` and `embeddings view` start
it as `streamlit run app/server.py`.

Streamlit serves app/main.py as an ``st.App`` (its ASGI server) whose first middleware is
``embeddings.access.TokenGate``: a request without the token is answered with one line before
Streamlit sees it (no session, no script run, no file read). When the server is up, it prints the
link with the token. ``EMBEDDINGS_TOKEN`` sets the token (a new random one otherwise);
``EMBEDDINGS_TOKEN=off`` turns it off, deliberately, and says so.
The app's own routes beside Streamlit's: the live routes (``app.live``), from which the map
fetches the frames of a UMAP or t-SNE layout forming (behind the same gate). Served as plain
`streamlit run app/main.py` (tests' AppTest), the app computes those layouts behind a spinner.
"""

from __future__ import annotations

import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

# `streamlit run app/server.py` puts app/ on sys.path, not the repository root.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from app.live import live_routes  # noqa: E402
from embeddings.access import LAUNCHER_ENV, TOKEN_ENV, TokenGate, token_link, token_setting  # noqa: E402
from embeddings.errors import InputError  # noqa: E402

try:
    TOKEN = token_setting()
except InputError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
os.environ[LAUNCHER_ENV] = "app/server.py"  # app/main.py checks that it is served through this gate


@asynccontextmanager
async def announce(_app: object) -> AsyncIterator[None]:
    """Once the server listens: the link to open (Streamlit's own welcome lines are turned off)."""
    host, port = st.get_option("server.address") or "localhost", st.get_option("server.port")
    if TOKEN is None:
        print(f"  The embedding explorer: {token_link(host, port, None)}\n  The access token is off ({TOKEN_ENV}=off): "
              "anyone who can reach this address can use it, with your rights.", flush=True)
    else:
        print(f"  The embedding explorer (open this link; it carries the access token):\n  "
              f"{token_link(host, port, TOKEN)}", flush=True)
    yield


GATE = [Middleware(TokenGate, token=TOKEN, base_path=st.get_option("server.baseUrlPath") or "")] if TOKEN else []
BASE = st.get_option("server.baseUrlPath") or ""
app = st.App("main.py", middleware=GATE, lifespan=announce, routes=live_routes(BASE))
