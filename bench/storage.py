"""A 200 MB object up and down through S3Storage against moto's S3 server on 127.0.0.1.

Measures the peak RSS growth of this (client) process during each transfer, sampled every 5 ms
in a thread, and the throughput. The server runs as a separate process: moto keeps objects in
its own memory, which must not count against the client.

Side by side, interleaved, medians over --repeat runs: the streamed S3Storage transfers versus a
naive whole-object-in-memory put/get, to show what streaming saves.

    .venv/bin/python bench/storage.py [--size-mb 200] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.s3_server import MotoServer, new_bucket, s3_environment  # noqa: E402

MB = 1024 * 1024


class PeakRss:
    """Peak resident memory of this process while the block runs, minus what it was before."""

    def __enter__(self):
        self._process = psutil.Process()
        self.baseline = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        self.growth_mb = (self.peak - self.baseline) / MB


def measure(fn, size_mb: int) -> tuple[float, float]:
    """(peak RSS growth in MB, throughput in MB/s) of one call."""
    started = time.perf_counter()
    with PeakRss() as rss:
        fn()
    return rss.growth_mb, size_mb / (time.perf_counter() - started)


def child(variant: str, bucket: str, source: Path, size_mb: int) -> None:
    """One measured transfer in a fresh process: the allocator has not yet grown from an earlier
    transfer, so the RSS growth is what this transfer really needs."""
    from infrastructure.storage.s3 import S3Storage

    storage = S3Storage(f"s3://{bucket}/bench")
    client = storage._client  # the naive baseline uses the very same client
    storage.write_bytes("warmup.json", b"{}")  # imports done, connection pool up
    target = source.with_name("target.bin")
    transfers = {
        "streamed upload": lambda: storage.upload_file(source, "big.bin"),
        "streamed download": lambda: storage.download_file("big.bin", target),
        "naive upload": lambda: client.put_object(Bucket=bucket, Key="bench/naive.bin", Body=source.read_bytes()),
        "naive download": lambda: target.write_bytes(
            client.get_object(Bucket=bucket, Key="bench/naive.bin")["Body"].read()),
    }
    growth, speed = measure(transfers[variant], size_mb)
    if variant.endswith("download"):
        assert target.stat().st_size == source.stat().st_size
        target.unlink()
    print(f"{growth:.3f} {speed:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "BUCKET", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], Path(args.child[2]), args.size_mb)

    server = MotoServer().start()
    env = {**os.environ, **s3_environment(server.endpoint)}
    variants = ["streamed upload", "streamed download", "naive upload", "naive download"]
    results = {name: [] for name in variants}
    try:
        bucket = new_bucket(server.endpoint)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "source.bin"
            with source.open("wb") as handle:  # written in chunks: the bench itself stays small
                for _ in range(args.size_mb):
                    handle.write(os.urandom(MB))
            for _ in range(args.repeat):  # interleaved: load on the machine hits every variant
                for name in variants:
                    out = subprocess.run(
                        [sys.executable, __file__, "--size-mb", str(args.size_mb), "--child", name, bucket,
                         str(source)], env=env, check=True, capture_output=True, text=True).stdout
                    growth, speed = map(float, out.split()[-2:])
                    results[name].append((growth, speed))
    finally:
        server.kill()
    print(f"{args.size_mb} MB object, moto_server on 127.0.0.1 (separate process), "
          f"median of {args.repeat} interleaved runs, client process only")
    print(f"{'transfer':<20}{'peak RSS growth MB':>20}{'throughput MB/s':>18}")
    medians = {}
    for name, values in results.items():
        growth = statistics.median(v[0] for v in values)
        speed = statistics.median(v[1] for v in values)
        medians[name] = growth
        print(f"{name:<20}{growth:>20.1f}{speed:>18.1f}")
    for direction in ("upload", "download"):
        ratio = medians[f"naive {direction}"] / max(medians[f"streamed {direction}"], 0.1)
        ok = "OK" if medians[f"streamed {direction}"] < 100 else "OVER TARGET"
        print(f"{direction}: streamed RSS growth {medians[f'streamed {direction}']:.1f} MB "
              f"(target < 100 MB: {ok}); naive / streamed = {ratio:.1f}x")


if __name__ == "__main__":
    main()
