"""Which copy of duplicated code is kept, and which cluster every sample belongs to.

Samples arrive in a fixed order (most permissive licence first, then path order), so the
first copy seen is the one kept: the choice is deterministic and needs one pass. A kept
sample's id is its cluster id; exact copies (same whitespace-normalised hash) and near copies
(MinHash estimated Jaccard >= threshold, same unit kind) join that cluster and are dropped.
"""
from __future__ import annotations

from collections import Counter
from typing import Protocol


class NearIndex(Protocol):
    """The LSH index (infrastructure.dedup.minhash.LSHIndex); signatures travel as bytes."""

    def query(self, scope: str, signature: bytes) -> str | None: ...

    def add(self, scope: str, signature: bytes, cluster_id: str) -> None: ...


class Deduplicator:
    """Exact and near duplicate decisions over a stream of rows.

    Args:
        index: Near-duplicate index; None turns near-dedup off (exact only).
    """

    def __init__(self, index: NearIndex | None):
        self.index = index
        self._exact: dict[tuple[str, str], str] = {}
        self._previous: set[str] = set()
        self.dropped: Counter = Counter()  # exact / near / previous
        self.cluster_sizes: Counter = Counter()  # kept id -> members including itself (> 1 only)
        self._journal: list[dict] = []

    def remember_previous(self, row: dict, signature: bytes | None) -> None:
        """Seed with a sample of an earlier collection (`--dedup-against`): never written again."""
        cluster = "prev:" + (row.get("cluster_id") or row["id"])
        self._previous.add(cluster)
        self._exact.setdefault((row["kind"], row["content_hash"]), cluster)
        if signature is not None and self.index is not None:
            self.index.add(row["kind"], signature, cluster)

    def admit(self, row: dict, signature: bytes | None) -> str | None:
        """The cluster id to write `row` with, or None when it duplicates a kept sample."""
        key = (row["kind"], row["content_hash"])
        cluster = self._exact.get(key)
        how = "exact"
        if cluster is None and signature is not None and self.index is not None:
            cluster, how = self.index.query(row["kind"], signature), "near"
        if cluster is not None:
            if cluster in self._previous:
                self.dropped["previous"] += 1
            else:
                self.dropped[how] += 1
                self.cluster_sizes[cluster] = self.cluster_sizes.get(cluster, 1) + 1
            self._journal.append({"d": how if cluster not in self._previous else "previous", "c": cluster})
            return None
        cluster = row["id"]
        self._keep(row["kind"], row["content_hash"], signature, cluster)
        return cluster

    def _keep(self, kind: str, digest: str, signature: bytes | None, cluster: str) -> None:
        self._exact[(kind, digest)] = cluster
        if signature is not None and self.index is not None:
            self.index.add(kind, signature, cluster)
        self._journal.append({"k": kind, "h": digest, "c": cluster, "s": signature})

    def take_journal(self) -> list[dict]:
        """Decisions since the last call: saved with each shard so a resumed run replays them."""
        journal, self._journal = self._journal, []
        return journal

    def replay(self, journal: list[dict]) -> None:
        """Restore the decisions of an interrupted run, in the order they were made."""
        for entry in journal:
            if "d" in entry:
                if entry["d"] == "previous":
                    self.dropped["previous"] += 1
                else:
                    self.dropped[entry["d"]] += 1
                    self.cluster_sizes[entry["c"]] = self.cluster_sizes.get(entry["c"], 1) + 1
            else:
                self._keep(entry["k"], entry["h"], entry["s"], entry["c"])
        self._journal = []

    def summary(self) -> dict:
        return dedup_summary(self.dropped, self.cluster_sizes)


def dedup_summary(dropped: Counter, sizes: dict[str, int]) -> dict:
    """The manifest's view of dedup: drops per kind, and kept id -> cluster size (> 1 only)."""
    return {
        "duplicates_dropped": dict(dropped),
        "clusters_with_duplicates": len(sizes),
        "largest_cluster": max(sizes.values(), default=1),
        "cluster_sizes": dict(sorted(sizes.items())),
    }
