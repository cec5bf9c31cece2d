"""collect and dataset on a real Ray instance give the local executor's units and rows.

Corpus: four packages of this machine's Python standard library (real code, read in place).
A Ray instance is started in this process for the module (the executor joins it as is); the
`--ray-address` and driver-kill tests start their own, in other processes.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from domain.layout import DUPLICATES, SKIPPED
from presentation.cli import cli
from tests.s3_server import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
PACKAGES = [str(STDLIB / name) for name in ("email", "json", "http", "urllib")]
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
# A cluster of this machine only: Ray keeps to the loopback address (it would otherwise
# advertise the machine's outward IP), with its own token (never the shared ~/.ray one).
CLUSTER_ENV = {**ENV, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
               "RAY_AUTH_TOKEN": secrets.token_hex(16)}

pytestmark = pytest.mark.slow  # each test starts Ray (about 5 s) and collects ~1,300 units twice


@pytest.fixture(scope="module")
def ray_instance():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 1024**2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_collection(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "collection"
    result = CliRunner().invoke(cli, ["collect", *PACKAGES, "--output", str(out), "--workers", "2", "--shard-rows", "400"])
    assert result.exit_code == 0, result.output
    return out


def collection(path: Path) -> tuple[dict, list[dict]]:
    manifest = json.loads((path / "manifest.json").read_text())
    return manifest, [row for s in manifest["shards"] for row in pq.read_table(path / s["path"]).to_pylist()]


def assert_same_collection(ray_out: Path, local_out: Path) -> None:
    (mine, rows), (theirs, expected) = collection(ray_out), collection(local_out)
    assert rows == expected  # same ids, survivors, cluster ids and contents, in the same order
    assert mine["counts"] == theirs["counts"] and mine["clusters"] == theirs["clusters"]
    assert mine["shards"] == theirs["shards"] and mine["lineage"] == theirs["lineage"]
    for name in (SKIPPED, DUPLICATES):  # the same lineage: every skipped file, every drop and its survivor
        assert pq.read_table(ray_out / name).to_pylist() == pq.read_table(local_out / name).to_pylist()
    assert [(ray_out / s["path"]).read_bytes() == (local_out / s["path"]).read_bytes() for s in mine["shards"]] \
        == [True] * len(mine["shards"])
    assert not [p for p in (ray_out / "state").rglob("*") if p.is_file()]  # staged work is cleared


def test_collect_and_dataset_on_ray_equal_the_local_run(ray_instance, local_collection, tmp_path):
    out = tmp_path / "ray-collection"
    result = CliRunner().invoke(cli, ["collect", *PACKAGES, "--output", str(out), "--executor", "ray",
                                      "--shard-rows", "400"])
    assert result.exit_code == 0, result.output
    assert_same_collection(out, local_collection)
    manifest, rows = collection(out)
    assert manifest["counts"]["duplicates"]["near"] > 0 and manifest["counts"]["duplicates"]["exact"] > 0
    assert len(manifest["shards"]) > 1 and manifest["options"]["executor"] == "ray"
    print(f"\ncollect: {len(rows)} units, {manifest['counts']['duplicates']} dropped, both executors")

    from datasets import load_from_disk

    datasets = {}
    for executor in ("local", "ray"):
        target = tmp_path / f"dataset-{executor}"
        args = ["dataset", "--input", str(out), "--output", str(target), "--seq-len", "128", "--vocab-size", "600",
                "--kinds", "file,function", "--num-proc", "2", "--executor", executor]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        datasets[executor] = load_from_disk(str(target))
    for split in ("train", "validation", "test"):
        assert datasets["ray"][split].to_dict() == datasets["local"][split].to_dict()
    print(f"dataset rows: { {s: len(d) for s, d in datasets['ray'].items()} }, both executors")


def test_a_killed_ray_worker_is_retried_and_the_output_is_unchanged(ray_instance, local_collection, tmp_path):
    out, killed = tmp_path / "ray-collection", []
    runner = threading.Thread(target=lambda: CliRunner().invoke(
        cli, ["collect", *PACKAGES, "--output", str(out), "--executor", "ray", "--shard-rows", "400",
              "--batch-files", "2"]))  # many small tasks: one is surely running when the kill comes
    runner.start()
    deadline = time.time() + 60
    while not killed and runner.is_alive() and time.time() < deadline:
        for process in psutil.Process().children(recursive=True):  # only this test's Ray workers
            try:
                if process.cmdline()[:1] == ["ray::map_batch"]:
                    process.send_signal(signal.SIGKILL)
                    killed.append(process.pid)
                    break
            except psutil.Error:
                continue
        time.sleep(0.05)
    runner.join(timeout=300)
    assert killed, "no Ray worker was seen running a map task"
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    assert_same_collection(out, local_collection)


def test_ray_address_joins_a_running_cluster(local_collection, tmp_path):
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rayh", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--port", str(port),
         "--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--include-dashboard", "false",
         "--disable-usage-stats", "--object-store-memory", str(128 * 1024**2), "--temp-dir", temp],
        env=CLUSTER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        out = tmp_path / "ray-collection"
        args = [sys.executable, "main.py", "collect", *PACKAGES, "--output", str(out), "--executor", "ray",
                "--ray-address", f"127.0.0.1:{port}", "--shard-rows", "400"]
        wait_for_port(port, 60)  # the head takes a few seconds to listen
        done = subprocess.run(args, cwd=ROOT, env=CLUSTER_ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert_same_collection(out, local_collection)
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_rerun_after_the_driver_is_killed_skips_staged_batches(local_collection, tmp_path):
    out = tmp_path / "ray-collection"
    args = [sys.executable, "main.py", "collect", *PACKAGES, "--output", str(out), "--executor", "ray",
            "--workers", "1", "--shard-rows", "400", "--batch-files", "4"]
    driver = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged = out / "state" / "staged"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(staged.glob("batch-*.json"))) < 1:
        time.sleep(0.1)
    family = psutil.Process(driver.pid).children(recursive=True)
    driver.send_signal(signal.SIGKILL)  # the driver dies mid-map: no shard, no manifest
    driver.wait()
    for process in family:  # and its Ray instance with it (what a lost machine would do)
        try:
            process.kill()
        except psutil.Error:
            pass
    assert staged.exists() and not (out / "manifest.json").exists()
    finished = len(list(staged.glob("batch-*.json")))
    assert 0 < finished < 12  # 46 files in batches of 4: killed mid-map
    done = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming: {finished} of" in done.stderr
    assert_same_collection(out, local_collection)
