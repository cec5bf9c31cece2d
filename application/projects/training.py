"""`project train`: collect -> dataset (the base's tokenizer) -> LoRA train, each step skipped when
its artifact is current; one training per project at a time; progress, cancel and resume
recorded in the registry."""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from application.projects.manage import refresh
from application.projects.settings import (ProjectPaths, collect_request, dataset_request, split_overrides,
                                           train_config)
from application.train.config import TrainConfig
from domain.errors import CodetrainError, ProjectError
from domain.layout import CHECKPOINTS, FINAL, MANIFEST, RESOLVED_CONFIG, RUN_MANIFEST, STATS
from domain.projects import BUILDING, CANCELLED, COLLECTING, DONE, FAILED, TRAINING, TrainingLock
from domain.ports import Processes, ProjectRegistry

TOKEN_ENV = "CODETRAIN_TRAINING_TOKEN"  # hands a detached trainer the lock its starter took


@dataclass(frozen=True)
class ProjectSteps:
    """The verbs a project's training composes (the composition root's own collect, dataset, train)."""

    collect: Callable[..., Any]
    """(CollectRequest, log=) -> CollectResult."""
    build_dataset: Callable[..., Any]
    """(DatasetRequest, input_uris, output_uri, log=) -> DatasetResult."""
    train: Callable[..., Any]
    """(TrainConfig, log=, resume=, on_progress=) -> TrainResult."""
    source_state: Callable[[str], str | None]
    """A source's current state (HEAD commit, or a digest of a plain folder); None = unknown."""


def _digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ProgressRecorder:
    """The trainer's `on_progress` hook: step, total, last metrics and ETA into the registry,
    at most every `every` seconds (and at every logged row, evaluation and the last step)."""

    def __init__(self, registry: ProjectRegistry, name: str, every: float = 0.5):
        self.registry, self.name, self.every = registry, name, every
        self.metrics: dict = {}
        self.first: tuple[float, int] | None = None
        self.written = float("-inf")

    def __call__(self, step: int, total: int, row: dict) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, step - 1)  # this process's first step: ETA from this session's pace
        self.metrics.update({k: v for k, v in row.items() if k != "step"})
        started, from_step = self.first
        eta = (now - started) / (step - from_step) * (total - step) if step > from_step else None
        if "eval_loss" in row or "tokens_per_s" in row or step == total or now - self.written >= self.every:
            self.registry.update(self.name, step=step, total=total, metrics=dict(self.metrics), eta_seconds=eta)
            self.written = now


def _free_or_stale(processes: Processes, token: str) -> Callable[[TrainingLock | None], bool]:
    return lambda held: held is None or held.token == token or not processes.alive(held.pid, held.started)


def _refuse(name: str, holder: TrainingLock) -> ProjectError:
    since = datetime.fromtimestamp(holder.started, timezone.utc).isoformat(timespec="seconds")
    return ProjectError(f"project {name} is already training in process {holder.pid} (started {since}): "
                        f"wait for it, or `project cancel {name}`")


def _check_resume(name: str, resume: bool, overrides: tuple[str, ...]) -> None:
    if resume and overrides:
        raise ProjectError(f"project {name}: --resume continues with the interrupted run's recorded config; "
                           f"drop --set")


def start_detached(name: str, argv: list[str], *, resume: bool, overrides: tuple[str, ...],
                   registry: ProjectRegistry, processes: Processes, home: Path) -> TrainingLock:
    """Take the project's lock, start `argv` (a `project train` in the foreground) in its own
    session with its output in the project's log, and hand it the lock. Returns at once."""
    refresh(registry.get(name), registry, processes)
    _check_resume(name, resume, overrides)
    token = uuid.uuid4().hex
    pid, started = processes.current()
    holder = registry.take_lock(name, TrainingLock(pid, started, token), _free_or_stale(processes, token))
    if holder is not None:
        raise _refuse(name, holder)
    try:
        child, child_started = processes.spawn(argv, ProjectPaths(home, name).log, {TOKEN_ENV: token})
    except OSError as exc:
        registry.release_lock(name, token)
        raise ProjectError(f"project {name}: cannot start the training process ({exc})") from None
    lock = TrainingLock(child, child_started, token)
    registry.update(name, lock=lock)
    return lock


def train_project(name: str, *, overrides: tuple[str, ...] = (), resume: bool = False, token: str | None = None,
                  registry: ProjectRegistry, processes: Processes, steps: ProjectSteps, home: Path,
                  log: Callable[[str], None] = print) -> dict:
    """Bring the project's adapter up to date in this process; returns the training summary.

    Args:
        resume: Continue the interrupted run exactly, with its recorded config.
        token: The lock token a `start_detached` starter handed over (None: take the lock here).
    """
    refresh(registry.get(name), registry, processes)
    _check_resume(name, resume, overrides)
    token = token or uuid.uuid4().hex
    pid, started = processes.current()
    holder = registry.take_lock(name, TrainingLock(pid, started, token), _free_or_stale(processes, token))
    if holder is not None:
        raise _refuse(name, holder)
    try:
        return _train(name, overrides, resume, registry, steps, ProjectPaths(home, name), log)
    except KeyboardInterrupt:
        registry.update(name, status=CANCELLED, eta_seconds=None)
        raise
    except BaseException as exc:
        cancelled = registry.get(name).cancel_requested
        why = str(exc).splitlines()[0] if isinstance(exc, CodetrainError) else f"{type(exc).__name__}: {exc}"
        registry.update(name, status=CANCELLED if cancelled else f"{FAILED}: {why}"[:300], eta_seconds=None)
        raise
    finally:
        registry.release_lock(name, token)


