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
    """Yield regular files under `root` in sorted order (depth first), never outside it.

    Symlinks are never followed: one pointing outside `root` is reported as `symlink_outside`
    (it could expose any file of the machine); a file link inside is reported as
    `symlink_inside` (its target is walked at its real path, so nothing is read twice) and a
    folder link inside is pruned silently, so no link cycle can trap the walk (a link loop
    resolves inside). Folders for which `skip_dir` gives a reason are pruned and reported,
    except `ignored` ones (`.git` internals), which are pruned silently. Also reported:
    `non_utf8_name` (a name that is not UTF-8 cannot be a dataset's path), `not_regular_file`
    (FIFOs, sockets, devices: reading one could block or never end) and `unreadable_dir`. The
    walk keeps its own stack, so no nesting depth can exhaust Python's recursion limit.

    Args:
        root: Repository folder.
        skip_dir: Folder name -> reason to prune it (`vendored_dir`, `ignored`) or None.
        on_skip: Called with (reason, repository-relative path) for each pruned entry.
    """
    root = Path(root).resolve()
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda entry: entry.name)
        except OSError:
            on_skip("unreadable_dir", _relative(here, root))
            continue
        folders = []
        for entry in entries:
            path = Path(entry.path)
            reason = _skip_reason(entry, path, root, skip_dir)
            if reason == "folder":
                folders.append(path)
            elif reason is None:
                yield path
            elif reason != "ignored":
                on_skip(reason, _relative(path, root))
        stack += reversed(folders)


def _skip_reason(entry: os.DirEntry, path: Path, root: Path, skip_dir) -> str | None:
    """None for a file to read, "folder" for one to walk, else why the entry is left out."""
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:
        return "non_utf8_name"
    if entry.is_symlink():
        if not _inside(root, path):
            return "symlink_outside"
        return "ignored" if os.path.isdir(path) else "symlink_inside"  # isdir: False for a loop
    if entry.is_dir(follow_symlinks=False):
        return skip_dir(entry.name) or "folder"
    return None if entry.is_file(follow_symlinks=False) else "not_regular_file"


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix().encode("utf-8", "backslashreplace").decode("utf-8")


def _inside(root: Path, link: Path) -> bool:
    target = Path(os.path.realpath(link))  # never raises: a link loop resolves to a path inside
    return target == root or root in target.parents
