"""The Ray driver holds no rows and no LSH index: on a 50k-unit collect its peak memory is under
half of the local executor's main process (which holds the index and a shard's rows).

Corpus: this machine's whole Python standard library (~66,000 units). Each run is a process
of its own, so its peak RSS (VmHWM) is its own alone.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = str(Path(sysconfig.get_paths()["stdlib"]))

RUN = """
import json, sys
sys.path.insert(0, {root!r})
from application.collect.pipeline import CollectRequest
from presentation.container import Container
result = Container().collect(CollectRequest(sources=({corpus!r},), output={out!r}, workers=2), executor={executor!r})
# VmHWM is this process image's own peak: getrusage's ru_maxrss survives exec, so a child of a
# large pytest process would report the parent's size.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"units": result.units, "peak_mb": hwm / 1024}}))
"""


def collect(executor: str, out: Path) -> dict:
    code = RUN.format(root=str(ROOT), corpus=STDLIB, out=str(out), executor=executor)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows(path: Path) -> list[dict]:
    manifest = json.loads((path / "manifest.json").read_text())
    return [r for s in manifest["shards"] for r in pq.read_table(path / s["path"]).to_pylist()]


@pytest.mark.slow
def test_ray_driver_peak_memory_is_under_half_of_the_local_main_process(tmp_path):
    local, ray = collect("local", tmp_path / "local"), collect("ray", tmp_path / "ray")
    print(f"\n{ray['units']} units: driver peak {ray['peak_mb']:.0f} MB on Ray, "
          f"{local['peak_mb']:.0f} MB local ({ray['peak_mb'] / local['peak_mb']:.2f})")
    assert ray["units"] == local["units"] >= 50_000
    assert ray["peak_mb"] < 0.5 * local["peak_mb"]
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
