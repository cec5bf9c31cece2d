"""A memory cgroup per sandbox worker slot: the bound on a whole run's memory, all its processes
together (a program that forks 8 x 440 MB children is OOM-killed at the bound, not at 3.5 GB).

cgroup v2 (`memory.max`, the default on current distributions) or the v1 memory controller
(`memory.limit_in_bytes`, as on this machine). Only where we may write to the hierarchy (root,
in practice); otherwise `create` gives None and the sandbox bounds memory with rlimits. The
folders are named `codetrain-<pid>` after the evaluate process that made them: they are removed
at the end, and ones left by a process that died (kill -9) are removed by the next sandbox.
"""
from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class RunCgroups:
    """`codetrain-<pid>/slot-<n>` cgroups with a memory limit, made when a slot is first used."""

    def __init__(self, parent: Path, version: int, limit_bytes: int):
        self.parent, self.version, self.limit_bytes = parent, version, limit_bytes
        self._slots: dict[int, Path] = {}

    @classmethod
    def create(cls, limit_bytes: int, root: Path = CGROUP_ROOT) -> "RunCgroups | None":
        """Set up under the first writable memory hierarchy, or None if there is none."""
        v2 = root / "cgroup.controllers"
        if v2.exists() and "memory" in v2.read_text().split():
            base, version = root, 2
        elif (root / "memory" / "memory.limit_in_bytes").exists():
            base, version = root / "memory", 1
        else:
            return None
        _remove_stale(base)
        parent = base / f"codetrain-{os.getpid()}"
        try:
            if version == 2:
                _enable_memory(base)
            parent.mkdir(exist_ok=True)
            if version == 2:
                _enable_memory(parent)
        except OSError:
            _rmdir_tree(parent)
            return None
        return cls(parent, version, limit_bytes)

    def describe(self) -> str:
        setting = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        return f"cgroup v{self.version} {setting} {self.limit_bytes // 2**20} MiB"

    def procs_file(self, slot: int) -> str:
        """The `cgroup.procs` file a run in `slot` writes its supervisor's pid to."""
        folder = self._slots.get(slot)
        if folder is None:
            folder = self.parent / f"slot-{slot}"
            folder.mkdir(exist_ok=True)
            if self.version == 2:
                (folder / "memory.max").write_text(str(self.limit_bytes))
                _write_if_exists(folder / "memory.swap.max", "0")
            else:
                (folder / "memory.limit_in_bytes").write_text(str(self.limit_bytes))
                _write_if_exists(folder / "memory.memsw.limit_in_bytes", str(self.limit_bytes))
            self._slots[slot] = folder
        return str(folder / "cgroup.procs")

    def remove(self) -> None:
        _rmdir_tree(self.parent)
        self._slots.clear()


def _enable_memory(folder: Path) -> None:
    control = folder / "cgroup.subtree_control"
    if "memory" not in control.read_text().split():
        control.write_text("+memory")


def _write_if_exists(path: Path, value: str) -> None:
    if path.exists():  # swap accounting is optional
        path.write_text(value)


def _rmdir_tree(parent: Path) -> None:
    """rmdir the slot cgroups, then the parent (a cgroup still holding a process stays)."""
    if not parent.is_dir():
        return
    for folder in parent.glob("slot-*"):
        try:
            folder.rmdir()
        except OSError:
            pass
    try:
        parent.rmdir()
    except OSError:
        pass


def _remove_stale(base: Path) -> None:
    """Remove `codetrain-<pid>` cgroups whose evaluate process is gone."""
    for parent in base.glob("codetrain-*"):
        pid = parent.name.removeprefix("codetrain-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _rmdir_tree(parent)
