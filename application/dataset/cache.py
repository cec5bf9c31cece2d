"""Reusing a finished dataset: same input manifests and options, same result.

The key is a hash of the input collections' manifests (their shards, row counts, sources
and commit SHAs), the options that shape the output, and fingerprints of anything else read
(benchmark files, a local tokenizer). A dataset whose stats.json (written last, so present
only when the dataset is complete) carries the same key is reused as it is.
"""
from __future__ import annotations

import hashlib
import json

from application.artifacts import read_json
from domain.errors import StorageError
from domain.ports import Storage

FORMAT = "codetrain-dataset/4"  # bump when the output changes for the same inputs and options


def cache_key(manifests: list[dict], options: dict, fingerprints: dict) -> str:
    payload = {"format": FORMAT, "manifests": manifests, "options": options, "fingerprints": fingerprints}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def cached_stats(output: Storage, key: str, stats_key: str) -> dict | None:
    """The stats of a complete dataset in `output` built with `key`, else None."""
    if not output.exists(stats_key):
        return None
    try:
        stats = read_json(output, stats_key)
    except StorageError:
        return None  # unreadable stats: rebuild rather than trust it
    return stats if stats.get("cache_key") == key else None
