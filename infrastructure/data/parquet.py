"""Parquet shards of code units."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from domain.layout import DUPLICATES, MANIFEST, SKIPPED, atomic_path

SCHEMA_COLUMNS = (
    "id", "repo", "commit", "path", "language", "kind", "name", "parent", "start_line",
    "end_line", "content", "docstring", "content_hash", "license",
)
# A fixed schema: a shard whose optional columns happen to be all null still reads like the rest.
SCHEMA = pa.schema(
    [(name, pa.int32() if name in ("start_line", "end_line") else pa.string()) for name in SCHEMA_COLUMNS]
    + [("cluster_id", pa.string()), ("commit_date", pa.string())]
)


def write_shard(rows: list[dict], path: Path) -> None:
    """Write rows to `path` atomically (temporary name, then rename)."""
    path = Path(path)
    extra = sorted({key for row in rows for key in row} - set(SCHEMA.names))
    schema = SCHEMA
    for key in extra:  # columns a caller added beyond the collect schema keep their own type
        schema = schema.append(pa.field(key, pa.array([row.get(key) for row in rows]).type))
    columns = {name: [row.get(name) for row in rows] for name in schema.names}  # 3x from_pylist
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pydict(columns, schema=schema), tmp, compression="zstd")


# What collect left out, and why: one row per skipped file or pruned folder / dropped unit.
LINEAGE_SCHEMAS = {
    SKIPPED: pa.schema([("path", pa.string()), ("repository", pa.string()), ("reason", pa.string()),
                        ("size", pa.int64())]),
    DUPLICATES: pa.schema([("id", pa.string()), ("survivor_id", pa.string()), ("match", pa.string()),
                           ("jaccard", pa.float64()), ("repo", pa.string()), ("path", pa.string()),
                           ("kind", pa.string()), ("name", pa.string()), ("start_line", pa.int32())]),
}


def write_lineage(name: str, rows: list[dict], path: Path) -> None:
    """Write `skipped.parquet` or `duplicates.parquet` rows to `path` atomically."""
    schema = LINEAGE_SCHEMAS[name]
    columns = {field: [row.get(field) for row in rows] for field in schema.names}
    with atomic_path(Path(path)) as tmp:
        pq.write_table(pa.Table.from_pydict(columns, schema=schema), tmp, compression="zstd")


def read_shards(paths: list[Path]) -> list[dict]:
    return [row for path in paths for row in pq.read_table(path).to_pylist()]


def iter_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict]:
    """Rows of one shard, a record batch at a time (memory stays at one batch)."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=2048, columns=columns):
        yield from batch.to_pylist()


def iter_collection(storage, columns: list[str] | None = None) -> Iterator[dict]:
    """Rows of every shard of a complete collection in `storage` (local or remote), streamed."""
    import json
    import tempfile

    from application.artifacts import require_complete

    require_complete(storage, MANIFEST, "collection")
    manifest = json.loads(storage.read_bytes(MANIFEST))
    root = storage.local_root()
    for shard in manifest["shards"]:
        if root is not None:
            yield from iter_rows(root / shard["path"], columns)
            continue
        with tempfile.TemporaryDirectory(prefix="codetrain-previous-") as tmp:
            local = Path(tmp) / "shard.parquet"
            storage.download_file(shard["path"], local)
            yield from iter_rows(local, columns)
