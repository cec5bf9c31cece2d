"""Starting or joining Ray for one command.

Without an address a local Ray instance is started for the run (no dashboard, no usage
stats: nothing leaves the machine) and shut down after it. With `--ray-address` the command
joins a running cluster as a driver and ships this project's code to its workers as the job's
working directory, so worker nodes need only the same Python packages (requirements.txt).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from domain.errors import ExecutorError

PROJECT = Path(__file__).resolve().parents[2]
# Not code: never uploaded to a cluster as the job's working directory.
_NOT_SHIPPED = [".venv", ".git", "runs", "tests", "bench", "docs", ".scratch", "*.parquet", "*.safetensors"]


@dataclass(frozen=True)
class RaySettings:
    """How to reach Ray."""

    address: str | None = None
    """`host:port` of a running cluster's head (`ray start --head`); None starts one for the run."""
    num_cpus: int | None = None
    """CPUs of a Ray instance started for the run (None: all of this machine's)."""
    object_store_mb: int = 256
    """Object store of a Ray instance started for the run: only keys and counts travel
    through it (rows go through the output storage), so a small one suffices."""


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[object]:
    """The `ray` module, connected; a Ray already initialised in this process is reused as is."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home, on any machine
    import ray

    if ray.is_initialized():
        yield ray
        return
    try:
        if settings.address:
            ray.init(address=settings.address, log_to_driver=False, include_dashboard=False,
                     runtime_env={"working_dir": str(PROJECT), "excludes": _NOT_SHIPPED})
        else:
            ray.init(num_cpus=settings.num_cpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=settings.object_store_mb * 1024 * 1024)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = settings.address or "a local instance"
        raise ExecutorError(f"--ray-address {where}: cannot start or join Ray ({str(error).splitlines()[0]})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
