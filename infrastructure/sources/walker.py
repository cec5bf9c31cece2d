"""Walk a checkout without ever leaving it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

# Without a policy from the caller, only version-control internals are pruned.
_VCS = frozenset({".git", ".hg", ".svn"})


def _default_skip_dir(name: str) -> str | None:
    return "ignored" if name in _VCS else None


def walk_files(
    root: Path,
    skip_dir: Callable[[str], str | None] = _default_skip_dir,
    on_skip: Callable[[str, str], None] = lambda reason, rel: None,
) -> Iterator[Path]:
    """Yield regular files under `root` in sorted order, never outside it.

    Symlinks are never followed: one pointing outside `root` is reported as `symlink_outside`
    (it could expose any file of the machine); a file link inside is reported as
    `symlink_inside` (its target is walked at its real path, so nothing is read twice) and a
    folder link inside is pruned silently, so no link cycle can trap the walk. Folders for which
    `skip_dir` gives a reason are pruned and reported, except `ignored` ones (`.git`
    internals), which are pruned silently.

    Args:
        root: Repository folder.
        skip_dir: Folder name -> reason to prune it (`vendored_dir`, `ignored`) or None.
        on_skip: Called with (reason, repository-relative path) for each pruned entry.
    """
    root = Path(root).resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            reason = skip_dir(name)
            rel = (here / name).relative_to(root).as_posix()
            if reason is None and (here / name).is_symlink():
                reason = "symlink_outside" if not _inside(root, here / name) else "ignored"
            if reason is None:
                kept.append(name)
            elif reason != "ignored":
                on_skip(reason, rel)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink():
                # outside: never read; inside: the target is collected at its own path anyway
                rel = path.relative_to(root).as_posix()
                on_skip("symlink_outside" if not _inside(root, path) else "symlink_inside", rel)
                continue
            if not path.is_file():
                continue  # sockets, fifos, devices
            yield path


def _inside(root: Path, link: Path) -> bool:
    target = link.resolve()
    return target == root or root in target.parents
