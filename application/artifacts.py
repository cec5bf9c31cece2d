"""Publishing and fetching whole artifacts (collections, datasets, runs) through a Storage.

An artifact is complete only when its marker (manifest) exists: data objects go first, the
marker last, and readers refuse a prefix without it.
"""
from __future__ import annotations

import json
from pathlib import Path

from domain.errors import StorageError
from domain.ports import Storage


def publish_tree(local_dir: Path, storage: Storage, marker: str | None = None) -> int:
    """Upload every file under `local_dir` to `storage`, `marker` last. Returns files sent."""
    local_dir = Path(local_dir)
    files = sorted(p for p in local_dir.rglob("*") if p.is_file() and ".tmp-" not in p.name)
    last = [p for p in files if marker and p.relative_to(local_dir).as_posix() == marker]
    for path in [p for p in files if p not in last] + last:
        storage.upload_file(path, path.relative_to(local_dir).as_posix())
    return len(files)


def fetch_tree(storage: Storage, local_dir: Path, marker: str, what: str) -> Path:
    """Return a local folder holding the complete artifact, downloading it if it is remote."""
    if not storage.exists(marker):
        raise StorageError(f"{storage.uri}: no {marker}; not a complete {what}")
    root = storage.local_root()
    if root is not None:
        return root
    local_dir = Path(local_dir)
    for key in storage.list():
        target = local_dir / key
        if not target.exists():
            storage.download_file(key, target)
    return local_dir


def read_json(storage: Storage, key: str) -> dict:
    try:
        return json.loads(storage.read_bytes(key))
    except json.JSONDecodeError as exc:
        raise StorageError(f"{storage.uri}: {key} is not valid JSON ({exc.msg})") from None


def write_json(storage: Storage, key: str, data: dict) -> None:
    storage.write_bytes(key, json.dumps(data, indent=2, sort_keys=True, default=str).encode())
