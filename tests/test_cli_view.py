"""`embeddings view DATA`: checks DATA before starting, serves the explorer on 127.0.0.1 only and
behind an access token (the printed link carries it; without it, one line), opens on that file
(through the data panel's one path source, "A path on this machine"), and stops on Ctrl-C;
`--no-token` serves without the token, on purpose."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, poll, require
from embeddings.access import REFUSED

SENTENCES = ROOT / "sample_data" / "sentences.csv"


def view_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "embeddings", "view", *map(str, args)]


def child_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", EMBEDDINGS_CACHE=str(tmp_path / "cache.sqlite"))
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    return env


@pytest.mark.parametrize(
    "args, needles",
    [
        (["missing.csv"], ["missing.csv", "no such file"]),
        ([SENTENCES, "--metadata", SENTENCES], ["a metadata file goes with a vectors file"]),
        ([SENTENCES, "--text-column", "nope"], ["no column 'nope'"]),
        ([SENTENCES, "--port", "70000"], ["--port 70000"]),
    ],
    ids=["missing", "metadata-with-texts", "bad-column", "bad-port"],
)
def test_bad_input_is_one_line_and_no_server(tmp_path: Path, args, needles) -> None:
    done = subprocess.run(view_command(*args), capture_output=True, text=True, env=child_env(tmp_path),
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for needle in needles:
        assert needle in lines[0]
    assert done.stdout == ""  # no URL: nothing was started


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.slow
@pytest.mark.browser
def test_view_serves_the_file_on_localhost_and_stops(tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright is not installed (pip install -e '.[test]')")
    port = free_port()
    # the asked port is taken: view says so and uses the next free one
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        log = open(tmp_path / "view.err", "w")
        proc = subprocess.Popen(view_command(SENTENCES, "--port", port), stdout=subprocess.PIPE,
                                stderr=log, text=True, env=child_env(tmp_path), cwd=tmp_path)
        try:
            line = proc.stdout.readline().strip()  # the URL, once the server answers
            found = re.fullmatch(r"(http://127\.0\.0\.1:(\d+)/)\?token=[A-Za-z0-9_-]{32}", line)
            assert found, (line, (tmp_path / "view.err").read_text())
            used = int(found.group(2))
            assert used != port and f"port {port} is in use; using {used}" in (tmp_path / "view.err").read_text()
            assert listening_addresses(used) == {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0 or ::
            with urllib.request.urlopen(line, timeout=120) as answer:
                assert answer.status == 200 and b"<html" in answer.read().lower()
            with pytest.raises(urllib.error.HTTPError) as refused:  # the address without the token
                urllib.request.urlopen(found.group(1), timeout=120)
            assert refused.value.code == 403 and refused.value.read().decode().strip() == REFUSED
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    page.goto(line)
                    source = page.get_by_role("radio", name="A path on this machine")
                    poll(page, lambda: source.count() and source.is_checked(), bool, 300, "the path source")
                    assert page.get_by_role("radio", name="File on this machine").count() == 0  # one path source
                    path = page.get_by_role("textbox", name="Path", exact=True)
                    # the fields arrive as the first run streams in: the path may follow the radio by a moment
                    poll(page, lambda: path.count() and path.input_value(), lambda v: v == str(SENTENCES), 300,
                         "the path filled in")
                    summary = page.get_by_text(re.compile(r"\b300 points\b"))
                    poll(page, summary.count, lambda n: n > 0, 900, "the map's summary of 300 points")
                    assert page.get_by_text("300 texts from sentences.csv").count() == 1
                finally:
                    browser.close()
        finally:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                code = proc.wait(120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                log.close()
    assert code == 0, (tmp_path / "view.err").read_text()
    deadline = time.time() + 15
    while listening_addresses(used) and time.time() < deadline:
        time.sleep(0.2)
    assert not listening_addresses(used)  # the server went with it


@pytest.mark.slow
def test_no_token_is_deliberate_and_said(tmp_path: Path) -> None:
    """--no-token: the link has no token, the page opens without it, and the command says what that means."""
    proc = subprocess.Popen(view_command(SENTENCES, "--port", free_port(), "--no-token"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(tmp_path), cwd=tmp_path)
    try:
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", line), line
        with urllib.request.urlopen(line, timeout=120) as answer:
            assert answer.status == 200 and b"<html" in answer.read().lower()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "the access token is off, so anyone on this machine can open it" in proc.stderr.read()
