"""collect_repositories driven through the fakes alone: no disk storage, no git, no tree-sitter."""
from __future__ import annotations

import pytest

from application.collect.pipeline import CollectRequest, collect_repositories
from domain.errors import SourceError
from domain.layout import MANIFEST, SHARD_PREFIX
from tests.unit.fakes import FakeFetcher, FakeParser, FakeStorage, read_json_shards, walk_sorted, write_json_shard

MIT = ("MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy...\n"
       "The above copyright notice and this permission notice shall be included in all copies.\n")
SHARED = "def shared(values):\n    return [v + 1 for v in values]\n"
REPOS = {
    "alpha": {  # no licence: ranked after beta, so beta's copy of shared.toy is the one kept
        "shared.toy": SHARED,
        "shapes.toy": "class Square:\n    def area(self):\n        return self.side * self.side\n",
        "README.md": "not toy code\n",
        "node_modules/dep.toy": "def vendored():\n    return 1\n",
    },
    "beta": {
        "LICENSE": MIT,
        "copy/shared.toy": SHARED,
        "count.toy": "def count(items):\n    return len(items)\n",
    },
}


def collect(storage: FakeStorage, sources=("fake:alpha", "fake:beta"), **options):
    request = CollectRequest(sources=tuple(sources), output=storage.uri, near_dedup=False, **options)
    return collect_repositories(request, fetchers=[FakeFetcher(REPOS)], parser=FakeParser(), storage=storage,
                                walk=walk_sorted, write_shard=write_json_shard)


def shard_rows(storage: FakeStorage, tmp_path) -> list[dict]:
    paths = []
    for number, key in enumerate(storage.list("data")):
        paths.append(tmp_path / f"shard-{number}.jsonl")
        storage.download_file(key, paths[-1])
    return read_json_shards(paths)


def test_collect_writes_shards_then_the_manifest_last(tmp_path):
    storage = FakeStorage()
    result = collect(storage, shard_rows=2)
    manifest = storage.read_json(MANIFEST)
    shards = [s["path"] for s in manifest["shards"]]
    assert len(shards) > 1 and all(key.startswith(SHARD_PREFIX) for key in shards)
    assert sorted(shards) == storage.list("data")
    assert storage.written[-1] == MANIFEST  # the collection is complete only once this exists
    assert storage.list("state") == []  # resume state is cleared once the manifest is written
    assert result.units == manifest["counts"]["units"] == len(shard_rows(storage, tmp_path))


def test_exact_duplicates_across_repositories_are_dropped_and_counted(tmp_path):
    storage = FakeStorage()
    collect(storage)
    rows = shard_rows(storage, tmp_path)
    shared = [r for r in rows if r["content"] == SHARED]
    # One file unit and one function unit (same text, another kind): alpha's two copies are dropped.
    assert sorted(r["kind"] for r in shared) == ["file", "function"]
    assert {(r["repo"], r["license"]) for r in shared} == {("fake/beta", "MIT")}  # most permissive first
    assert storage.read_json(MANIFEST)["counts"]["duplicates"] == {"exact": 2}


def test_units_come_from_the_parser_with_their_parents(tmp_path):
    storage = FakeStorage()
    collect(storage)
    units = {(r["kind"], r["name"], r["parent"]) for r in shard_rows(storage, tmp_path) if r["kind"] != "file"}
    assert units == {("class", "Square", None), ("method", "area", "Square"),
                     ("function", "shared", None), ("function", "count", None)}


def test_skipped_sources_files_and_folders_are_reported(tmp_path):
    storage = FakeStorage()
    collect(storage, sources=("fake:alpha", "fake:gone", "fake:beta"))
    manifest = storage.read_json(MANIFEST)
    assert manifest["skipped_sources"] == [{"origin": "fake:gone", "reason": "no such repository"}]
    assert [s["repo"] for s in manifest["sources"]] == ["fake/beta", "fake/alpha"]
    skipped = manifest["counts"]["skipped"]
    assert skipped["vendored_dir"] == 1  # node_modules/ is never walked
    assert skipped["unsupported_language"] == 2  # README.md, LICENSE
    assert not any("node_modules" in r["path"] for r in shard_rows(storage, tmp_path))


def test_a_source_no_fetcher_accepts_is_refused_in_one_line():
    with pytest.raises(SourceError) as error:
        collect(FakeStorage(), sources=("ftp://example.org/repo",))
    assert "\n" not in str(error.value) and "ftp://example.org/repo" in str(error.value)


def test_a_second_collect_into_the_same_storage_replaces_the_first(tmp_path):
    storage = FakeStorage()
    collect(storage, shard_rows=1)
    many = storage.list("data")
    collect(storage, sources=("fake:beta",))
    assert len(storage.list("data")) == 1 < len(many)  # stale shards of the larger run are gone
    assert {r["repo"] for r in shard_rows(storage, tmp_path)} == {"fake/beta"}
