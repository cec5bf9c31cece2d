"""train: a dataset -> a fine-tuned model in a run folder."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from application.artifacts import fetch_tree, open_run_mirror, read_json, require_complete
from application.train.config import TrainConfig
from application.train.memory import ModelShape, check_memory, estimate_memory
from domain.layout import RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY, STATS
from domain.ports import Storage
from domain.layout import atomic_write


class MemoryProbe(Protocol):
    """Measures what the memory preflight needs (infrastructure/training/memory.py): the model's
    sizes, the device chosen (with why) and the bytes free on it."""

    def __call__(self, config: TrainConfig, dataset_stats: dict) -> tuple[ModelShape, str, str, int]: ...


class Trainer(Protocol):
    """Trains in a local run folder and returns the summary (infrastructure/training/loop.run_training).

    Writes checkpoints, metrics, `final/` and `summary.json` into `run_dir`; calls `on_checkpoint`
    with each checkpoint folder once it is saved; `resume` is `latest`, `best` or a folder;
    `on_progress` gets (step, max_steps, metric row) after each step and evaluation.
    """

    def __call__(self, config: TrainConfig, dataset_dir: Path, run_dir: Path, log: Callable[[str], None], *,
                 resume: str | None, on_checkpoint: Callable[[Path], None] | None,
                 on_progress: Callable[[int, int, dict], None] | None = None) -> dict: ...


@dataclass(frozen=True)
class TrainResult:
    uri: str
    summary: dict


def _write_json(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str))  # several ranks may write it


def run_manifest(config: TrainConfig, dataset_uri: str, dataset_stats: dict) -> dict:
    """Lineage of a run: which dataset (its stats, hence the collection's sources and commits)
    and which config produced it."""
    collection = dataset_stats.get("collection", {})
    return {
        "format": "codetrain-run/1",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"uri": dataset_uri, "stats": dataset_stats},
        "collection": {"uri": collection.get("uri"), "sources": collection.get("sources", [])},
        "config": config.model_dump(mode="json"),
    }


def preflight(config: TrainConfig, dataset_stats: dict, probe: MemoryProbe, log: Callable[[str], None]) -> None:
    """Print the device; refuse, before any data is loaded, a run that cannot fit in memory."""
    shape, device, why, available = probe(config, dataset_stats)
    log(f"device: {device} ({why})")
    t = config.training
    estimate = estimate_memory(shape, micro_batch=t.micro_batch_size, seq_len=int(dataset_stats.get("seq_len") or 1),
                               precision=t.precision, gradient_checkpointing=config.model.gradient_checkpointing)
    check_memory(estimate, available, device, t.memory_limit_gb)
    log(f"memory: about {estimate.describe()} needed, {available / 2**30:.2f} GB available")


def train_model(
    config: TrainConfig,
    *,
    dataset: Storage,
    output: Storage,
    run_training: Trainer,
    log: Callable[[str], None] = print,
    resume: str | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
    memory_probe: MemoryProbe | None = None,
    on_progress: Callable[[int, int, dict], None] | None = None,
) -> TrainResult:
    """Fetch the dataset, train in a local run folder, publish it (summary last).

    Args:
        resume: `latest`, `best` or a local checkpoint folder, passed to the trainer.
        on_checkpoint: Called with each saved checkpoint folder (e.g. to mirror it to storage).
        memory_probe: Sizes the model and the free memory for the preflight (None: no preflight).
        on_progress: Called with (step, max_steps, metric row) as training goes (status displays).
    """
    if memory_probe is not None:
        require_complete(dataset, STATS, "dataset")
        preflight(config, read_json(dataset, STATS), memory_probe, log)
    with tempfile.TemporaryDirectory(prefix="codetrain-train-") as tmp:
        dataset_dir = fetch_tree(dataset, Path(tmp) / "dataset", STATS, "dataset")
        run_dir = output.local_root() or Path(tmp) / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        # s3:// output: checkpoints go up as they are saved, pruned ones come down, --resume
        # fetches the remote run first; summary.json goes up last (application/artifacts.py).
        mirror = open_run_mirror(output, run_dir, RUN_SUMMARY, resume, log)
        stats = json.loads((dataset_dir / STATS).read_text())
        _write_json(run_dir / RESOLVED_CONFIG, config.model_dump(mode="json"))
        _write_json(run_dir / RUN_MANIFEST, run_manifest(config, dataset.uri, stats))
        summary = run_training(config, dataset_dir, run_dir, log, resume=resume,
                               on_checkpoint=mirror.hook(on_checkpoint) if mirror else on_checkpoint,
                               on_progress=on_progress)
        if mirror:
            summary = mirror.finish(summary)
    return TrainResult(uri=output.uri, summary=summary)
