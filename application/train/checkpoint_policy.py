"""Which checkpoints to keep, which to resume from: pure decisions over checkpoint records.

The checkpoint manager (infrastructure/training/checkpoints.py) does the disk work; the rules
live here so they can be tested without a disk.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["min", "max"]


@dataclass(frozen=True)
class CheckpointInfo:
    """One saved checkpoint."""

    name: str
    """Folder name under `checkpoints/`, e.g. `step-000040`."""
    step: int
    """Optimizer step it was taken at."""
    metric: float | None = None
    """Value of the ranking metric at its latest evaluation, or None if none yet."""


def is_better(value: float, best: float | None, mode: Mode, min_delta: float = 0.0) -> bool:
    """True when `value` beats `best` by more than `min_delta` in the direction of `mode`."""
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def rank_best(checkpoints: list[CheckpointInfo], mode: Mode) -> list[CheckpointInfo]:
    """Checkpoints that have a metric, best first; ties go to the earlier step."""
    scored = [c for c in checkpoints if c.metric is not None]
    sign = 1 if mode == "min" else -1
    return sorted(scored, key=lambda c: (sign * c.metric, c.step))


def checkpoints_to_delete(checkpoints: list[CheckpointInfo], keep_best: int, mode: Mode) -> list[str]:
    """Names to delete so that only the `keep_best` best plus the latest remain."""
    if not checkpoints:
        return []
    latest = max(checkpoints, key=lambda c: c.step)
    keep = {latest.name} | {c.name for c in rank_best(checkpoints, mode)[:keep_best]}
    return sorted(c.name for c in checkpoints if c.name not in keep)


def choose_checkpoint(checkpoints: list[CheckpointInfo], which: str, mode: Mode) -> CheckpointInfo | None:
    """The checkpoint `--resume latest|best` means; None when there is none.

    `best` falls back to the latest when no checkpoint carries a metric yet.
    """
    if not checkpoints:
        return None
    if which == "best":
        ranked = rank_best(checkpoints, mode)
        if ranked:
            return ranked[0]
    return max(checkpoints, key=lambda c: c.step)
