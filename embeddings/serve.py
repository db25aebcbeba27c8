"""Serving the explorer (the Streamlit app) on a file, in the browser: the `embeddings view DATA` command.

The CLI checks DATA first (the same `load_input` every command uses), then starts
`streamlit run app/server.py` (app/main.py behind its access token, `embeddings.access`) in a
child process, headless, listening on 127.0.0.1 only, and tells the app what to open through one
environment variable (`SERVE_ENV`, a small JSON `ServeRequest`) and which token to ask for
(`EMBEDDINGS_TOKEN`). The app's data panel then starts on its one path source, "A path on this
machine", with the path, metadata, text column, model and level filled in, and reads it through
`load_input` again (no parsing of its own). Nothing here imports Streamlit: the app runs in its
own process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

from embeddings.access import OFF, TOKEN_ENV
from embeddings.errors import InputError

SERVE_ENV = "EMBEDDINGS_SERVE"
HOST = "127.0.0.1"  # local and private: never 0.0.0.0 from here
DEFAULT_PORT = 8501
PORTS_TRIED = 20  # from the asked port upwards, when it is taken
READY_SECONDS = 120.0
# Streamlit reads .streamlit/config.toml from the working directory only, so `view` (started
# from anywhere) passes the project's settings on the command line.
STREAMLIT_OPTIONS = (
    "--server.headless", "true",
    "--server.address", HOST,
    "--browser.gatherUsageStats", "false",
    "--client.toolbarMode", "viewer",
    "--server.maxUploadSize", "1024",
    "--server.fileWatcherType", "none",
    "--server.runOnSave", "false",
    "--runner.postScriptGC", "false",  # a full collection after every rerun: ~0.9 s (.streamlit/config.toml)
    "--logger.hideWelcomeMessage", "true",  # its URL lacks the token; the CLI prints the link itself
)


@dataclass(frozen=True)
class ServeRequest:
    """What `embeddings view` asks the app to open: DATA as the CLI names it, and how to read it."""

    data: str
    metadata: str | None = None
    model: str | None = None
    text_column: str | None = None
    level: str = "text"
    image_column: str | None = None  # a table's column of image paths: the points are those images

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ServeRequest | None":
        """The request the CLI left for the app, or None (the app was started some other way)."""
        raw = (os.environ if environ is None else environ).get(SERVE_ENV)
        if not raw:
            return None
        try:
            fields = json.loads(raw)
            return cls(**{key: fields.get(key) for key in ("data", "metadata", "model", "text_column", "image_column")},
                       level=fields.get("level") or "text")
        except (ValueError, TypeError):
            return None


def app_script(name: str = "server.py") -> Path:
    """app/server.py (the app behind its token) beside the package (the app ships in the repository,
    not in the wheel)."""
    script = Path(__file__).resolve().parent.parent / "app" / name
    if not script.is_file():
        raise InputError(f"the explorer app is not installed here (no {script}); run from a clone of the project")
    return script


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_port(wanted: int) -> int:
    """`wanted` if it is free, else the next free port above it (PORTS_TRIED tried in all)."""
    if not 1 <= wanted <= 65535:
        raise InputError(f"--port {wanted}: a port is a number from 1 to 65535")
    for port in range(wanted, min(65536, wanted + PORTS_TRIED)):
        if port_is_free(port):
            return port
    raise InputError(f"ports {wanted}-{wanted + PORTS_TRIED - 1} are all in use on {HOST}; choose one with --port")


def start_server(request: ServeRequest, port: int, log_path: Path, token: str | None) -> subprocess.Popen:
    """The Streamlit server on HOST:port asking for `token` (None: off), its output going to log_path."""
    env = dict(os.environ)
    env[SERVE_ENV] = request.to_env()
    env[TOKEN_ENV] = token or OFF
    root = str(app_script().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    command = [sys.executable, "-m", "streamlit", "run", str(app_script()), "--server.port", str(port),
               *STREAMLIT_OPTIONS]
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=root)


def wait_until_ready(server: subprocess.Popen, port: int, log_path: Path, timeout: float = READY_SECONDS) -> None:
    """Return once the server answers its health check; a server that exits says why."""
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise InputError(f"the app server stopped at start-up: {last_line(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise InputError(f"the app server did not answer on {HOST}:{port} within {timeout:.0f} s")


def last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1][:300] if lines else "no output"


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def log_file() -> Path:
    handle, path = tempfile.mkstemp(prefix="embeddings-view-", suffix=".log")
    os.close(handle)
    return Path(path)