def _train(name: str, overrides, resume: bool, registry: ProjectRegistry, steps: ProjectSteps,
           paths: ProjectPaths, log) -> dict:
    project = registry.get(name)
    if resume:
        config = _resumable(project, paths)
    else:
        config = _prepare(project, overrides, registry, steps, paths, log)
        if config is None:
            return {"skipped": True, "adapter": project.adapter}
    fresh = {} if resume else {"step": 0, "total": 0, "metrics": {}}
    registry.update(name, status=TRAINING, eta_seconds=None, **fresh)
    result = steps.train(config, log=log, resume="latest" if resume else None,
                         on_progress=ProgressRecorder(registry, name))
    summary = result.summary
    if summary.get("interrupted"):
        registry.update(name, status=CANCELLED, step=summary["steps"], eta_seconds=None)
        log(f"project {name}: cancelled at step {summary['steps']}; `project train {name} --resume` continues")
        return summary
    _finish(registry.get(name), registry, Path(config.output.dir), summary)
    return summary


def _prepare(project, overrides, registry: ProjectRegistry, steps: ProjectSteps, paths: ProjectPaths,
             log) -> TrainConfig | None:
    """Collect and build the dataset unless current; the config of a new run, or None when the
    adapter is already current."""
    collect_options, dataset_options, train_overrides = split_overrides(project.overrides + tuple(overrides))
    lineage = dict(project.lineage)
    registry.update(project.name, status=COLLECTING, eta_seconds=None)
    request = collect_request(project, paths, collect_options)
    states = [steps.source_state(s) for s in project.sources]
    collection_key = _digest({"options": request.options(), "states": states}) if None not in states else None
    if collection_key and collection_key == lineage.get("collection_key") and (paths.collection / MANIFEST).exists():
        log(f"collect: {paths.collection} is current (sources unchanged): skipped")
    else:
        manifest = steps.collect(request, log=log).manifest
        lineage.update(collection=str(paths.collection), collection_key=collection_key, sources=manifest["sources"])
    registry.update(project.name, status=BUILDING, lineage=lineage)
    built = steps.build_dataset(dataset_request(project, dataset_options), [str(paths.collection)],
                                str(paths.dataset), log=log)
    if built.cache_hit:
        log(f"dataset: {paths.dataset} is current: reused")
    lineage.update(dataset=str(paths.dataset), dataset_key=built.stats.get("cache_key"))
    train_key = _digest({"dataset": lineage["dataset_key"], "overrides": train_overrides, "base": project.base})
    adapter_current = project.status == DONE and project.adapter and Path(project.adapter).is_dir()
    if adapter_current and lineage.get("train_key") == train_key:
        registry.update(project.name, status=DONE, lineage=lineage)
        log(f"train: the adapter {project.adapter} is current (same dataset and config): skipped")
        return None
    run_dir = paths.next_run()
    config = train_config(project, paths, run_dir, train_overrides)
    lineage.update(run=str(run_dir), train_key=train_key)
    registry.update(project.name, run=str(run_dir), run_overrides=tuple(overrides), lineage=lineage)
    return config


def _resumable(project, paths: ProjectPaths) -> TrainConfig:
    """The interrupted run's recorded config, if it has a checkpoint and its dataset is unchanged."""
    run = Path(project.run) if project.run else None
    if run is None or not (run / RESOLVED_CONFIG).is_file() or not any((run / CHECKPOINTS).glob("*")):
        raise ProjectError(f"project {project.name}: no interrupted run with a checkpoint to resume "
                           f"(`project train {project.name}` starts one)")
    if project.status == DONE and project.adapter and Path(project.adapter).parent == run:
        raise ProjectError(f"project {project.name}: its last run {run} has finished; nothing to resume")
    recorded = json.loads((run / RUN_MANIFEST).read_text())["dataset"]["stats"].get("cache_key")
    current = json.loads((paths.dataset / STATS).read_text()).get("cache_key") if (paths.dataset / STATS).is_file() else None
    if recorded != current:
        raise ProjectError(f"project {project.name}: the dataset changed since {run} started; an exact resume "
                           f"is impossible (`project train {project.name}` trains afresh)")
    return TrainConfig.model_validate(json.loads((run / RESOLVED_CONFIG).read_text()))


def _finish(project, registry: ProjectRegistry, run_dir: Path, summary: dict) -> None:
    """Status done; the run's final/ becomes the project's adapter, with its lineage recorded."""
    adapter = str(run_dir / FINAL)
    lineage = dict(project.lineage)
    entry = {"adapter": adapter, "run": str(run_dir), "finished": _now(), "dataset_key": lineage.get("dataset_key"),
             "sources": [{k: s.get(k) for k in ("repo", "origin", "commit")} for s in lineage.get("sources", [])]}
    lineage["adapters"] = [*lineage.get("adapters", []), entry]
    metrics = {**project.metrics, "eval_loss": summary.get("eval_loss_after")}
    registry.update(project.name, status=DONE, adapter=adapter, lineage=lineage, metrics=metrics,
                    step=summary["steps"], total=summary.get("max_steps", summary["steps"]), eta_seconds=None)
