"""Leakage-free split assignment.

Units are grouped by repository (when there are at least three) or else by file, and every
near-duplicate cluster pulls the groups it touches together: a group of groups (a
"component") goes to one split whole. So no repository, file or near-duplicate cluster is
ever in two splits. Components are ordered by a seeded hash and cut by running unit count.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import xxhash

SPLITS = ("train", "validation", "test")
MIN_REPOS_FOR_REPO_GROUPING = 3  # one repository each for train, validation and test


def group_key(row: dict, by: str) -> str:
    return row["repo"] if by == "repo" else f"{row['repo']}\0{row['path']}"


def choose_grouping(rows: Sequence[dict], min_repos: int = MIN_REPOS_FOR_REPO_GROUPING) -> str:
    """Group by repository when there are enough of them to fill three splits, else by file."""
    return "repo" if len({r["repo"] for r in rows}) >= min_repos else "file"


def components(groups: Sequence[str], clusters: Sequence[str]) -> list[str]:
    """For each row, a component key: rows sharing a group or a cluster share a component."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for group, cluster in zip(groups, clusters):
        a, b = find("g\0" + group), find("c\0" + cluster)
        if a != b:
            parent[max(a, b)] = min(a, b)  # deterministic root: the smaller key
    return [find("g\0" + group) for group in groups]


def assign_groups(sizes: dict[str, int], ratios: Sequence[float], seed: int) -> dict[str, str]:
    """Map each group to a split so that split sizes (in units) follow `ratios`.

    Groups are ordered by a seeded hash, then cut where the running unit count crosses each
    ratio boundary. With three or more groups, validation and test each get at least one.
    """
    order = sorted(sizes, key=lambda g: xxhash.xxh64_hexdigest(f"{seed}\0{g}".encode()))
    total = sum(sizes.values()) or 1
    bounds = (ratios[0], ratios[0] + ratios[1])
    assignment, running = {}, 0
    for group in order:
        middle = (running + sizes[group] / 2) / total
        assignment[group] = "train" if middle < bounds[0] else "validation" if middle < bounds[1] else "test"
        running += sizes[group]
    if len(order) >= 3:
        for split in ("test", "validation"):
            if ratios[SPLITS.index(split)] > 0 and split not in assignment.values():
                sizes_by_split = Counter(assignment.values())
                # the last group (in seeded order) whose split keeps another group after giving it up
                donor = next(g for g in reversed(order) if sizes_by_split[assignment[g]] > 1)
                assignment[donor] = split
    return assignment


def split_rows(
    rows: Sequence[dict], clusters: Sequence[str], ratios: Sequence[float] = (0.9, 0.05, 0.05), seed: int = 42,
) -> tuple[dict[str, list[int]], str]:
    """Assign row indices to splits; returns the indices per split and the grouping used.

    Args:
        rows: Units with at least `repo` and `path`.
        clusters: Near-duplicate cluster id of each row (a unique id for a unit alone).
        ratios: Shares of units for train, validation and test.
        seed: Same seed and rows, same splits.
    """
    by = choose_grouping(rows)
    keys = components([group_key(r, by) for r in rows], clusters)
    assignment = assign_groups(Counter(keys), ratios, seed)
    splits: dict[str, list[int]] = {s: [] for s in SPLITS}
    for index, key in enumerate(keys):
        splits[assignment[key]].append(index)
    return splits, by
