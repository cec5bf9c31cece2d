"""Walk a checkout without ever leaving it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "site-packages", "node_modules", ".venv", "venv"})


def walk_files(root: Path) -> Iterator[Path]:
    """Yield regular files under `root` in sorted order.

    Symlinks are followed only when their target stays inside `root`; `.git` internals are
    never yielded. Folder symlinks are not descended (their targets inside the repository are
    walked anyway), so nothing is read twice and no link cycle can trap the walk.
    """
    root = Path(root).resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                target = path.resolve()
                if root not in target.parents or not target.is_file():
                    continue
            elif not path.is_file():
                continue
            yield path
