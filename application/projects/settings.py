"""What a project's collect, dataset and train are run with: the project's defaults, then its
`--set` overrides. `collect.KEY` and `dataset.KEY` go to those verbs; every other key is a
training config key (`training.max_steps=200`)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from pydantic import ValidationError

from application.collect.pipeline import CollectRequest
from application.dataset.request import DatasetRequest
from application.train.config import TrainConfig, apply_overrides, describe_validation_error, parse_override
from domain.errors import ConfigError
from domain.layout import PROJECT_LOG, PROJECT_MARKER, PROJECTS, RUN_PREFIX
from domain.projects import Project

# Collect files only (what a causal-LM dataset reads), one worker: a project trains in the background.
COLLECT_DEFAULTS = {"granularity": "file", "workers": 1}
# Rows of 512 tokens unless the project says otherwise (`--set dataset.seq_len=...`): long enough
# for whole functions, short enough for a laptop's memory.
DATASET_DEFAULTS = {"task": "generation", "seq_len": 512}
# LoRA on the shared base; 2e-4 is the usual LoRA rate (the full fine-tuning default of 1e-3 is too high).
TRAIN_DEFAULTS = {
    "adapter": {"type": "lora"},
    "training": {"lr": 2e-4, "log_every_steps": 10, "progress_bar": False},
    "checkpoints": {"every_steps": 50},
}


@dataclass(frozen=True)
class ProjectPaths:
    """Where a project's artifacts live under $CODETRAIN_HOME."""

    home: Path
    name: str

    @property
    def folder(self) -> Path:
        return self.home / PROJECTS / self.name

    @property
    def marker(self) -> Path:
        return self.folder / PROJECT_MARKER

    @property
    def collection(self) -> Path:
        return self.folder / "collection"

    @property
    def dataset(self) -> Path:
        return self.folder / "dataset"

    @property
    def log(self) -> Path:
        return self.folder / PROJECT_LOG

    def next_run(self) -> Path:
        """A fresh run folder (runs/run-0001, -0002...): a new training never reuses an old one."""
        runs = self.folder / "runs"
        taken = [int(p.name[len(RUN_PREFIX):]) for p in runs.glob(f"{RUN_PREFIX}*") if p.name[len(RUN_PREFIX):].isdigit()]
        return runs / f"{RUN_PREFIX}{max(taken, default=0) + 1:04d}"


def split_overrides(overrides: tuple[str, ...]) -> tuple[dict, dict, list[str]]:
    """(collect options, dataset options, training config overrides)."""
    collect, dataset, train = {}, {}, []
    for text in overrides:
        path, value = parse_override(text)
        if path[0] in ("collect", "dataset") and len(path) == 2:
            (collect if path[0] == "collect" else dataset)[path[1]] = value
        else:
            train.append(text)
    return collect, dataset, train


def _request(cls, project: Project, verb: str, options: dict):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"project {project.name}: --set {verb}.{unknown[0]}: unknown {verb} option "
                          f"(known: {', '.join(sorted(known))})")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"project {project.name}: {verb}: {exc}") from None


def collect_request(project: Project, paths: ProjectPaths, options: dict) -> CollectRequest:
    return _request(CollectRequest, project, "collect", {**COLLECT_DEFAULTS, **options,
                                                         "sources": tuple(project.sources),
                                                         "output": str(paths.collection)})


def dataset_request(project: Project, options: dict) -> DatasetRequest:
    """The dataset is tokenized with the base model's own tokenizer."""
    return _request(DatasetRequest, project, "dataset", {**DATASET_DEFAULTS, **options, "tokenizer": project.base})


def train_config(project: Project, paths: ProjectPaths, run_dir: Path, overrides: list[str]) -> TrainConfig:
    """LoRA on the project's base over its dataset, into `run_dir`, with the overrides applied."""
    raw = {section: dict(values) for section, values in TRAIN_DEFAULTS.items()}
    raw["model"] = {"name_or_path": project.base}
    raw["data"] = {"path": str(paths.dataset)}
    raw["output"] = {"dir": str(run_dir)}
    raw = apply_overrides(raw, overrides)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"project {project.name}: {describe_validation_error(exc)}") from None
