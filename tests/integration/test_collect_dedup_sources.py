"""Which copy survives across repositories, and --dedup-against an earlier collection."""
from __future__ import annotations

import pyarrow.parquet as pq

from application.collect.pipeline import CollectRequest
from presentation.container import Container
from tests.collect_fixtures import HELPERS_PY, MIT, REPORT_A, REPORT_B

GPL = "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"


def write(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def collect(out, *sources, **options):
    request = CollectRequest(sources=tuple(map(str, sources)), output=str(out), workers=1, **options)
    manifest = Container().collect(request).manifest
    return manifest, [r for s in manifest["shards"] for r in pq.read_table(out / s["path"]).to_pylist()]


def test_the_most_permissive_copy_survives_whatever_the_source_order(tmp_path):
    gpl = write(tmp_path / "gpl_repo", {"LICENSE": GPL, "a/helpers.py": HELPERS_PY, "report.py": REPORT_A})
    mit = write(tmp_path / "mit_repo", {"LICENSE": MIT, "z/helpers.py": HELPERS_PY, "report.py": REPORT_B})
    manifest, rows = collect(tmp_path / "out", gpl, mit, granularity="file")
    kept = {r["path"]: r for r in rows}
    assert set(kept) == {"z/helpers.py", "report.py"}
    assert {r["license"] for r in rows} == {"MIT"} and {r["repo"] for r in rows} == {"mit_repo"}
    assert manifest["counts"]["duplicates"] == {"exact": 1, "near": 1}
    assert [s["license"] for s in manifest["sources"]] == ["MIT", "GPL-3.0"]


def test_dedup_against_a_previous_collection_writes_only_new_code(tmp_path):
    first = write(tmp_path / "first", {"helpers.py": HELPERS_PY, "report.py": REPORT_A})
    second = write(tmp_path / "second", {"copy.py": HELPERS_PY, "report_v2.py": REPORT_B,
                                         "fresh.py": "def fresh(a):\n    return [a, a + 1, a + 2]\n"})
    collect(tmp_path / "old", first)
    manifest, rows = collect(tmp_path / "new", second, dedup_against=str(tmp_path / "old"))
    assert {r["path"] for r in rows} == {"fresh.py"}
    # copy.py: file + 2 functions exact; report_v2.py: file + function near
    assert manifest["counts"]["duplicates"] == {"previous": 5}
    assert manifest["clusters"]["clusters_with_duplicates"] == 0
