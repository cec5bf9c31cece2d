"""Whether a project's source changed since its last collect, told cheaply without collecting:
a git work tree by its HEAD commit and `git status`, a plain folder by its files' sizes and
modification times, a git URL by `git ls-remote`. Anything else is unknown (collected again)."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=60, env=GIT_ENV)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _folder_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):  # os.walk does not follow symlinked folders
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = Path(folder) / name
            stat = path.lstat()
            digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def source_state(source: str) -> str | None:
    """A string that changes when the source's content does; None when that cannot be told."""
    path = Path(source)
    if "://" not in source and path.is_dir():
        head = _git("-C", str(path), "rev-parse", "HEAD")
        if head and (path / ".git").exists():
            dirty = _git("-C", str(path), "status", "--porcelain") or ""
            return f"git:{head.strip()}:{hashlib.sha256(dirty.encode()).hexdigest()[:12]}"
        return f"folder:{_folder_digest(path)}"
    if source.startswith(("git://", "https://", "http://", "ssh://", "git@")) and "@" not in source.split("://")[-1].split("/")[0]:
        remote = _git("ls-remote", source, "HEAD")
        return f"remote:{remote.split()[0]}" if remote else None
    return None
