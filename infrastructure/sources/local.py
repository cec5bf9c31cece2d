"""A folder on local disk, git working tree or not."""
from __future__ import annotations

from pathlib import Path

from domain.entities import Checkout
from domain.errors import SourceError
from infrastructure.sources.git import head_commit


class LocalFetcher:
    def accepts(self, source: str) -> bool:
        return "://" not in source and not source.startswith(("github:", "github-org:", "github-search:", "git@"))

    def fetch(self, source: str, workdir: Path) -> list[Checkout]:
        root = Path(source).expanduser()
        if not root.exists():
            raise SourceError(f"{source}: no such file or directory")
        if not root.is_dir():
            raise SourceError(f"{source}: not a directory")
        root = root.resolve()
        commit, date = head_commit(root) if (root / ".git").exists() else (None, None)
        return [Checkout(repo=root.name, root=root, commit=commit, origin=source, commit_date=date)]
