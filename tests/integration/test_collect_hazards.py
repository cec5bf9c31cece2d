"""collect on a generated repository holding every hazard: what is kept, dropped, redacted, counted.

Real disk, real git, real tree-sitter, two real worker processes, the container's real adapters.
"""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from application.collect.pipeline import CollectRequest
from presentation.container import Container
from tests import collect_fixtures as fx


@pytest.fixture(scope="module")
def hazard_repo(tmp_path_factory):
    return fx.make_hazard_repo(tmp_path_factory.mktemp("hazard"))


def collect(source, out, **options):
    request = CollectRequest(sources=(str(source),), output=str(out), **options)
    result = Container().collect(request)
    rows = [row for shard in result.manifest["shards"] for row in pq.read_table(out / shard["path"]).to_pylist()]
    return result.manifest, rows


@pytest.fixture(scope="module")
def collected(hazard_repo, tmp_path_factory):
    root, _ = hazard_repo
    return collect(root, tmp_path_factory.mktemp("out"), workers=2, shard_rows=25)


def test_exactly_the_clean_files_are_kept_once(collected):
    manifest, rows = collected
    files = [row["path"] for row in rows if row["kind"] == "file"]
    assert sorted(files) == sorted(fx.KEPT_FILES)
    assert len({row["id"] for row in rows}) == len(rows)  # no sample twice
    assert manifest["counts"]["files_kept"] == len(fx.KEPT_FILES) + len(fx.EXACT_DUPLICATE_FILES) \
        + len(fx.NEAR_DUPLICATE_FILES)


def test_every_skip_is_counted_by_reason(collected, hazard_repo):
    manifest, rows = collected
    expected = {reason: len(paths) for reason, paths in fx.SKIPPED.items()}
    expected |= {"vendored_dir": fx.VENDORED_DIRS, "symlink_outside": fx.SYMLINKS_OUTSIDE,
                 "symlink_inside": fx.SYMLINKS_INSIDE}
    assert manifest["counts"]["skipped"] == expected
    walked = len(fx.KEPT_FILES) + len(fx.EXACT_DUPLICATE_FILES) + len(fx.NEAR_DUPLICATE_FILES) \
        + sum(len(paths) for paths in fx.SKIPPED.values())
    assert manifest["counts"]["files_seen"] == walked
    dropped_paths = set().union(*fx.SKIPPED.values())
    assert not dropped_paths & {row["path"] for row in rows}


def test_nothing_outside_the_repository_vendored_or_from_git_is_read(collected):
    _, rows = collected
    text = "\n".join(row["content"] for row in rows)
    assert "outside the repository" not in text and "top secret" not in text
    paths = {row["path"] for row in rows}
    assert not any(p.startswith(("escape", ".git", "node_modules", "vendor/", "third_party", ".venv",
                                 "build/", "dist/", "/")) for p in paths)
    assert "helpers_link.py" not in paths


def test_secrets_are_redacted_and_counted_and_hashes_are_not(collected):
    manifest, rows = collected
    assert manifest["counts"]["redactions"] == fx.REDACTIONS
    app = next(r for r in rows if r["path"] == "src/app.py" and r["kind"] == "file")["content"]
    for secret in (fx.AWS_KEY, fx.GITHUB_TOKEN, fx.PASSWORD, fx.PRIVATE_KEY_BODY, *fx.EMAILS):
        assert all(secret not in row["content"] and secret not in (row["docstring"] or "") for row in rows)
    assert "<REDACTED_AWS_ACCESS_KEY_ID>" in app and "<REDACTED_PRIVATE_KEY>" in app and "<EMAIL>" in app
    assert fx.COMMIT_SHA in app and '"changeme"' in app  # a hash and a low-entropy placeholder stay
    connect = next(r for r in rows if r["name"] == "connect")
    assert connect["start_line"] == fx.APP_PY.splitlines().index("def connect(host, port=443):") + 1
    assert "<EMAIL>" in connect["docstring"]


def test_exact_and_near_duplicates_are_dropped_into_clusters(collected):
    manifest, rows = collected
    assert manifest["counts"]["duplicates"] == {"exact": 3, "near": 2}  # helpers file+2 functions; report file+function
    kept = {(r["path"], r["kind"]): r for r in rows}
    report = kept[("near/report_a.py", "file")]
    assert report["cluster_id"] == report["id"]
    sizes = manifest["clusters"]["cluster_sizes"]
    assert sizes[report["cluster_id"]] == 2
    assert sizes[kept[("src/helpers.py", "file")]["cluster_id"]] == 2
    assert manifest["clusters"]["clusters_with_duplicates"] == 5
    assert all(r["cluster_id"] for r in rows)


def test_all_ten_languages_are_cut_into_named_units(collected, hazard_repo):
    manifest, rows = collected
    _, commit = hazard_repo
    names = {(r["language"], r["kind"], r["name"]) for r in rows if r["kind"] != "file"}
    assert {("javascript", "function", "addNumbers"), ("javascript", "function", "double"),
            ("typescript", "function", "greet"), ("java", "class", "Main"), ("java", "method", "main"),
            ("go", "function", "Serve"), ("rust", "function", "square"), ("c", "function", "sum_array"),
            ("cpp", "class", "Engine"), ("cpp", "method", "render"), ("ruby", "function", "format_title"),
            ("php", "function", "render_page"), ("python", "class", "Client"), ("python", "method", "fetch"),
            ("python", "function", "main")} <= names
    assert set(manifest["counts"]["by_language"]) == {
        "python", "javascript", "typescript", "java", "go", "rust", "c", "cpp", "ruby", "php"}
    go = next(r for r in rows if r["name"] == "Serve")
    assert go["docstring"] == "Serve starts serving." and go["start_line"] == 6
    assert {r["license"] for r in rows} == {"MIT"}
    assert {r["commit"] for r in rows} == {commit}
    assert all(r["commit_date"] and r["commit_date"][:2] == "20" for r in rows)


def test_manifest_is_written_last_and_state_is_gone(collected, hazard_repo, tmp_path):
    root, _ = hazard_repo
    manifest, _ = collect(root, tmp_path, workers=1, granularity="file")
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").iterdir())
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["shards"] == manifest["shards"] and on_disk["sources"][0]["license"] == "MIT"
    assert on_disk["counts"]["by_kind"] == {"file": len(fx.KEPT_FILES)}


def test_licenses_option_keeps_only_listed_licences(hazard_repo, tmp_path):
    root, _ = hazard_repo
    manifest, rows = collect(root, tmp_path, licenses=("apache-2.0",), granularity="file")
    assert rows == [] and manifest["sources"] == []
    assert manifest["skipped_sources"][0]["reason"] == "licence MIT not in --licenses"
    manifest, rows = collect(root, tmp_path / "mit", licenses=("mit",), granularity="file")
    assert len(rows) == len(fx.KEPT_FILES)
