"""What collect leaves out is listed, not only counted: skipped.parquet and duplicates.parquet,
on a repository built from real files (click, zod, jquery, fmt's bundled googletest, cobra's
go.sum; each with its licence under tests/fixtures)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from application.collect.pipeline import CollectRequest
from presentation.container import Container

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LAYOUT = {  # path in the built repository: fixture file
    "LICENSE": "click/LICENSE.txt",
    "src/click/shell_completion.py": "click/shell_completion.py",
    "src/click/decorators.py": "click/decorators.py",
    "z_copy/shell_completion.py": "click/shell_completion.py",  # an exact copy: dropped, listed
    "bench/compile.ts": "zod/compile.ts",  # hand-written, one 1,306-character line: kept
    "static/app-bundle.js": "jquery/jquery.min.js",  # a bundle under a plain name: minified
    "test/gtest/gtest/gtest-spi.h": "fmt/test/gtest/gtest/gtest-spi.h",  # vendored googletest
    "go.sum": "cobra/go.sum",  # lock file
}


def test_skipped_and_duplicates_are_listed_with_counts_equal_to_the_manifest(tmp_path):
    repo = tmp_path / "repo"
    for rel, fixture in LAYOUT.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, repo / rel)
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1;\n")
    out = tmp_path / "out"
    manifest = Container().collect(CollectRequest(sources=(str(repo),), output=str(out))).manifest
    skipped = pq.read_table(out / "skipped.parquet").to_pylist()
    duplicates = pq.read_table(out / "duplicates.parquet").to_pylist()

    reasons = {row["path"]: row["reason"] for row in skipped}
    assert reasons == {"static/app-bundle.js": "minified", "test/gtest/gtest/gtest-spi.h": "vendored",
                       "go.sum": "lock_file", "node_modules": "vendored_dir", "LICENSE": "unsupported_language"}
    assert manifest["counts"]["skipped"] == {"minified": 1, "vendored": 1, "lock_file": 1,
                                             "vendored_dir": 1, "unsupported_language": 1}
    sizes = {row["path"]: row["size"] for row in skipped}
    assert sizes["static/app-bundle.js"] == (FIXTURES / "jquery/jquery.min.js").stat().st_size
    assert sizes["node_modules"] is None  # a pruned folder is not read

    rows = [r for s in manifest["shards"] for r in pq.read_table(out / s["path"]).to_pylist()]
    assert {r["path"] for r in rows if r["kind"] == "file"} == {
        "src/click/shell_completion.py", "src/click/decorators.py", "bench/compile.ts"}
    assert len(duplicates) == sum(manifest["counts"]["duplicates"].values()) > 0
    kept = {r["id"]: r for r in rows}
    copies = [drop for drop in duplicates if drop["path"] == "z_copy/shell_completion.py"]
    assert len(copies) >= len([r for r in rows if r["path"] == "src/click/shell_completion.py"])
    for drop in duplicates:
        survivor = kept[drop["survivor_id"]]  # each names a unit that was written
        assert drop["kind"] == survivor["kind"] and 0.7 <= drop["jaccard"] <= 1.0
        if drop in copies:
            assert drop["match"] == "exact" and drop["jaccard"] == 1.0
            assert survivor["path"] == "src/click/shell_completion.py"
    assert list(manifest).index("lineage") >= 0 and manifest["lineage"]["skipped"] == "skipped.parquet"
