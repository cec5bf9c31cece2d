"""train: a dataset -> a fine-tuned model in a run folder."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from application.artifacts import claim_output, fetch_tree, open_run_mirror, require_complete
from application.train.config import TrainConfig
from domain.layout import CHECKPOINTS, FINAL, RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY, STATS
from domain.ports import Storage
from domain.layout import atomic_write



# Files `train` writes first into a run folder: they tell our run from anybody's folder.
RUN_MARKERS = (RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY)


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


def train_model(
    config: TrainConfig,
    *,
    dataset: Storage,
    output: Storage,
    run_training: Callable[..., dict],
    log: Callable[[str], None] = print,
    resume: str | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Fetch the dataset, train in a local run folder, publish it (summary last).

    Args:
        resume: `latest`, `best` or a local checkpoint folder, passed to the trainer.
        on_checkpoint: Called with each saved checkpoint folder (e.g. to mirror it to storage).
        overwrite: Let a fresh run replace the checkpoints and final model of an earlier run in
            the same output (without it that is refused; a folder not written by `train` always is).
    """
    if resume is None:  # the input's own refusal first: it names what to fix before the output's
        require_complete(dataset, STATS, "dataset")
        claim_output(output, "training run", RUN_MARKERS, overwrite, precious=(CHECKPOINTS, FINAL))
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
                               on_checkpoint=mirror.hook(on_checkpoint) if mirror else on_checkpoint)
        if mirror:
            summary = mirror.finish(summary)
    return TrainResult(uri=output.uri, summary=summary)
