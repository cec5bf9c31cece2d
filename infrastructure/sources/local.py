"""A folder on local disk, git working tree or not."""
from __future__ import annotations

import subprocess
from pathlib import Path

from domain.entities import Checkout
from domain.errors import SourceError


def git_head(root: Path) -> str | None:
    """HEAD commit of the git work tree at `root`, or None when it is not one."""
    if not (root / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


class LocalFetcher:
    def accepts(self, source: str) -> bool:
        return "://" not in source and not source.startswith(("github:", "git@"))

    def fetch(self, source: str, workdir: Path) -> list[Checkout]:
        root = Path(source).expanduser()
        if not root.exists():
            raise SourceError(f"{source}: no such file or directory")
        if not root.is_dir():
            raise SourceError(f"{source}: not a directory")
        root = root.resolve()
        return [Checkout(repo=root.name, root=root, commit=git_head(root), origin=source)]
