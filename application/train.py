"""train: a dataset -> a fine-tuned model in a run folder."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from application.artifacts import fetch_tree, publish_tree
from application.config import TrainConfig
from application.dataset import STATS
from domain.ports import Storage

RUN_SUMMARY = "summary.json"


@dataclass(frozen=True)
class TrainResult:
    uri: str
    summary: dict


def train_model(
    config: TrainConfig,
    *,
    dataset: Storage,
    output: Storage,
    run_training: Callable[[TrainConfig, Path, Path, Callable[[str], None]], dict],
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Fetch the dataset, train in a local run folder, publish it (summary last)."""
    with tempfile.TemporaryDirectory(prefix="codetrain-train-") as tmp:
        dataset_dir = fetch_tree(dataset, Path(tmp) / "dataset", STATS, "dataset")
        run_dir = output.local_root() or Path(tmp) / "run"
        (run_dir).mkdir(parents=True, exist_ok=True)
        (run_dir / "config.resolved.json").write_text(config.model_dump_json(indent=2))
        summary = run_training(config, dataset_dir, run_dir, log)
        if output.local_root() is None:
            publish_tree(run_dir, output, marker=RUN_SUMMARY)
    return TrainResult(uri=output.uri, summary=summary)
