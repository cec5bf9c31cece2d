"""Running untrusted programs (model completions + tests) in a contained child process.

Each run is a fresh `python -I -S` process (`boot.py`) with a wall-time limit, resource limits,
and, wherever the kernel allows it, kernel isolation: new mount, network and PID namespaces,
a file system holding only the Python installation (read-only) and the run's own folder, and
an unprivileged identity. As root that is a sandbox UID per worker slot (`namespaces`);
without root it is an unprivileged user namespace (`userns`). Where neither works, untrusted
code is refused unless the caller passes `allow_unsafe=True` (`--unsafe-no-sandbox`): then
runs get resource limits only (`rlimits`) and `Sandbox.warning` says so.

Every sandboxed process dies with the evaluate process, however it ends: the supervisor has a
parent-death signal, the program is PID 1 of its namespace with its own parent-death signal
(set again after the UID change), and a PID namespace dies with its PID 1. Nothing is left on
disk either: the run's folder is a tmpfs inside its mount namespace, its output anonymous files.

Memory is bounded per run, all of the run's processes together (`Limits.run_memory_bytes`):
with a cgroup memory controller we may write to (root; v2 `memory.max` or v1
`memory.limit_in_bytes`) every run slot gets its own cgroup; otherwise each process's
RLIMIT_AS is cut to `run_memory_bytes / max_processes`, so that limit times the process-count
limit (RLIMIT_NPROC) is the bound. `Sandbox.memory_bound` says which one holds.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

from domain.errors import EvaluationError
from infrastructure.sandbox.cgroups import RunCgroups

BOOT = Path(__file__).with_name("boot.py")
SETUP_FAILED = 97  # keep in step with boot.SETUP_FAILED
OUTPUT_TAIL = 2000  # characters of stdout/stderr kept per run: enough for a traceback's end
# Sandbox UIDs: unused on any normal system, distinct per host process (so two evaluations at
# once never share a UID) and per worker slot (so one run's fork bomb cannot starve another).
UID_BASE, SLOTS_PER_PROCESS = 1_000_000, 64
# What the program may read, bind-mounted read-only: the interpreter's installation, the shared
# libraries its extension modules load, and the loader's cache.
SYSTEM_LIBRARIES = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/etc/ld.so.cache")
UNSAFE_HINT = "pass --unsafe-no-sandbox to run it anyway with resource limits only"


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use."""

    wall_seconds: float = 10.0
    """Wall-clock limit; the run is killed (with all its descendants) after it."""
    memory_bytes: int = 512 * 2**20
    """RLIMIT_AS of each of the run's processes (the interpreter itself takes ~30 MB)."""
    run_memory_bytes: int = 1 * 2**30
    """Memory of the whole run, all its processes together (cgroup, or RLIMIT_AS x max_processes)."""
    max_processes: int = 8
    """RLIMIT_NPROC for the run's UID, counting the program itself."""
    file_bytes: int = 1 * 2**20
    """Largest file the program may write (RLIMIT_FSIZE), stdout/stderr included."""
    tmpfs_bytes: int = 16 * 2**20
    """Size of the private working folder (isolated modes)."""


@dataclass(frozen=True)
class RunResult:
    """The outcome of one program. `status` is `passed`, `failed` or `timeout`."""

    status: str
    exit_code: int | None
    seconds: float
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def reason(self) -> str:
        """One line for the results file: the exception that ended the run, or the limit hit."""
        if self.status == "timeout":
            return "wall-time limit"
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1][:200] if lines else ("" if self.passed else f"exit code {self.exit_code}")


def _tail(handle: IO[bytes]) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - OUTPUT_TAIL))
    return handle.read().decode("utf-8", "replace")


