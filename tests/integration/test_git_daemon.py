"""git sources against a real git server: bare repositories served by `git daemon` on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from domain.errors import SourceError
from infrastructure.sources.git import clone, public_url, repo_name
from presentation.cli import cli
from tests.conftest import git, make_git_repo

pytestmark = pytest.mark.git


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A bare repository with three commits, served over git:// and reachable as file://."""
    base = tmp_path_factory.mktemp("served")
    work = base / "work"
    make_git_repo(work, {"calc.py": "def add(a, b):\n    return a + b\n"})
    (work / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    git(work, "commit", "-qam", "Add sub")
    (work / "calc.py").write_text((work / "calc.py").read_text() + "\n\ndef mul(a, b):\n    return a * b\n")
    (work / "notes.txt").write_text("not code\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "Add mul and notes")
    head = git(work, "rev-parse", "HEAD")
    repos = base / "repos"
    repos.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(repos / "calc.git")], check=True)
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", f"--base-path={repos}", "--export-all", "--reuseaddr", "--informative-errors",
         "--listen=127.0.0.1", f"--port={port}", str(repos)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"git://127.0.0.1:{port}/calc.git"
    for _ in range(100):
        if subprocess.run(["git", "ls-remote", url], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    yield {"git": url, "file": (repos / "calc.git").as_uri(), "head": head, "work": work, "port": port}
    daemon.terminate()
    daemon.wait(timeout=10)


def collect(*args: str) -> tuple[dict, list[dict], str]:
    out = Path(args[args.index("--output") + 1])
    result = CliRunner().invoke(cli, ["collect", *args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    rows = [r for s in manifest["shards"] for r in pq.read_table(out / s["path"]).to_pylist()]
    return manifest, rows, result.output


@pytest.mark.parametrize("scheme", ["git", "file"])
def test_clone_over_the_wire_records_the_commit(served, scheme, tmp_path):
    manifest, rows, _ = collect(served[scheme], "--output", str(tmp_path / "out"))
    source = manifest["sources"][0]
    assert source["commit"] == served["head"] and source["repo"].endswith("calc")
    assert source["origin"] == served[scheme]
    assert {r["name"] for r in rows if r["kind"] == "function"} == {"add", "sub", "mul"}
    assert {r["commit"] for r in rows} == {served["head"]}


def test_clones_are_shallow_by_default(served, tmp_path):
    commit, date = clone(served["git"], tmp_path / "c")
    assert commit == served["head"] and date.startswith("20")
    assert git(tmp_path / "c", "rev-parse", "--is-shallow-repository") == "true"
    assert git(tmp_path / "c", "rev-list", "--count", "HEAD") == "1"


def test_history_emits_commit_samples_with_message_date_and_diff(served, tmp_path):
    _, rows, _ = collect(served["git"], "--output", str(tmp_path / "out"), "--history", "2")
    commits = sorted((r for r in rows if r["kind"] == "commit"), key=lambda r: r["docstring"])
    assert [r["docstring"] for r in commits] == ["Add mul and notes", "Add sub"]  # notes.txt: not code
    mul = commits[0]
    assert mul["commit"] == served["head"] and mul["path"] == "calc.py" and mul["language"] == "python"
    assert mul["content"].startswith("diff --git a/calc.py b/calc.py") and "+def mul(a, b):" in mul["content"]
    assert mul["commit_date"].startswith("20")
    assert len({r["id"] for r in commits}) == 2


def test_a_missing_repository_fails_at_once_with_one_line(served, tmp_path):
    url = f"git://127.0.0.1:{served['port']}/missing.git"
    started = time.time()
    result = CliRunner().invoke(cli, ["collect", url, "--output", str(tmp_path / "out")])
    assert result.exit_code == 1 and time.time() - started < 30  # GIT_TERMINAL_PROMPT=0: no prompt, no hang
    assert result.output.startswith(f"Error: {url}: git clone failed") and result.output.count("\n") == 1
    with pytest.raises(SourceError):
        clone(url, tmp_path / "again")


def test_credentials_in_urls_are_never_recorded():
    assert public_url("https://user:s3cret@example.com/a/b.git") == "https://example.com/a/b.git"
    assert repo_name("https://user:s3cret@github.com/psf/requests.git") == "github.com/psf/requests"
    assert repo_name("git@github.com:psf/requests.git") == "github.com/psf/requests"
