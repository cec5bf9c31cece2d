"""train: a dataset -> a fine-tuned model in a run folder."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from application.artifacts import claim_output, fetch_prefix, fetch_tree, open_run_mirror, read_json, require_complete
from application.train.config import TrainConfig
from application.train.memory import ModelShape, check_memory, estimate_memory
from domain.layout import CHECKPOINTS, FINAL, RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY, STATS, TOKENIZER, atomic_write
from domain.ports import Storage


class MemoryProbe(Protocol):
    """Measures what the memory preflight needs (infrastructure/training/memory.py): the model's
    sizes, the device chosen (with why) and the bytes free on it."""

    def __call__(self, config: TrainConfig, dataset_stats: dict) -> tuple[ModelShape, str, str, int] | None: ...


# Files `train` writes first into a run folder: they tell our run from anybody's folder.
RUN_MARKERS = (RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY)


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


PLAIN_MARKERS = ("dataset_dict.json", "state.json")  # what `save_to_disk` writes


def _is_plain(dataset: Storage) -> bool:
    """A saved DatasetDict not written by `dataset` (no stats.json, no tokenizer/)."""
    return not dataset.exists(STATS) and not dataset.list(f"{TOKENIZER}/") and \
        any(dataset.exists(m) for m in PLAIN_MARKERS)


def _dataset_dir(dataset: Storage, tmp: Path, config: TrainConfig, prepare_plain) -> Path:
    """A local dataset folder: a `dataset` output as it is, a plain DatasetDict made trainable.

    A `dataset` output without its stats.json (it holds `tokenizer/`) is incomplete: refused."""
    if not _is_plain(dataset) or prepare_plain is None:
        return fetch_tree(dataset, tmp / "dataset", STATS, "dataset")
    folder = dataset.local_root() or fetch_prefix(dataset, "", tmp / "plain")
    return prepare_plain(folder, tmp / "dataset", config, dataset.uri)


def preflight(config: TrainConfig, dataset_stats: dict, probe: MemoryProbe, log: Callable[[str], None]) -> None:
    """Print the device; refuse, before any data is loaded, a run that cannot fit in memory."""
    measured = probe(config, dataset_stats)
    if measured is None:
        log("memory: not estimated (the dataset does not record what sizes the model)")
        return
    shape, device, why, available = measured
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
    prepare_plain: Callable[[Path, Path, TrainConfig, str], Path] | None = None,
    overwrite: bool = False,
    memory_probe: MemoryProbe | None = None,
    on_progress: Callable[[int, int, dict], None] | None = None,
) -> TrainResult:
    """Fetch the dataset, train in a local run folder, publish it (summary last).

    Args:
        resume: `latest`, `best` or a local checkpoint folder, passed to the trainer.
        on_checkpoint: Called with each saved checkpoint folder (e.g. to mirror it to storage).
        prepare_plain: (folder, output folder, config, uri) -> a trainable dataset folder made from
            a plain saved DatasetDict (one without `dataset`'s stats.json).
        overwrite: Let a fresh run replace the checkpoints and final model of an earlier run in
            the same output (without it that is refused; a folder not written by `train` always is).
        memory_probe: Sizes the model and the free memory for the preflight (None: no preflight).
        on_progress: Called with (step, max_steps, metric row) as training goes (status displays).
    """
    plain = prepare_plain is not None and _is_plain(dataset)
    if not plain:  # the input's own refusal first: it names what to fix before the output's
        require_complete(dataset, STATS, "dataset")
    if resume is None:
        claim_output(output, "training run", RUN_MARKERS, overwrite, precious=(CHECKPOINTS, FINAL))
    if memory_probe is not None and not plain:  # before any data is read
        preflight(config, read_json(dataset, STATS), memory_probe, log)
    with tempfile.TemporaryDirectory(prefix="codetrain-train-") as tmp:
        dataset_dir = _dataset_dir(dataset, Path(tmp), config, prepare_plain)
        if memory_probe is not None and plain:  # its stats exist only now; its rows are not loaded yet
            preflight(config, json.loads((dataset_dir / STATS).read_text()), memory_probe, log)
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
