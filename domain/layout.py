"""The artifact layout, named once: what every verb writes and reads, and how it is written.

A collection, a dataset and a run are each complete only when their marker exists; writers
publish data first and the marker last (`application/artifacts.py`), and every local file or
folder reaches its final name through `atomic_path`, so a reader never sees half of one.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Markers: the last object written, the first one a reader checks.
MANIFEST = "manifest.json"  # a collection (collect)
STATS = "stats.json"  # a dataset (dataset)
DATASET_OWNER = "codetrain-dataset.json"  # written before a dataset's files: an interrupted publish is still ours
RUN_SUMMARY = "summary.json"  # a training run (train)
EXPORT_MANIFEST = "export.json"  # an exported model (export)
CHECKPOINT_RECORD = "checkpoint.json"  # one checkpoint folder, with its files' checksums

# A collection.
SHARD_PREFIX = "data/part-"  # data/part-00000.parquet, ...
SKIPPED = "skipped.parquet"  # every file or folder left out: path, repository, reason, size
DUPLICATES = "duplicates.parquet"  # every unit dropped as a duplicate, with the unit it matched
# A dataset.
TOKENIZER = "tokenizer"  # the dataset's tokenizer folder, which train and evaluate load
# A run folder.
RUN_MANIFEST = "run_manifest.json"  # lineage: dataset, collection, sources, config
RESOLVED_CONFIG = "config.resolved.json"  # the validated config the run was trained with
CHECKPOINTS = "checkpoints"
CHECKPOINT_PREFIX = "step-"  # checkpoints/step-000040
FINAL = "final"  # the trained model (full, merged or adapter) with its tokenizer
BASE_MODEL = "base_model.json"  # where an adapter's local base was: relative to final/ and absolute
LABELS = "labels.json"  # a classifier's class names in id order, inside final/
THRESHOLD = "threshold.json"  # a two-class classifier's tuned cut-off on class 1, inside final/
METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"

# The label of a position without a target (torch's cross-entropy ignore_index).
IGNORE_INDEX = -100

TMP_PREFIX = ".tmp-"  # anything named so is still being written: readers and uploads skip it


def is_partial(relative: str | Path) -> bool:
    """True for a path (relative to an artifact) inside something still being written."""
    return any(part.startswith(TMP_PREFIX) for part in Path(relative).parts)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` to write a file or fill a folder at; on success it
    takes `target`'s place in one rename, on failure it is removed and `target` is untouched.

    The name carries the pid: several processes (DDP ranks) may write the same target.
    A folder may only replace an empty folder (or nothing): callers clear what they own first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{TMP_PREFIX}{target.name}.{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        _remove(tmp)


def atomic_write(target: Path, data: bytes | str) -> None:
    """Write `data` to `target` through `atomic_path`."""
    with atomic_path(target) as tmp:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)

# $CODETRAIN_HOME (default ~/.codetrain): the project registry and one folder per project.
REGISTRY = "registry.sqlite"
PROJECTS = "projects"  # projects/NAME/{collection,dataset,runs/run-0001,train.log}
PROJECT_MARKER = ".codetrain-project"  # written at `project add`: only a folder holding it is ever removed
PROJECT_LOG = "train.log"  # a detached training's output
RUN_PREFIX = "run-"
