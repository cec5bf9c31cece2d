"""Parquet shards of code units."""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_COLUMNS = (
    "id", "repo", "commit", "path", "language", "kind", "name", "parent", "start_line",
    "end_line", "content", "docstring", "content_hash", "license",
)


def write_shard(rows: list[dict], path: Path) -> None:
    """Write rows to `path` atomically (temporary name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    pq.write_table(pa.Table.from_pylist(rows), tmp, compression="zstd")
    os.replace(tmp, path)


def read_shards(paths: list[Path]) -> list[dict]:
    return [row for path in paths for row in pq.read_table(path).to_pylist()]
