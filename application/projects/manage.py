"""The project verbs that do not train: add, list/status (with stale-lock detection), cancel, remove."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from application.projects.settings import ProjectPaths, collect_request, dataset_request, split_overrides, train_config
from domain.errors import ProjectError
from domain.projects import ACTIVE, FAILED, TRAINING, Project, check_name
from domain.ports import Processes, ProjectRegistry


def _absolute(location: str) -> str:
    """Local paths are stored absolute: a detached trainer or a later call may run from elsewhere."""
    return str(Path(location).resolve()) if "://" not in location and Path(location).exists() else location


def add_project(name: str, sources: tuple[str, ...], base: str, overrides: tuple[str, ...], *,
                registry: ProjectRegistry, home: Path) -> Project:
    """Register a project and make its folder; every override is checked now, not at training time."""
    check_name(name)
    if not sources:
        raise ProjectError(f"project {name}: give at least one source (a folder or git URL)")
    if not Path(base).is_dir():
        raise ProjectError(f"--base {base}: not a model folder (the base model must be on local disk)")
    project = Project(name=name, sources=tuple(_absolute(s) for s in sources), base=_absolute(base),
                      overrides=tuple(overrides))
    paths = ProjectPaths(home, name)
    collect, dataset, train = split_overrides(project.overrides)
    collect_request(project, paths, collect)
    dataset_request(project, dataset)
    train_config(project, paths, paths.next_run(), train)
    if paths.folder.exists() and not paths.marker.exists():
        raise ProjectError(f"{paths.folder} exists and was not made by codetrain: move it away first")
    registry.add(project)
    paths.folder.mkdir(parents=True, exist_ok=True)
    paths.marker.touch()
    return registry.get(name)


def refresh(project: Project, registry: ProjectRegistry, processes: Processes) -> Project:
    """The project with a dead trainer's lock cleared and its status `failed` (process gone)."""
    lock = project.lock
    if lock is not None and processes.alive(lock.pid, lock.started):
        return project
    if lock is None and project.status not in ACTIVE:
        return project
    if lock is not None:
        registry.release_lock(project.name, lock.token)
    if project.status in ACTIVE:
        pid = f"process {lock.pid}" if lock else "its process"
        again = "--resume continues from the last checkpoint" if project.status == TRAINING else "starts it again"
        return registry.update(project.name, status=f"{FAILED}: training {pid} is gone (killed?); "
                                                    f"`project train {project.name}` {again}", eta_seconds=None)
    return registry.get(project.name)


def project_status(name: str, registry: ProjectRegistry, processes: Processes) -> Project:
    return refresh(registry.get(name), registry, processes)


def project_model(name: str, registry: ProjectRegistry, processes: Processes) -> tuple[str, str]:
    """(base model folder, adapter folder) of a project's last finished training, for `generate`."""
    project = project_status(name, registry, processes)
    if not project.adapter:
        raise ProjectError(f"project {name} has no trained adapter yet (status {project.status}): "
                           f"run `python main.py project train {name}`")
    return project.base, project.adapter


def list_projects(registry: ProjectRegistry, processes: Processes) -> list[Project]:
    return [refresh(p, registry, processes) for p in registry.all()]


def cancel_project(name: str, registry: ProjectRegistry, processes: Processes, wait_seconds: float = 120.0,
                   poll: float = 0.2) -> tuple[Project, bool]:
    """SIGTERM the project's trainer (it checkpoints and records `cancelled`); wait for it to end.

    Returns the project and whether the trainer has ended within `wait_seconds`.
    """
    project = project_status(name, registry, processes)
    lock = project.lock
    if lock is None:
        raise ProjectError(f"project {name} is not training (status {project.status})")
    registry.update(name, cancel_requested=True)
    processes.terminate(lock.pid)
    deadline = time.monotonic() + wait_seconds
    while processes.alive(lock.pid, lock.started) and time.monotonic() < deadline:
        time.sleep(poll)
    ended = not processes.alive(lock.pid, lock.started)
    return project_status(name, registry, processes), ended


def remove_project(name: str, registry: ProjectRegistry, processes: Processes, home: Path) -> bool:
    """Forget the project and delete its folder (only when codetrain made it); True if deleted."""
    project = project_status(name, registry, processes)
    if project.lock is not None:
        raise ProjectError(f"project {name} is training in process {project.lock.pid}: "
                           f"`project cancel {name}` first")
    registry.remove(name)
    paths = ProjectPaths(home, name)
    if paths.marker.is_file() and not paths.folder.is_symlink():
        shutil.rmtree(paths.folder)
        return True
    return False