class Sandbox:
    """Runs programs in isolated children, several at once.

    Args:
        limits: Per-run limits.
        isolation: `namespaces` (root), `userns`, `rlimits`, or None for the strongest that works.
        allow_unsafe: Accept running untrusted code with resource limits only when no isolation
            works here (otherwise that is refused with an EvaluationError).
    """

    def __init__(self, limits: Limits = Limits(), isolation: str | None = None, allow_unsafe: bool = False):
        self.limits = limits
        self.warning = ""
        self._is_root = os.geteuid() == 0
        self._uids: queue.Queue[int] = queue.Queue()
        first = UID_BASE + (os.getpid() % 10_000) * SLOTS_PER_PROCESS
        for slot in range(SLOTS_PER_PROCESS):
            self._uids.put(first + slot)
        self._cgroups = RunCgroups.create(limits.run_memory_bytes) if self._is_root else None
        self._live: set[subprocess.Popen] = set()  # runs in progress, ended at once on Ctrl-C
        self._live_lock = threading.Lock()
        self._stopping = threading.Event()
        self.isolation = isolation or self._detect(allow_unsafe)
        if self.isolation == "rlimits":
            self.warning += ("UNSAFE: untrusted code runs with resource limits only: it can read and write "
                             "whatever this user can (sockets are disabled inside Python only)")
            if self._is_root and not _others_can_run_python():
                self.warning += "; programs run as root, so the process-count limit is not enforced"

    @property
    def memory_bound(self) -> str:
        """How the run's total memory is bounded, in words (for the summary and the README)."""
        if self._cgroups is not None:
            return f"{self._cgroups.describe()} per run"
        per_process = self._memory_per_process()
        return (f"RLIMIT_AS {per_process // 2**20} MiB x {self.limits.max_processes} processes = "
                f"{per_process * self.limits.max_processes // 2**20} MiB per run")

    def _memory_per_process(self) -> int:
        if self._cgroups is not None:
            return self.limits.memory_bytes
        return min(self.limits.memory_bytes, self.limits.run_memory_bytes // self.limits.max_processes)

    def _detect(self, allow_unsafe: bool) -> str:
        reasons = []
        for mode in ("namespaces", "userns") if self._is_root else ("userns",):
            probe = self.run("pass\n", isolation=mode)
            if probe.passed:
                return mode
            reasons.append(f"{mode}: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else probe.reason}")
        if not allow_unsafe:
            self.close()
            raise EvaluationError(f"cannot isolate untrusted code here ({'; '.join(reasons)}); {UNSAFE_HINT}")
        self.warning = f"no isolation available ({'; '.join(reasons)}); "
        return "rlimits"

    def close(self) -> None:
        if self._cgroups is not None:
            self._cgroups.remove()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, program: str, isolation: str | None = None) -> RunResult:
        """Run one program to completion or to its wall-time limit."""
        mode = isolation or self.isolation
        slot = self._uids.get()
        workdir = None
        try:
            uid = slot if self._is_root and mode != "userns" else None
            if mode == "rlimits":  # no namespace, so no tmpfs of its own: a private folder
                workdir = Path(tempfile.mkdtemp(prefix="codetrain-run-"))
                uid = uid if uid is not None and _hand_over(workdir, uid) else None
            cgroup = self._cgroups.procs_file(slot - UID_BASE) if self._cgroups is not None else None
            return self._spawn(program, mode, uid, workdir, cgroup)
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            self._uids.put(slot)

    def _spawn(self, program: str, mode: str, uid: int | None, workdir: Path | None,
               cgroup: str | None) -> RunResult:
        exposed = sorted({sys.base_prefix, os.path.realpath(sys.base_prefix), *SYSTEM_LIBRARIES})
        limits = {"uid": uid, "parent": os.getpid(), "read_only": exposed,
                  "root": _assembly_point(exposed), "workdir": str(workdir) if workdir else None,
                  "memory_bytes": self._memory_per_process(), "max_processes": self.limits.max_processes,
                  "file_bytes": self.limits.file_bytes, "tmpfs_bytes": self.limits.tmpfs_bytes,
                  "cpu_seconds": int(self.limits.wall_seconds) + 2}
        command = [sys.executable, "-I", "-S", str(BOOT), mode, json.dumps(limits)]
        if cgroup:  # join the cgroup before exec: every page of the run is charged to it
            command = ["/bin/sh", "-c", 'echo $$ > "$1" || exit 97; shift; exec "$@"', "sh", cgroup, *command]
        start = time.monotonic()
        # Anonymous files (0600, unlinked): no other run or user can read them, nothing is left.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            # A minimal environment: the child sees no tokens or keys from ours.
            child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                     env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                                     start_new_session=True)
            with self._live_lock:
                self._live.add(child)
                if self._stopping.is_set():  # started just as run_many was interrupted
                    _signal_group(child)
            try:
                child.communicate(program.encode(), timeout=self.limits.wall_seconds)
                status = "passed" if child.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                _kill_group(child)
                status = "timeout"
            except BaseException:  # Ctrl-C: the run dies with us, not after its wall time
                _kill_group(child)
                raise
            finally:
                with self._live_lock:
                    self._live.discard(child)
            seconds = time.monotonic() - start
            return RunResult(status, child.returncode if status != "timeout" else None, seconds,
                             _tail(out), _tail(err))

    def run_many(self, programs: Iterable[str], workers: int = 4) -> Iterator[tuple[int, RunResult]]:
        """Run programs on `workers` parallel slots; yields (index, result) as runs finish.

        `programs` may be a lazy iterable (e.g. completions still being generated): runs start
        as soon as each program is submitted.
        """
        workers = max(1, min(workers, SLOTS_PER_PROCESS))
        self._stopping.clear()
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sandbox")
        try:
            futures = {pool.submit(self.run, program): i for i, program in enumerate(programs)}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        except BaseException:  # Ctrl-C here or in the caller (GeneratorExit): no run may go on
            self._stop_all(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # prompt: every running program is dead

    def _stop_all(self, pool: concurrent.futures.ThreadPoolExecutor) -> None:
        """Cancel the runs not started and kill the running ones (their workers then return at
        once, instead of after each program's wall-time limit)."""
        self._stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        with self._live_lock:
            for child in list(self._live):
                _signal_group(child)


def _kill_group(child: subprocess.Popen) -> None:
    """Kill a run that outlived its wall time, leaving no process and no zombie behind.

    Descendants go first, deepest included (the program is PID 1 of its namespace, whose death
    takes the namespace down, or the supervisor is their subreaper), so the supervisor reaps
    them; then its process group.
    """
    _kill_descendants(child)
    try:
        child.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass
    _signal(os.killpg, child.pid)
    child.wait()


def _signal_group(child: subprocess.Popen) -> None:
    """SIGKILL a run's descendants and process group without waiting (another thread, the
    run's own worker, reaps it)."""
    _kill_descendants(child)
    _signal(os.killpg, child.pid)


def _kill_descendants(child: subprocess.Popen) -> None:
    for pid in reversed(_descendants(child.pid)):
        _signal(os.kill, pid)


def _descendants(pid: int) -> list[int]:
    """Every process under `pid`, parents before children (from /proc: no psutil needed)."""
    found, queue_ = [], [pid]
    while queue_:
        parent = queue_.pop(0)
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as handle:
                children = [int(child) for child in handle.read().split()]
        except OSError:
            children = []
        found += children
        queue_ += children
    return found


def _others_can_run_python() -> bool:
    """Whether a UID with no rights can reach the standard library (every folder is o+x)."""
    prefix = Path(sys.base_prefix).resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [prefix, *prefix.parents])


def _hand_over(workdir: Path, uid: int) -> bool:
    """Give `workdir` to the sandbox UID, if that UID can run Python at all here."""
    if not _others_can_run_python():
        return False  # the standard library is closed to other users: the program stays our UID
    try:
        os.chown(workdir, uid, uid)
    except OSError:  # e.g. a user namespace that maps no such UID
        return False
    return True


def _assembly_point(exposed: list[str]) -> str:
    """A folder to mount the new root's tmpfs on (in the run's own mount namespace only) that
    holds none of what must stay visible."""
    for folder in ("/tmp", "/mnt", "/var/tmp", "/opt", "/srv"):
        if os.path.isdir(folder) and not any(p == folder or p.startswith(folder + "/") for p in exposed):
            return folder
    raise EvaluationError("cannot sandbox: no folder among /tmp, /mnt, /var/tmp, /opt, /srv to build its root on")


def _signal(kill, pid: int) -> None:
    try:
        kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
