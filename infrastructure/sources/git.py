"""Any git URL, cloned with the real `git`; plus reading history for `--history`.

Clones are shallow (depth 1, or history + 1), never prompt for credentials
(GIT_TERMINAL_PROMPT=0: a private or missing repository fails at once instead of hanging), and
record the commit SHA. Credentials in a URL are stripped from everything recorded or printed;
a `git://` URL carrying them is refused before git runs (git:// has no authentication, and git
would hand `user:password@host` to the resolver as a host name). A clone that receives nothing
for `stall_seconds` (a server that accepts and never answers) is ended with its whole process
group, `git-remote-*` helpers included.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from application.collect.files import CommitChange
from domain.entities import Checkout
from domain.errors import SourceError

_URL = re.compile(r"^(file|git|https?|ssh|git\+ssh)://|^[\w.-]+@[\w.-]+:")
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
           "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"}
# A clone that receives nothing this long is stalled. git prints progress at least every second
# while data flows (--progress), so a minute of silence is a dead server, not a slow one.
STALL_SECONDS = 60.0
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class GitStalled(Exception):
    """git printed nothing for the stall window and was ended."""


def public_url(url: str) -> str:
    """`url` without user:password@ (safe to print and record)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def redact(text: str, url: str = "") -> str:
    """`text` without the userinfo of `url` nor of any other URL it quotes."""
    userinfo = urlsplit(url).netloc.rpartition("@")[0] if "://" in url else ""
    if userinfo:
        text = text.replace(userinfo + "@", "")
    return _USERINFO.sub("", text)


def refuse_credentials(url: str) -> None:
    """git:// has no authentication: a user:password@ there is a mistake that would leak."""
    if url.startswith("git://") and "@" in urlsplit(url).netloc:
        raise SourceError(f"{public_url(url)}: git:// URLs cannot carry a user or password (the git protocol "
                          f"has no authentication); use https:// or ssh:// for a private repository")


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


def run_git(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 900,
            stall_seconds: float | None = None) -> str:
    """Run git in a session of its own and return its stdout.

    Raises CalledProcessError, TimeoutExpired, or GitStalled when it printed nothing for
    `stall_seconds`. However it ends, its whole process group (remote helpers too) is killed.
    """
    process = subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **GIT_ENV, **(env or {})}, start_new_session=True)
    streams = {"out": bytearray(), "err": bytearray()}
    last = [time.monotonic()]
    readers = [threading.Thread(target=_drain, args=(pipe, streams[name], last), daemon=True)
               for name, pipe in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    try:
        _wait(process, time.monotonic() + timeout, stall_seconds, last)
    finally:
        _kill_group(process)
        for reader in readers:
            reader.join()
    out, err = (streams[name].decode("utf-8", "replace") for name in ("out", "err"))
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, args[0], out, err)
    return out


def _drain(pipe, sink: bytearray, last: list[float]) -> None:
    while chunk := os.read(pipe.fileno(), 65536):
        sink += chunk
        last[0] = time.monotonic()
    pipe.close()


def _wait(process: subprocess.Popen, deadline: float, stall_seconds: float | None, last: list[float]) -> None:
    while process.poll() is None:
        now = time.monotonic()
        if now > deadline:
            raise subprocess.TimeoutExpired(process.args, 0)
        if stall_seconds and now - last[0] > stall_seconds:
            raise GitStalled()
        time.sleep(0.1)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # helpers outlive git itself: end the whole group
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


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


def clone(url: str, dest: Path, depth: int | None = 1, env: dict | None = None,
          stall_seconds: float = STALL_SECONDS) -> tuple[str, str]:
    """Clone `url` into `dest`; returns (commit, commit date). Raises SourceError with git's reason."""
    refuse_credentials(url)
    # --progress: git reports every second while data flows, which is what the stall watch reads;
    # lowSpeed*: curl's own stall detection for http(s), same window.
    args = ["clone", "--progress", "--no-tags", "--single-branch", "-c", "core.symlinks=true",
            "-c", "http.lowSpeedLimit=1", "-c", f"http.lowSpeedTime={max(1, int(stall_seconds))}"]
    if depth:
        args += ["--depth", str(depth)]
    try:
        run_git(*args, url, str(dest), env=env, stall_seconds=stall_seconds)
    except subprocess.CalledProcessError as error:
        reason = [line for line in (error.stderr or "").splitlines() if line.strip()]
        # git's first fatal line is the cause; the paragraph after it is advice.
        reason = next((line for line in reason if line.startswith(("fatal:", "error:", "ssh:"))),
                      reason[-1] if reason else f"exit code {error.returncode}")
        raise SourceError(f"{public_url(url)}: git clone failed: {redact(reason.strip(), url)}") from None
    except GitStalled:
        raise SourceError(f"{public_url(url)}: git clone stalled: nothing received for {stall_seconds:g} s "
                          f"(raise --git-stall-timeout for a very slow server)") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"{public_url(url)}: git clone timed out") from None
    commit, date = head_commit(dest)
    return commit, date


class GitFetcher:
    """git URLs (`file://`, `git://`, `http(s)://`, `ssh://`, `user@host:path`).

    Args:
        history: Commits the caller will read back (`--history N`): the clone gets N + 1 of them.
        stall_seconds: End a clone that receives nothing this long.
    """

    def __init__(self, history: int = 0, stall_seconds: float = STALL_SECONDS):
        self.depth = history + 1
        self.stall_seconds = stall_seconds

    def accepts(self, source: str) -> bool:
        return bool(_URL.match(source))

    def fetch(self, source: str, workdir: Path) -> list[Checkout]:
        dest = checkout_dir(workdir)
        commit, date = clone(source, dest, self.depth, stall_seconds=self.stall_seconds)
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
