"""Which copy of duplicated code is kept, and which cluster every sample belongs to.

Samples arrive in a fixed order (most permissive licence first, then path order), so the
first copy seen is the one kept: the choice is deterministic and needs one pass. A kept
sample's id is its cluster id; exact copies (same whitespace-normalised hash) and near copies
(same unit kind, Jaccard similarity of token 5-grams >= threshold, on the candidates LSH
proposes: the signatures' estimate, or the exact Jaccard for pairs near the threshold) join that cluster and are dropped. Every drop is recorded (dropped id,
survivor id, exact/near/previous, similarity) for `duplicates.parquet`.
"""
from __future__ import annotations

from collections import Counter
from typing import Protocol


class NearIndex(Protocol):
    """The LSH index (infrastructure.dedup.minhash.LSHIndex); signatures travel as bytes."""

    threshold: float

    def candidates(self, scope: str, signature: bytes, text: str | None = None) -> list[tuple[str, float]]: ...

    def add(self, scope: str, signature: bytes, cluster_id: str, text: str | None = None) -> None: ...


def choose_survivor(candidates: list[tuple[str, float]], threshold: float) -> tuple[str, float] | None:
    """The kept sample a new one duplicates: the most similar candidate at or above `threshold`,
    the earliest kept among equals (candidates come in keep order); None when none reaches it.

    Pure, so every executor (process pool, Ray) makes the same choice from the same candidates.
    """
    best = None
    for cluster, similarity in candidates:
        if similarity >= threshold and (best is None or similarity > best[1]):
            best = (cluster, similarity)
    return best


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
        self.drops: list[dict] = []  # rows of duplicates.parquet

    def remember_previous(self, row: dict, signature: bytes | None) -> None:
        """Seed with a sample of an earlier collection (`--dedup-against`): never written again."""
        cluster = "prev:" + (row.get("cluster_id") or row["id"])
        self._previous.add(cluster)
        self._exact.setdefault((row["kind"], row["content_hash"]), cluster)
        if signature is not None and self.index is not None:
            self.index.add(row["kind"], signature, cluster, row.get("content"))

    def admit(self, row: dict, signature: bytes | None) -> str | None:
        """The cluster id to write `row` with, or None when it duplicates a kept sample."""
        cluster, how, similarity = self._exact.get((row["kind"], row["content_hash"])), "exact", 1.0
        if cluster is None and signature is not None and self.index is not None:
            found = choose_survivor(self.index.candidates(row["kind"], signature, row.get("content")), self.index.threshold)
            if found is not None:
                (cluster, similarity), how = found, "near"
        if cluster is not None:
            drop = {"d": "previous" if cluster in self._previous else how, "c": cluster,
                    "i": row["id"], "j": round(similarity, 4),
                    "u": [row.get(key) for key in ("repo", "path", "kind", "name", "start_line")]}
            self._count_drop(drop)
            self._journal.append(drop)
            return None
        cluster = row["id"]
        self._keep(row["kind"], row["content_hash"], signature, cluster, row.get("content"))
        return cluster

    def _count_drop(self, drop: dict) -> None:
        self.dropped[drop["d"]] += 1
        if drop["d"] != "previous":
            self.cluster_sizes[drop["c"]] = self.cluster_sizes.get(drop["c"], 1) + 1
        repo, path, kind, name, start = drop.get("u") or [None] * 5
        self.drops.append({"id": drop.get("i"), "survivor_id": drop["c"].removeprefix("prev:"),
                           "match": drop["d"], "jaccard": drop.get("j"), "repo": repo, "path": path,
                           "kind": kind, "name": name, "start_line": start})

    def _keep(self, kind: str, digest: str, signature: bytes | None, cluster: str, text: str | None) -> None:
        self._exact[(kind, digest)] = cluster
        if signature is not None and self.index is not None:
            self.index.add(kind, signature, cluster, text)
        self._journal.append({"k": kind, "h": digest, "c": cluster, "s": signature})

    def take_journal(self) -> list[dict]:
        """Decisions since the last call: saved with each shard so a resumed run replays them."""
        journal, self._journal = self._journal, []
        return journal

    def replay(self, journal: list[dict], texts: dict[str, str] | None = None) -> None:
        """Restore the decisions of an interrupted run, in the order they were made.

        Args:
            texts: Content of the kept rows by id (the rows of the shard the journal belongs
                to): what verification near the threshold compares. The journal does not
                repeat them.
        """
        for entry in journal:
            if "d" in entry:
                self._count_drop(entry)
            else:
                self._keep(entry["k"], entry["h"], entry["s"], entry["c"], (texts or {}).get(entry["c"]))
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
