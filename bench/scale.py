"""collect and dataset on 1 and 2 Ray workers against the local executor, and what that
predicts for The Stack v2's Python subset on a 32-node cluster.

Run: nice -n 10 .venv/bin/python bench/scale.py [--files 6e7] [--skip-dataset]

Corpus (offline, real): this machine's Python standard library (~2,400 files, ~66,000 units).
Each configuration runs in its own process: its peak RSS is the driver's (getrusage), and a
sampler in this process records every descendant's peak RSS (Ray's workers, raylet, GCS).
The outputs of all configurations are compared row for row. The machine is shared: read the
ratios, not the absolute times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"])

RUN = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from presentation.container import Container
lines = []
started = time.perf_counter()
if {stage!r} == "collect":
    from application.collect.pipeline import CollectRequest
    request = CollectRequest(sources=({corpus!r},), output={out!r}, workers={workers})
    result = Container().collect(request, executor={executor!r}, log=lines.append)
    units = result.units
else:
    from application.dataset.request import DatasetRequest
    request = DatasetRequest(seq_len=512, vocab_size=4000, num_proc={workers}, kinds=("file", "function"))
    result = Container().build_dataset(request, {corpus!r}, {out!r}, executor={executor!r}, log=lines.append)
    units = sum(result.stats["units"].values())
print(json.dumps({{"seconds": time.perf_counter() - started, "units": units, "log": lines,
                  "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def sample_tree(pid: int, peaks: dict, stop: threading.Event) -> None:
    """Peak RSS (MB) of every descendant of `pid`, by its name (`ray::map_batch`, `raylet`...)."""
    while not stop.is_set():
        try:
            for child in psutil.Process(pid).children(recursive=True):
                try:
                    name = (child.cmdline() or [child.name()])[0].split("/")[-1]
                    peaks[child.pid] = max(peaks.get(child.pid, (0, name))[0], child.memory_info().rss / 2**20), name
                except psutil.Error:
                    continue
        except psutil.Error:
            return
        time.sleep(0.2)


def run(stage: str, executor: str, workers: int, corpus: str, out: str) -> dict:
    code = RUN.format(root=str(ROOT), stage=stage, corpus=corpus, out=out, workers=workers, executor=executor)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env, text=True)
    peaks, stop = {}, threading.Event()
    sampler = threading.Thread(target=sample_tree, args=(process.pid, peaks, stop))
    sampler.start()
    stdout, _ = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{stage} {executor} x{workers} failed (exit {process.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    workers_mb = [mb for mb, name in peaks.values() if name.startswith(("ray::", "python"))]
    result["worker_peak_mb"] = round(max(workers_mb, default=0.0), 1)
    result["ray_services_mb"] = round(sum(mb for mb, name in peaks.values() if not name.startswith(("ray::", "python"))), 1)
    return result


def rows(path: str, stage: str):
    if stage == "collect":
        import pyarrow.parquet as pq

        manifest = json.loads(Path(path, "manifest.json").read_text())
        return [r for s in manifest["shards"] for r in pq.read_table(Path(path, s["path"])).to_pylist()]
    from datasets import load_from_disk

    return {name: split.to_dict() for name, split in load_from_disk(path).items()}


def stage_table(stage: str, corpus: str, tmp: Path, configs) -> tuple[dict, str]:
    results, first = {}, None
    for executor, workers in configs:
        out = str(tmp / f"{stage}-{executor}-{workers}")
        results[(executor, workers)] = result = run(stage, executor, workers, corpus, out)
        result["same_as_first"] = first is None or rows(out, stage) == rows(first, stage)
        first = first or out
        print(f"{stage:8} {executor:5} x{workers}: {result['seconds']:7.1f} s, {result['units']} units, "
              f"driver peak {result['driver_mb']:6.0f} MB, largest worker {result['worker_peak_mb']:6.0f} MB, "
              f"Ray services {result['ray_services_mb']:5.0f} MB, same rows: {result['same_as_first']}", flush=True)
    return results, first


def estimate(collect: dict, files: float, nodes: int, cores: int, corpus_files: int) -> None:
    """The Stack v2 Python subset on `nodes` x `cores`, from the 1-worker Ray run's costs."""
    one = collect[("ray", 1)]
    units_per_file = one["units"] / corpus_files
    seconds_per_file = one["seconds"] / corpus_files  # one CPU, overheads (Ray start, shuffle) included
    volume = dict(part.split(" ") for part in next(line for line in one["log"] if line.startswith("dedup shuffle:"))
                  [len("dedup shuffle: "):].split(", "))
    bytes_per_unit = int(volume["shuffle_bytes"]) / int(volume["group_records"])
    edges_per_unit = int(volume["verified_pairs"]) / int(volume["group_records"])
    units = files * units_per_file
    map_hours = files * seconds_per_file / (nodes * cores) / 3600
    shuffle_gb = units * bytes_per_unit / 1e9
    print(f"\npaper estimate: {files:.2g} Python files (assumed; pass --files), {nodes} nodes x {cores} cores")
    print(f"  measured here: {units_per_file:.1f} units/file, {seconds_per_file * 1000:.1f} CPU-ms/file end to end, "
          f"{bytes_per_unit:.0f} shuffle bytes/unit, {edges_per_unit:.3f} verified pairs/unit")
    print(f"  collect: {units:.2g} units, ~{map_hours:.1f} h wall if CPU-bound and evenly spread")
    print(f"  dedup shuffle: {shuffle_gb:,.0f} GB over the network ({shuffle_gb / nodes:,.1f} GB per node; "
          f"at 10 Gb/s per node ~{shuffle_gb / nodes * 8 / 10 / 60:.1f} min)")
    print(f"  reducer memory: {shuffle_gb / (nodes * cores * 2):.2f} GB each ({nodes * cores * 2} reducers); "
          f"resolve task: {units * edges_per_unit * 24 / 1e9:.1f} GB of verified pairs (24 B each)")
    print(f"  driver: the task list, ~{files * 150 / 1e9:.1f} GB at ~150 B a file; no rows, no index "
          f"(the local run's index alone: ~{units * 1.1e3 / 1e9:,.0f} GB at ~1.1 KB a unit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=float, default=6e7, help="Python files in The Stack v2 subset (assumed)")
    parser.add_argument("--nodes", type=int, default=32)
    parser.add_argument("--cores", type=int, default=32, help="cores per node")
    parser.add_argument("--skip-dataset", action="store_true")
    args = parser.parse_args()
    configs = [("local", 2), ("ray", 1), ("ray", 2)]
    with tempfile.TemporaryDirectory(prefix="codetrain-scale-") as tmp:
        collect, collection = stage_table("collect", str(STDLIB), Path(tmp), configs)
        print(f"collect on Ray: 2 workers vs 1 {collect[('ray', 1)]['seconds'] / collect[('ray', 2)]['seconds']:.2f}x; "
              f"driver peak {collect[('ray', 2)]['driver_mb'] / collect[('local', 2)]['driver_mb']:.2f} of the local "
              f"main process's", flush=True)
        if not args.skip_dataset:
            dataset, _ = stage_table("dataset", collection, Path(tmp), [("local", 1), ("ray", 1), ("ray", 2)])
            print(f"dataset on Ray: 2 workers vs 1 {dataset[('ray', 1)]['seconds'] / dataset[('ray', 2)]['seconds']:.2f}x")
        manifest = json.loads(Path(collection, "manifest.json").read_text())
        files = manifest["counts"]["files_seen"]
    estimate(collect, args.files, args.nodes, args.cores, files)


if __name__ == "__main__":
    main()
