"""kill -9 in the middle of `collect --workers 2`, rerun the same command: it resumes, and the
output equals an uninterrupted run's (no sample twice, none missing, same counts)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = [str(STDLIB / name) for name in ("email", "json", "asyncio", "xml", "logging", "unittest")]


def command(out: Path) -> list[str]:
    return [sys.executable, "main.py", "collect", *SOURCES, "--output", str(out),
            "--workers", "2", "--shard-rows", "250"]


def rows_of(out: Path) -> tuple[dict, list[dict]]:
    manifest = json.loads((out / "manifest.json").read_text())
    rows = [r for s in manifest["shards"] for r in pq.read_table(out / s["path"]).to_pylist()]
    return manifest, rows


def kill_after_shards(out: Path, shards: int) -> None:
    """Start collect and SIGKILL it (and its workers) once `shards` shards are committed."""
    process = subprocess.Popen(command(out), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    state = out / "state" / "collect.json"
    while time.time() < deadline and process.poll() is None:
        if state.exists() and len(json.loads(state.read_text() or "{}").get("shards", [])) >= shards:
            break
        time.sleep(0.05)
    assert process.poll() is None, "collect finished before it could be killed: give it more work"
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: the main process and its workers
    process.wait()


@pytest.mark.slow  # three collect runs of ~5 s each
def test_kill_9_then_rerun_gives_the_uninterrupted_output(tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    subprocess.run(command(reference), cwd=ROOT, check=True, capture_output=True)
    kill_after_shards(resumed, shards=3)
    assert not (resumed / "manifest.json").exists()  # killed mid-run: not a complete collection
    done = subprocess.run(command(resumed), cwd=ROOT, capture_output=True, text=True, check=True)
    assert "resuming:" in done.stderr

    want_manifest, want = rows_of(reference)
    got_manifest, got = rows_of(resumed)
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids))  # no sample twice
    assert sorted(ids) == sorted(r["id"] for r in want)  # none missing, none extra
    assert sorted(got, key=lambda r: r["id"]) == sorted(want, key=lambda r: r["id"])
    for key in ("files_seen", "files_kept", "units", "by_kind", "skipped", "duplicates", "redactions"):
        assert got_manifest["counts"][key] == want_manifest["counts"][key], key
    assert got_manifest["clusters"] == want_manifest["clusters"]
    for name, counted in (("skipped.parquet", "skipped"), ("duplicates.parquet", "duplicates")):
        lineage = pq.read_table(resumed / name).to_pylist()
        assert lineage == pq.read_table(reference / name).to_pylist(), name  # same rows, same order
        assert len(lineage) == sum(got_manifest["counts"][counted].values()), name
    assert not list((resumed / "state").glob("*"))
