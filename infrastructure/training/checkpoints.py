"""CheckpointManager: atomic checkpoint folders, integrity checks, retention, resume choice.

A checkpoint folder is written under a `.tmp-` name, its `checkpoint.json` (step, metric, and
size + xxh64 of every file) written last, then renamed into place. A folder whose record is
missing or whose files do not match it is corrupt: it is skipped with a warning.
"""
from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from typing import Callable

from application.train.checkpoint_policy import CheckpointInfo, Mode, checkpoints_to_delete, choose_checkpoint
from domain.errors import TrainingError
from domain.layout import CHECKPOINT_PREFIX, CHECKPOINT_RECORD, atomic_path

RECORD = CHECKPOINT_RECORD
PREFIX = CHECKPOINT_PREFIX


def _digest(path: Path) -> str:
    import xxhash

    hasher = xxhash.xxh64()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def out_of_space(exc: BaseException | None) -> bool:
    """Whether `exc`, or an error it was raised from, is a full disk or an exhausted quota.

    torch and safetensors wrap the OSError in errors of their own (torch's "enforce fail ...
    unexpected pos" when it writes to a path; with a Python file the OSError is its context)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def verify(folder: Path) -> str | None:
    """Why `folder` is not a complete checkpoint, or None when it is."""
    try:
        record = json.loads((folder / RECORD).read_text())
    except FileNotFoundError:
        return f"no {RECORD}"
    except (OSError, json.JSONDecodeError):
        return f"unreadable {RECORD}"
    for rel, expected in record.get("files", {}).items():
        path = folder / rel
        if not path.is_file():
            return f"{rel} is missing"
        if path.stat().st_size != expected["size"]:
            return f"{rel} is truncated ({path.stat().st_size} of {expected['size']} bytes)"
        if _digest(path) != expected["xxh64"]:
            return f"{rel} does not match its checksum"
    return None


class CheckpointManager:
    """Saves, lists, prunes and resolves checkpoints under `root` (the run's `checkpoints/`)."""

    def __init__(self, root: Path, keep_best: int, mode: Mode, warn: Callable[[str], None] = print):
        self.root, self.keep_best, self.mode, self.warn = Path(root), keep_best, mode, warn

    def save(self, step: int, metric: float | None, write: Callable[[Path], None]) -> Path:
        """Write a checkpoint through `write(folder)`, seal it, rename it into place, prune."""
        final = self.root / f"{PREFIX}{step:06d}"
        shutil.rmtree(final, ignore_errors=True)  # a rerun of this step: ours, so ours to replace
        try:
            with atomic_path(final) as tmp:  # on any failure the partial .tmp- folder is removed
                tmp.mkdir()
                write(tmp)
                files = {p.relative_to(tmp).as_posix(): {"size": p.stat().st_size, "xxh64": _digest(p)}
                         for p in sorted(tmp.rglob("*")) if p.is_file()}
                (tmp / RECORD).write_text(json.dumps({"step": step, "metric": metric, "files": files}, indent=1))
        except Exception as exc:
            if not out_of_space(exc):
                raise
            kept = self.valid()
            previous = f"the previous checkpoint {kept[-1].name} is intact" if kept else "no earlier checkpoint"
            raise TrainingError(f"no space left on device while writing checkpoint step {step} in {self.root} "
                                f"(the partial folder was removed; {previous}): free some space, then rerun "
                                f"with --resume latest") from None
        self.prune()
        return final

    def valid(self) -> list[CheckpointInfo]:
        """Complete checkpoints, oldest first; corrupt ones are reported and left out."""
        found = []
        for folder in sorted(self.root.glob(f"{PREFIX}*")):
            problem = verify(folder)
            if problem:
                self.warn(f"warning: skipping corrupt checkpoint {folder}: {problem}")
                continue
            record = json.loads((folder / RECORD).read_text())
            found.append(CheckpointInfo(folder.name, record["step"], record.get("metric")))
        return found

    def prune(self) -> list[str]:
        """Delete all but the best `keep_best` and the latest; returns the names deleted."""
        doomed = checkpoints_to_delete(self.valid(), self.keep_best, self.mode)
        for name in doomed:
            shutil.rmtree(self.root / name, ignore_errors=True)
        return doomed

    def resolve(self, which: str) -> Path:
        """The folder `--resume latest|best|PATH` names; a bad explicit path is an error."""
        if which in ("latest", "best"):
            chosen = choose_checkpoint(self.valid(), which, self.mode)
            if chosen is None:
                raise TrainingError(f"--resume {which}: no complete checkpoint in {self.root}")
            return self.root / chosen.name
        folder = Path(which)
        problem = verify(folder) if folder.is_dir() else "not a folder"
        if problem:
            raise TrainingError(f"--resume {which}: not a usable checkpoint ({problem})")
        return folder
