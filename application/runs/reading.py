"""Reading a run folder written by `train`: its final model, resolved config, lineage and metrics.

Works through the Storage port, so a run on S3 is read the same way as a local one (files
are downloaded into a work folder only when the storage is not on local disk).
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from application.artifacts import fetch_prefix, require_complete
from domain.layout import FINAL, METRICS_JSONL, RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY
from domain.errors import EvaluationError
from domain.ports import Storage


def require_run(run: Storage) -> None:
    require_complete(run, RUN_SUMMARY, "run")


def local_folder(run: Storage, prefix: str, workdir: Path) -> Path:
    """`prefix` of the run as a local folder (downloaded into `workdir` if the run is remote)."""
    root = run.local_root()
    folder = root / prefix if root is not None else fetch_prefix(run, prefix, Path(workdir) / prefix)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise EvaluationError(f"{run.uri}: no {prefix}/ folder in this run")
    return folder


def final_model(run: Storage, workdir: Path) -> Path:
    """The run's `final/` model folder (full model or adapter), locally."""
    require_run(run)
    return local_folder(run, FINAL, workdir)


def read_optional_json(run: Storage, key: str) -> dict | None:
    if not run.exists(key):
        return None
    try:
        return json.loads(run.read_bytes(key))
    except json.JSONDecodeError:
        raise EvaluationError(f"{run.uri}: {key} is not valid JSON") from None


def resolved_config(run: Storage) -> dict:
    """The resolved TrainConfig the run was trained with (JSON or YAML), or {} if absent."""
    for key in (RESOLVED_CONFIG, "config.resolved.yaml"):
        if run.exists(key):
            return yaml.safe_load(run.read_bytes(key)) or {}  # YAML is a superset of JSON
    return {}


def dataset_uri(run: Storage) -> str | None:
    """Where the run's dataset lives, from its manifest or its resolved config."""
    manifest = read_optional_json(run, RUN_MANIFEST) or {}
    return (manifest.get("dataset") or {}).get("uri") or (resolved_config(run).get("data") or {}).get("path")


def metric_rows(run: Storage) -> list[dict]:
    """metrics.jsonl as rows; a torn last line (run still writing) is skipped."""
    if not run.exists(METRICS_JSONL):
        return []
    rows = []
    for line in run.read_bytes(METRICS_JSONL).decode().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [row for row in rows if isinstance(row, dict) and "step" in row]


def choose_dataset(explicit: str | None, run: Storage | None) -> str:
    """`--dataset` if given, else the dataset the run was trained on."""
    chosen = explicit or (dataset_uri(run) if run is not None else None)
    if not chosen:
        raise EvaluationError("--dataset is needed: no run given, or the run does not record its dataset")
    return chosen
