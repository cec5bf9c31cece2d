"""collect on a distributed engine: the pure pieces every executor shares with the local run.

The local run decides duplicates in one pass over the rows in their fixed order (most
permissive licence first, then path order): a row is dropped when an earlier *kept* row has
the same whitespace-normalised hash (exact), or shares an LSH bucket with it at Jaccard >=
threshold (near, verified as the index verifies; the most similar kept row wins, the earliest
of equals). A
distributed executor finds the same facts without one process holding the index: exact
groups and verified bucket pairs come out of a shuffle, and `resolve_duplicates` replays the
local rule over them alone. `shard_ranges` cuts the survivors where the local run flushes, so
both executors write the same shards row for row.

Rows are named by a global position (`gid`): any integers that sort in the local row order.
"""
from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from application.collect.files import WorkContext, run_task

EXACT, NEAR = "exact", "near"


@dataclass
class BatchOutput:
    """What one batch of tasks (files or commits) produced, before dedup."""

    rows: list[dict] = field(default_factory=list)
    signatures: list[bytes | None] = field(default_factory=list)
    rows_per_task: list[int] = field(default_factory=list)
    stats: dict = field(default_factory=dict)  # skipped, files_kept, bytes_read, redactions
    skipped: list[dict] = field(default_factory=list)  # rows of skipped.parquet, in task order


def run_batch(context: WorkContext, tasks: Sequence[tuple[int, str, str]]) -> BatchOutput:
    """Run `tasks` in order and count what the manifest counts per task (as the local run does)."""
    out, skipped, redactions = BatchOutput(), Counter(), Counter()
    files_kept = bytes_read = 0
    for task in tasks:
        result = run_task(context, task)
        out.rows_per_task.append(len(result.rows))
        if result.skip:
            skipped[result.skip] += 1
            out.skipped.append({"path": task[2], "repository": context.repos[task[0]].repo,
                                "reason": result.skip, "size": result.size})
            continue
        files_kept += 1
        bytes_read += result.bytes_read
        redactions.update(result.redactions)
        out.rows += result.rows
        out.signatures += result.signatures
    out.stats = {"skipped": dict(skipped), "files_kept": files_kept, "bytes_read": bytes_read,
                 "redactions": dict(redactions)}
    return out


def _best_kept(neighbours: list[tuple[int, float]], below: int, dropped: dict) -> tuple[int, float] | None:
    """(gid, similarity) of the kept neighbour before `below` with the highest similarity, the
    earliest of equals."""
    best = None
    for other, score in neighbours:
        if other < below and other not in dropped and (best is None or (score, -other) > (best[1], -best[0])):
            best = (other, score)
    return best


def resolve_duplicates(groups: Iterable[tuple[int, Sequence[tuple[int, bool]]]],
                       edges: Iterable[tuple[int, int, float]]) -> dict[int, tuple[str, int, float]]:
    """Dropped gid -> (`exact` | `near`, gid of the kept row whose cluster it joins, similarity).

    Args:
        groups: Rows of one kind that look the same to dedup, each as (first gid, [(later gid,
            same content hash as the first)]): the same content hash (the local run's exact
            copies, whose similarity to any row is the first's). Only a group's first row can
            be kept: a later one finds the first (or what the first joined) in every bucket.
        edges: (gid, gid, similarity) of groups' first rows that share an LSH bucket and reach
            the threshold, the similarity as the local index computes it
            (`verified_similarities`), so that ties break alike.
    """
    neighbours: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a, b, score in edges:
        if a != b:
            neighbours[a].append((b, score))
            neighbours[b].append((a, score))
    dropped: dict[int, tuple[str, int, float]] = {}
    for row in sorted(neighbours):  # in row order: an earlier row's fate is known before it counts
        kept = _best_kept(neighbours[row], row, dropped)
        if kept is not None:
            dropped[row] = (NEAR, *kept)
    for first, later in groups:
        for row, same_content in later:
            if first not in dropped:  # kept: it is the most similar row there is
                dropped[row] = (EXACT, first, 1.0) if same_content else (NEAR, first, 1.0)
            else:  # the first joined a cluster: this copy asks the same question, later
                dropped[row] = (NEAR, *_best_kept(neighbours[first], row, dropped))
    return dropped


def duplicate_counts(dropped: dict[int, tuple[str, int, float]]) -> tuple[Counter, Counter]:
    """(drops per kind of duplicate, members per kept gid including itself)."""
    how = Counter(kind for kind, _, _ in dropped.values())
    sizes = Counter(kept for _, kept, _ in dropped.values())
    return how, Counter({kept: n + 1 for kept, n in sizes.items()})


def shard_ranges(survivors_per_task: Iterable[int], shard_rows: int) -> list[tuple[int, int]]:
    """[start, stop) of each shard over the surviving rows, cut where the local run flushes:
    after the task that brings the shard to `shard_rows` or more, and at the end (one empty
    shard when nothing survives)."""
    ranges, start, filled = [], 0, 0
    for count in survivors_per_task:
        filled += count
        if filled - start >= shard_rows:
            ranges.append((start, filled))
            start = filled
    if filled > start or not ranges:
        ranges.append((start, filled))
    return ranges


def shard_pieces(survivors: Sequence[Sequence[int]], shard_rows: int) -> list[list[tuple[int, int, int]]]:
    """Per shard, the (batch, start, stop) slices of the batches' surviving rows it holds.

    Args:
        survivors: Per batch, surviving rows per task, batches and tasks in row order.
    """
    totals = [0]
    for batch in survivors:
        totals.append(totals[-1] + sum(batch))
    shards = []
    for start, stop in shard_ranges((n for batch in survivors for n in batch), shard_rows):
        first = max(bisect.bisect_right(totals, start) - 1, 0)
        pieces = []
        for batch in range(first, len(survivors)):
            if totals[batch] >= stop:
                break
            low, high = max(start, totals[batch]), min(stop, totals[batch + 1])
            if high > low:
                pieces.append((batch, low - totals[batch], high - totals[batch]))
        shards.append(pieces)
    return shards


@dataclass(frozen=True)
class DistributedJob:
    """The work of one collect, as the executor receives it."""

    context: WorkContext
    tasks: list[tuple[int, str, str]]
    output: str
    """URI of the collection (shards go to its `data/`)."""
    staging: str
    """Key prefix in the output for finished batches: what a rerun after a crash skips."""
    shard_rows: int
    near_threshold: float | None
    """Estimated Jaccard at which rows are near-duplicates; None: exact dedup only."""


@dataclass(frozen=True)
class DistributedOutcome:
    shards: list[dict]
    """{"path", "rows"} per shard, in order."""
    counts: dict
    """skipped, by_kind, by_language, redactions, files_kept, bytes_read (as the local run)."""
    duplicates: tuple[Counter, dict]
    """(drops per kind of duplicate, cluster size per kept row id)."""
    lineage: tuple[list[dict], list[dict]] = ((), ())
    """Rows of skipped.parquet (files, in task order) and duplicates.parquet (in row order)."""


class CollectExecutor(Protocol):
    """Runs a collect's tasks, dedup and shard writing somewhere else (a Ray cluster)."""

    name: str

    def collect(self, job: DistributedJob, progress: Callable[[int, int], None],
                log: Callable[[str], None]) -> DistributedOutcome: ...
