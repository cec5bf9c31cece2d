"""Did the launcher start as many processes as it was asked for? Pure: reads a command line.

`accelerate launch --cpu --num_processes 2 main.py train` starts ONE process: with `--cpu` (or
without `--multi_gpu` on a machine with fewer than two GPUs) accelerate takes its single-process
launcher and drops the count without a word. The training process sees its launcher's command
line (its parent), so it can tell the user, and print the command that gives the processes.
"""
from __future__ import annotations

import shlex
from typing import Sequence

COUNT_FLAGS = ("--num_processes", "--num-processes")
MULTI_FLAGS = ("--multi_gpu", "--multi-gpu")


def _launch_args(launcher_argv: Sequence[str]) -> list[str] | None:
    """The arguments after `launch` of an `accelerate launch` command line, else None."""
    argv = list(launcher_argv)
    if "launch" not in argv or not any("accelerate" in part for part in argv[: argv.index("launch")]):
        return None
    return argv[argv.index("launch") + 1:]


def _own_options(args: list[str]) -> list[str]:
    """The launcher's options: what comes before the training script (its arguments are not ours)."""
    for i, part in enumerate(args):
        if part.endswith(".py") or part in ("-m", "--module"):
            return args[:i]
    return args


def asked_processes(launcher_argv: Sequence[str]) -> int | None:
    """The process count `accelerate launch` was given (`--num_processes N` or `=N`), else None."""
    args = _launch_args(launcher_argv)
    if args is None:
        return None
    options = _own_options(args)
    for i, part in enumerate(options):
        name, _, value = part.partition("=")
        if name in COUNT_FLAGS:
            value = value or (options[i + 1] if i + 1 < len(options) else "")
            return int(value) if value.isdigit() else None
    return None


def working_launch(launcher_argv: Sequence[str], cpu: bool) -> str:
    """The same launch as accelerate's multi-process one (on CPU: gloo DDP, `ACCELERATE_USE_CPU=1`)."""
    args = _launch_args(launcher_argv) or []
    options = _own_options(args)
    kept = [a for a in options if a not in ("--cpu", *MULTI_FLAGS)]
    command = shlex.join(["accelerate", "launch", "--multi_gpu", *kept, *args[len(options):]])
    return f"ACCELERATE_USE_CPU=1 {command}" if cpu else command


def fewer_processes_warning(launcher_argv: Sequence[str], started: int, cpu: bool) -> str | None:
    """One line when the launch asked for more processes than `started`, naming the command that works."""
    asked = asked_processes(launcher_argv)
    if asked is None or asked <= started:
        return None
    why = "`accelerate launch --cpu` starts one process" if "--cpu" in _own_options(_launch_args(launcher_argv)) \
        else "without --multi_gpu accelerate starts one process"
    return (f"warning: {asked} processes asked but {started} started ({why}); "
            f"for {asked}: {working_launch(launcher_argv, cpu)}")
