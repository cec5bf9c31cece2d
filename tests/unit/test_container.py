"""The composition root's injection points: a Container built with fake storage, fetchers and
parser runs `collect` with the real walker, MinHash and Parquet writer in between."""
from __future__ import annotations

from application.collect.pipeline import CollectRequest
from domain.layout import MANIFEST
from presentation.container import Container
from tests.unit.fakes import FakeFetcher, FakeParser, FakeStorage
from tests.unit.test_collect_use_case import REPOS


def test_container_wires_the_injected_storage_fetchers_and_parser_into_collect():
    storage, asked = FakeStorage("fake://collection"), []

    def fetchers(history, log, stall_seconds):
        asked.append((history, stall_seconds))
        return [FakeFetcher(REPOS)]

    container = Container(storage_for=lambda uri: {"fake://collection": storage}[uri],
                          fetchers_factory=fetchers, parser_factory=FakeParser)
    result = container.collect(CollectRequest(sources=("fake:alpha", "fake:beta"), output="fake://collection"))
    manifest = storage.read_json(MANIFEST)
    assert asked == [(0, 60.0)]
    assert result.uri == "fake://collection" and storage.written[-1] == MANIFEST
    assert [s["repo"] for s in manifest["sources"]] == ["fake/beta", "fake/alpha"]
    assert manifest["counts"]["by_language"] == {"toy": result.units}
    assert manifest["counts"]["duplicates"]["exact"] == 2
    assert all(storage.read_bytes(s["path"])[:4] == b"PAR1" for s in manifest["shards"])  # real Parquet
