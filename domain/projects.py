"""A project: one codebase with its own LoRA adapter on a shared base model, as the registry
holds it (`application/projects/`, `infrastructure/projects/sqlite_registry.py`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from domain.errors import ProjectError

# What a project is doing. `failed: <one line>` carries its reason after the colon.
REGISTERED, COLLECTING, BUILDING, TRAINING = "registered", "collecting", "building", "training"
DONE, CANCELLED, FAILED = "done", "cancelled", "failed"
ACTIVE = (COLLECTING, BUILDING, TRAINING)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str) -> str:
    """A project name is also a folder name: letters, digits, `.`, `_`, `-`; no path in it."""
    if not NAME.fullmatch(name) or name in (".", ".."):
        raise ProjectError(f"project name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return name


@dataclass(frozen=True)
class TrainingLock:
    """Who trains a project now: a process (pid + its start time, so a reused pid is not
    mistaken for it) and the token the process that started it handed over."""

    pid: int
    started: float
    token: str


@dataclass(frozen=True)
class Project:
    name: str
    sources: tuple[str, ...]
    """Paths or URLs `collect` reads."""
    base: str
    """Local folder of the shared base model (its tokenizer builds the dataset)."""
    overrides: tuple[str, ...] = ()
    """`--set key=value` given at `project add` (training config keys, `dataset.*`, `collect.*`)."""
    status: str = REGISTERED
    """registered, collecting, building, training, done, cancelled, or `failed: <why>`."""
    step: int = 0
    total: int = 0
    metrics: dict = field(default_factory=dict)
    """The last metric row (loss, lr, tokens_per_s...) and the last eval_loss."""
    eta_seconds: float | None = None
    adapter: str | None = None
    """Folder of the last finished adapter (a run's final/)."""
    run: str | None = None
    """The run folder of the current (or last) training."""
    run_overrides: tuple[str, ...] = ()
    """The overrides that run was started with (`--resume` reuses its recorded config)."""
    lineage: dict = field(default_factory=dict)
    """collection, dataset and run folders, source commits, and the fingerprints that tell
    whether each step's artifact is current."""
    cancel_requested: bool = False
    lock: TrainingLock | None = None
    created: str = ""
    updated: str = ""
