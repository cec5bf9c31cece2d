"""Leakage-free split assignment.

Units are grouped by repository (when there are at least three) or else by file, and every
near-duplicate cluster pulls the groups it touches together: a group of groups (a
"component") goes to one split whole. So no repository, file or near-duplicate cluster is
ever in two splits. Components are ordered by a seeded hash and cut by running unit count.

Repositories named with `--test-repos` / `--validation-repos` (names or globs) are pinned: their
components go to that split whole. The other components are assigned per stratum (their main
language or label), so each split covers every language that has enough repositories for it;
`missing_labels` names what a split still lacks, for the warning.
"""
from __future__ import annotations

import random
from collections import Counter
from fnmatch import fnmatchcase
from typing import Mapping, Sequence

import xxhash

SPLITS = ("train", "validation", "test")
MIN_REPOS_FOR_REPO_GROUPING = 3  # one repository each for train, validation and test


def evaluation_order(indices: Sequence[int], seed: int) -> list[int]:
    """A validation/test split's units in a seeded random order instead of repository order, so
    that an evaluation capped at its first batches (`eval.max_batches`) samples every
    repository and language of the split rather than the first few."""
    shuffled = list(indices)
    random.Random(f"{seed}\0evaluation").shuffle(shuffled)
    return shuffled


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
    order = seeded_order(sizes, seed)
    total = sum(sizes.values()) or 1
    bounds = (ratios[0], ratios[0] + ratios[1])
    assignment, running = {}, 0
    for group in order:
        middle = (running + sizes[group] / 2) / total
        assignment[group] = "train" if middle < bounds[0] else "validation" if middle < bounds[1] else "test"
        running += sizes[group]
    fill_empty_splits(assignment, order, ratios)
    return assignment


def seeded_order(groups, seed: int) -> list[str]:
    return sorted(groups, key=lambda g: xxhash.xxh64_hexdigest(f"{seed}\0{g}".encode()))


def fill_empty_splits(assignment: dict[str, str], order: Sequence[str], ratios: Sequence[float]) -> None:
    """With three or more groups, give validation and test (when their share is above 0) a group
    each: the last group, in seeded order, whose split keeps another group after giving it up."""
    if len(order) < 3:
        return
    for split in ("test", "validation"):
        if ratios[SPLITS.index(split)] > 0 and split not in assignment.values():
            sizes_by_split = Counter(assignment.values())
            donor = next(g for g in reversed(order) if sizes_by_split[assignment[g]] > 1)
            assignment[donor] = split


def repo_matches(repo: str, patterns: Sequence[str]) -> bool:
    """A repository matches a name or glob by its full name or its last path component
    (`psf/requests`, `requests`, `*requests*`)."""
    names = {repo, repo.rstrip("/").rsplit("/", 1)[-1]}
    return any(fnmatchcase(name, pattern) for pattern in patterns for name in names)


def pinned_split(repo: str, pins: Mapping[str, Sequence[str]]) -> str | None:
    """The split a repository is pinned to (test wins over validation), or None."""
    return next((split for split in ("test", "validation") if repo_matches(repo, pins.get(split, ()))), None)


def stratified_assignment(keys: Sequence[str], strata: Sequence[str], ratios: Sequence[float],
                          seed: int) -> dict[str, str]:
    """Components assigned stratum by stratum (a component's stratum: the label most of its rows
    have), so that a language with three or more components lands in every split."""
    votes: dict[str, Counter] = {}
    for key, stratum in zip(keys, strata):
        votes.setdefault(key, Counter())[stratum] += 1
    sizes = Counter(keys)
    by_stratum: dict[str, dict[str, int]] = {}
    for key, counted in votes.items():
        by_stratum.setdefault(counted.most_common(1)[0][0], {})[key] = sizes[key]
    assignment: dict[str, str] = {}
    for groups in by_stratum.values():
        assignment.update(assign_groups(groups, ratios, seed))
    fill_empty_splits(assignment, seeded_order(sizes, seed), ratios)  # strata too small to fill them
    return assignment


def missing_labels(strata: Sequence[str], splits: Mapping[str, Sequence[int]]) -> dict[str, list[str]]:
    """For each non-empty split, the labels present in the data but absent from that split."""
    everything = set(strata)
    missing = {}
    for name, indices in splits.items():
        if indices:
            absent = sorted(everything - {strata[i] for i in indices})
            if absent:
                missing[name] = absent
    return missing


def split_rows(
    rows: Sequence[dict], clusters: Sequence[str], ratios: Sequence[float] = (0.9, 0.05, 0.05), seed: int = 42,
    pins: Mapping[str, Sequence[str]] | None = None, stratify_by: str | None = None,
) -> tuple[dict[str, list[int]], str]:
    """Assign row indices to splits; returns the indices per split and the grouping used.

    Args:
        rows: Units with at least `repo` and `path`.
        clusters: Near-duplicate cluster id of each row (a unique id for a unit alone).
        ratios: Shares of units for train, validation and test (of the units not pinned).
        seed: Same seed and rows, same splits.
        pins: Split name (`test`, `validation`) -> repository names or globs pinned to it.
        stratify_by: Row field whose values every split should cover (e.g. `language`).
    """
    pins = pins or {}
    by = choose_grouping(rows)
    if any(pins.values()):
        by = "repo"  # a pinned repository moves whole
    keys = components([group_key(r, by) for r in rows], clusters)
    pinned: dict[str, str] = {}
    for key, row in zip(keys, rows):
        split = pinned_split(row["repo"], pins)
        if split and pinned.get(key) != "test":
            pinned[key] = split
    free = [(k, r) for k, r in zip(keys, rows) if k not in pinned]
    strata = [str(r.get(stratify_by)) if stratify_by else "" for _, r in free]
    assignment = {**stratified_assignment([k for k, _ in free], strata, ratios, seed), **pinned}
    splits: dict[str, list[int]] = {s: [] for s in SPLITS}
    for index, key in enumerate(keys):
        splits[assignment[key]].append(index)
    return splits, by
