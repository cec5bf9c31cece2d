"""Issue 11, items 6, 10 and 12 (git part): URLs with credentials, servers that never answer, and
git's multi-line failures, through the real CLI and the real git binary on 127.0.0.1."""
from __future__ import annotations

import socket
import threading
import time

import psutil
import pytest
from click.testing import CliRunner

from presentation.cli import cli

pytestmark = pytest.mark.git


def collect(tmp_path, *args: str):
    return CliRunner().invoke(cli, ["collect", *args, "-o", str(tmp_path / "out"), "--workers", "1"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server():
    """Accepts every connection and never sends a byte, like a hung git or HTTP server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def test_password_in_a_git_url_is_refused_before_git_runs_and_never_printed(tmp_path):
    result = collect(tmp_path, "git://user:SECRET@127.0.0.1:9/r.git")
    assert result.exit_code == 1
    assert "SECRET" not in result.output and "user:" not in result.output
    assert "git:// URLs cannot carry a user or password" in result.output


def test_password_in_an_https_url_never_reaches_a_message(tmp_path):
    result = collect(tmp_path, f"https://user:SECRET@127.0.0.1:{closed_port()}/r.git")
    assert result.exit_code == 1
    assert "SECRET" not in result.output, result.output
    assert "git clone failed: fatal:" in result.output


def test_git_failures_name_the_reason_not_the_last_line_of_a_paragraph(tmp_path):
    result = collect(tmp_path, "file:///etc")
    assert result.exit_code == 1
    assert "does not appear to be a git repository" in result.output, result.output
    assert not result.output.strip().endswith("and the repository exists.")


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_a_server_that_never_answers_is_given_up_on_and_leaves_no_git_process(tmp_path, silent_server, scheme):
    url = f"{scheme}://127.0.0.1:{silent_server}/r.git"
    start = time.monotonic()
    result = collect(tmp_path, url, "--git-stall-timeout", "2")
    seconds = time.monotonic() - start
    assert result.exit_code == 1
    assert seconds < 20, seconds
    assert "stalled: nothing received for 2 s" in result.output or "git clone failed" in result.output, result.output
    time.sleep(0.5)
    leftovers = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                 if any(str(silent_server) in part for part in (p.info["cmdline"] or []))]
    assert not leftovers, leftovers
