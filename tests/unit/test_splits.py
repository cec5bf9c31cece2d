"""Split assignment: whole repositories / files / near-duplicate clusters go to one split."""
from __future__ import annotations

from collections import Counter

from application.dataset.splits import SPLITS, choose_grouping, components, missing_labels, split_rows


def units(repos: int, files: int, per_file: int = 3) -> list[dict]:
    return [
        {"repo": f"r{r}", "path": f"f{f}.py", "id": f"r{r}/f{f}#{u}"}
        for r in range(repos) for f in range(files) for u in range(per_file)
    ]


def owners(rows, splits, key) -> dict:
    """key value -> set of splits holding a row with that value."""
    found: dict = {}
    for name, indices in splits.items():
        for i in indices:
            found.setdefault(key(rows[i]), set()).add(name)
    return found


def test_with_three_or_more_repositories_no_repository_is_in_two_splits():
    rows = units(repos=8, files=5)
    splits, by = split_rows(rows, [r["id"] for r in rows], (0.6, 0.2, 0.2), seed=1)
    assert by == "repo"
    assert all(len(s) == 1 for s in owners(rows, splits, lambda r: r["repo"]).values())
    assert all(splits[name] for name in SPLITS)
    assert sorted(i for name in SPLITS for i in splits[name]) == list(range(len(rows)))


def test_with_fewer_repositories_files_are_the_groups():
    rows = units(repos=2, files=30)
    assert choose_grouping(rows) == "file"
    splits, by = split_rows(rows, [r["id"] for r in rows], (0.8, 0.1, 0.1), seed=3)
    assert by == "file"
    assert all(len(s) == 1 for s in owners(rows, splits, lambda r: (r["repo"], r["path"])).values())
    assert all(splits[name] for name in SPLITS)


def test_a_near_duplicate_cluster_pulls_its_groups_into_one_split():
    rows = units(repos=10, files=2, per_file=1)
    clusters = [r["id"] for r in rows]
    # one cluster spanning five repositories, another spanning two
    for i in (0, 4, 8, 12, 16):
        clusters[i] = "cluster-a"
    for i in (3, 19):
        clusters[i] = "cluster-b"
    for seed in range(20):
        splits, _ = split_rows(rows, clusters, (0.5, 0.25, 0.25), seed=seed)
        assert all(len(s) == 1 for s in owners(rows, splits, lambda r: r["repo"]).values())
        by_cluster = owners([{"c": c} for c in clusters], splits, lambda r: r["c"])
        assert len(by_cluster["cluster-a"]) == 1 and len(by_cluster["cluster-b"]) == 1


def test_components_join_transitively():
    keys = components(["g1", "g2", "g3", "g4"], ["a", "b", "a", "b"])
    assert keys[0] == keys[2] and keys[1] == keys[3] and keys[0] != keys[1]
    keys = components(["g1", "g2", "g2", "g3"], ["a", "a", "b", "b"])
    assert len(set(keys)) == 1


def test_same_seed_same_splits_other_seed_other_splits():
    rows = units(repos=2, files=60, per_file=1)
    clusters = [r["id"] for r in rows]
    first, _ = split_rows(rows, clusters, seed=7)
    assert split_rows(rows, clusters, seed=7)[0] == first
    assert split_rows(rows, clusters, seed=8)[0] != first


def test_ratios_are_followed_in_units():
    rows = units(repos=2, files=500, per_file=2)
    splits, _ = split_rows(rows, [r["id"] for r in rows], (0.8, 0.1, 0.1), seed=5)
    shares = {name: len(splits[name]) / len(rows) for name in SPLITS}
    assert abs(shares["train"] - 0.8) < 0.02 and abs(shares["validation"] - 0.1) < 0.02
    assert Counter(len(s) for s in owners(rows, splits, lambda r: (r["repo"], r["path"])).values()) == {1: 1000}


def test_every_split_gets_a_group_when_there_are_three_or_more():
    rows = units(repos=5, files=1, per_file=5)
    for seed in range(40):
        splits, _ = split_rows(rows, [r["id"] for r in rows], (0.9, 0.05, 0.05), seed=seed)
        assert all(splits[name] for name in SPLITS), seed
        assert len(splits["train"]) >= 5


def language_units(repos_per_language: dict[str, int], per_repo: int = 10) -> list[dict]:
    return [{"repo": f"owner/{lang}-{r}", "path": f"f{u}", "id": f"{lang}-{r}#{u}", "language": lang}
            for lang, count in repos_per_language.items() for r in range(count) for u in range(per_repo)]


def test_pinned_repositories_go_whole_to_their_split_by_name_or_glob():
    rows = language_units({"python": 4, "go": 4})
    pins = {"test": ("go-0", "owner/python-1"), "validation": ("*-3",)}
    splits, by = split_rows(rows, [r["id"] for r in rows], (1.0, 0.0, 0.0), seed=1, pins=pins)
    repos = owners(rows, splits, lambda r: r["repo"])
    assert by == "repo"
    assert repos["owner/go-0"] == {"test"} and repos["owner/python-1"] == {"test"}
    assert repos["owner/go-3"] == {"validation"} and repos["owner/python-3"] == {"validation"}
    assert {r for r, s in repos.items() if s == {"train"}} == {"owner/go-1", "owner/go-2", "owner/python-0",
                                                               "owner/python-2"}


def test_a_pinned_repository_pulls_a_near_duplicate_cluster_with_it():
    rows = language_units({"python": 3})
    clusters = [r["id"] for r in rows]
    clusters[0] = clusters[25] = "shared"  # python-0 and python-2 share a cluster
    splits, _ = split_rows(rows, clusters, (1.0, 0.0, 0.0), seed=1, pins={"test": ("python-2",)})
    repos = owners(rows, splits, lambda r: r["repo"])
    assert repos["owner/python-0"] == {"test"} == repos["owner/python-2"]


def test_zero_shares_make_a_whole_collection_one_split():
    rows = language_units({"python": 5})
    splits, _ = split_rows(rows, [r["id"] for r in rows], (0.0, 0.0, 1.0), seed=1)
    assert len(splits["test"]) == len(rows) and not splits["train"] and not splits["validation"]


def test_stratified_splits_cover_every_language_that_has_three_repositories():
    # One large python repository would otherwise push every small go repository past the cut.
    rows = language_units({"python": 3, "go": 3}, per_repo=4) + language_units({"python": 1}, per_repo=400)
    rows[-400:] = [{**r, "repo": "owner/python-big"} for r in rows[-400:]]
    for seed in range(10):
        splits, _ = split_rows(rows, [r["id"] for r in rows], (0.8, 0.1, 0.1), seed=seed, stratify_by="language")
        for name in SPLITS:
            assert {rows[i]["language"] for i in splits[name]} == {"python", "go"}, (seed, name)
        assert missing_labels([r["language"] for r in rows], splits) == {}


def test_a_split_missing_a_language_is_named():
    strata = ["go", "go", "python", "rust"]
    assert missing_labels(strata, {"train": [0, 2, 3], "validation": [1], "test": []}) == {"validation": ["python", "rust"]}
