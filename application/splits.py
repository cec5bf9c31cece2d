"""Leakage-free split assignment: whole groups (repositories or files) go to one split."""
from __future__ import annotations

from collections import Counter

import xxhash

SPLITS = ("train", "validation", "test")


def group_key(row: dict, by: str) -> str:
    return row["repo"] if by == "repo" else f"{row['repo']}\0{row['path']}"


def choose_grouping(rows: list[dict], min_repos: int = 3) -> str:
    """Group by repository when there are enough of them to fill three splits, else by file."""
    return "repo" if len({r["repo"] for r in rows}) >= min_repos else "file"


def assign_groups(sizes: dict[str, int], ratios: tuple[float, float, float], seed: int) -> dict[str, str]:
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
        used = Counter(assignment.values())
        for split, group in (("test", order[-1]), ("validation", order[-2])):
            if not used[split] and ratios[SPLITS.index(split)] > 0:
                used[assignment[group]] -= 1
                assignment[group] = split
                used[split] += 1
    return assignment


def split_rows(rows: list[dict], ratios=(0.9, 0.05, 0.05), seed: int = 42) -> tuple[dict[str, list[dict]], str]:
    """Split rows by repository or file; returns the splits and the grouping used."""
    by = choose_grouping(rows)
    sizes = Counter(group_key(r, by) for r in rows)
    assignment = assign_groups(sizes, ratios, seed)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row in rows:
        splits[assignment[group_key(row, by)]].append(row)
    return splits, by
