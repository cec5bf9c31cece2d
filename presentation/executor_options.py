"""`--executor` and `--ray-address`, shared by the commands that can run on Ray."""
from __future__ import annotations

import click


def executor_options(command):
    """Add `--executor local|ray` and `--ray-address` to a click command."""
    command = click.option(
        "--ray-address", metavar="HOST:PORT", envvar="CODETRAIN_RAY_ADDRESS",
        help="Join this running Ray cluster (its head, from `ray start --head`) instead of starting one "
             "for the run. Only with --executor ray.")(command)
    return click.option(
        "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
        help="local: processes on this machine. ray: Ray tasks (a local Ray instance for the run, "
             "or the cluster at --ray-address); the output is the same.")(command)


def check_executor(executor: str, ray_address: str | None) -> None:
    if ray_address and executor != "ray":
        raise click.UsageError("--ray-address needs --executor ray")
