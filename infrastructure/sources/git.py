"""Any git URL, cloned with the real `git`; plus reading history for `--history`.

Clones are shallow (depth 1, or history + 1), never prompt for credentials
(GIT_TERMINAL_PROMPT=0: a private or missing repository fails at once instead of hanging), and
record the commit SHA. Credentials in a URL are stripped from everything recorded or printed.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from application.collect.files import CommitChange
from domain.entities import Checkout
from domain.errors import SourceError

_URL = re.compile(r"^(file|git|https?|ssh|git\+ssh)://|^[\w.-]+@[\w.-]+:")
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
           "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"}


def public_url(url: str) -> str:
    """`url` without user:password@ (safe to print and record)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def repo_name(url: str) -> str:
    """`https://github.com/psf/requests.git` -> `github.com/psf/requests`; file URLs -> folder name."""
    url = public_url(url)
    if url.startswith("file://"):
        return Path(urlsplit(url).path).name.removesuffix(".git")
    if "://" in url:
        parts = urlsplit(url)
        return f"{parts.hostname}{parts.path}".removesuffix(".git").rstrip("/")
    host, _, path = url.partition("@")[2].partition(":")
    return f"{host}/{path}".removesuffix(".git")


def run_git(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 900) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **GIT_ENV, **(env or {})}, check=False)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, args[0], done.stdout, done.stderr)
    return done.stdout


def head_commit(root: Path) -> tuple[str | None, str | None]:
    """(HEAD SHA, committer date ISO 8601) of the work tree at `root`, or (None, None)."""
    try:
        out = run_git("log", "-1", "--format=%H%n%cI", cwd=root, timeout=60).split()
    except (subprocess.CalledProcessError, OSError):
        return None, None
    return (out[0], out[1]) if len(out) == 2 else (None, None)


def checkout_dir(workdir: Path) -> Path:
    """A fresh, not yet existing folder under `workdir` for one clone."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="repo-", dir=workdir)) / "tree"


def clone(url: str, dest: Path, depth: int | None = 1, env: dict | None = None) -> tuple[str, str]:
    """Clone `url` into `dest`; returns (commit, commit date). Raises SourceError with git's reason."""
    args = ["clone", "--quiet", "--no-tags", "--single-branch", "-c", "core.symlinks=true"]
    if depth:
        args += ["--depth", str(depth)]
    try:
        run_git(*args, url, str(dest), env=env)
    except subprocess.CalledProcessError as error:
        reason = (error.stderr or "").strip().splitlines()
        raise SourceError(f"{public_url(url)}: git clone failed: {reason[-1] if reason else error}") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"{public_url(url)}: git clone timed out") from None
    commit, date = head_commit(dest)
    return commit, date


class GitFetcher:
    """git URLs (`file://`, `git://`, `http(s)://`, `ssh://`, `user@host:path`).

    Args:
        history: Commits the caller will read back (`--history N`): the clone gets N + 1 of them.
    """

    def __init__(self, history: int = 0):
        self.depth = history + 1

    def accepts(self, source: str) -> bool:
        return bool(_URL.match(source))

    def fetch(self, source: str, workdir: Path) -> list[Checkout]:
        dest = checkout_dir(workdir)
        commit, date = clone(source, dest, self.depth)
        return [Checkout(repo=repo_name(source), root=dest, commit=commit, origin=public_url(source),
                         commit_date=date)]


def list_commits(root: Path, count: int) -> list[str]:
    """The last `count` commits of HEAD that have a parent in the clone (newest first)."""
    out = run_git("log", f"-n{count}", "--format=%H %P", cwd=root)
    return [line.split()[0] for line in out.splitlines() if len(line.split()) >= 2]


def read_commit(root: Path, sha: str) -> list[CommitChange]:
    """One CommitChange per file the commit touched: message, author date, unified diff."""
    header = run_git("show", "-s", "--format=%aI%x00%B", sha, cwd=root)
    date, _, message = header.partition("\0")
    patch = run_git("show", "--format=", "--patch", "--no-color", "--no-ext-diff", "-M", sha, cwd=root)
    changes = []
    for chunk in re.split(r"(?m)^(?=diff --git )", patch):
        match = re.match(r"diff --git a/(.+?) b/(.+?)\n", chunk)
        if match and "\nBinary files " not in chunk:
            changes.append(CommitChange(sha, date.strip(), message.strip(), match.group(2), chunk))
    return changes
