"""Running untrusted programs (model completions + tests) in a contained child process.

Each run is a fresh `python -I -S` process (`boot.py`) with a wall-time limit, an
address-space limit (RLIMIT_AS), a process-count limit, a private working folder, no network
and no writes outside that folder. As root (CI, this machine) the isolation is kernel-enforced:
new mount/network/PID namespaces and an unprivileged UID per worker slot. RLIMIT_NPROC is not
enforced for root, hence the UID drop; the PID namespace is what guarantees that every
descendant dies with the run. Without root the sandbox falls back to resource limits with
sockets disabled in the interpreter, and `Sandbox.isolation` / `Sandbox.warning` say so.
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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from domain.errors import EvaluationError

BOOT = Path(__file__).with_name("boot.py")
SETUP_FAILED = 97  # keep in step with boot.SETUP_FAILED
OUTPUT_TAIL = 2000  # characters of stdout/stderr kept per run: enough for a traceback's end
# Sandbox UIDs: unused on any normal system, distinct per host process (so two evaluations at
# once never share a UID) and per worker slot (so one run's fork bomb cannot starve another).
UID_BASE, SLOTS_PER_PROCESS = 1_000_000, 64


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use."""

    wall_seconds: float = 10.0
    """Wall-clock limit; the run is killed (with all its descendants) after it."""
    memory_bytes: int = 512 * 2**20
    """RLIMIT_AS of the program's process (the interpreter itself takes ~30 MB)."""
    max_processes: int = 8
    """RLIMIT_NPROC for the run's UID, counting the program itself."""
    file_bytes: int = 1 * 2**20
    """Largest file the program may write (RLIMIT_FSIZE), stdout/stderr included."""
    tmpfs_bytes: int = 16 * 2**20
    """Size of the private working folder (namespaces mode)."""


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


def _tail(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - OUTPUT_TAIL))
        return handle.read().decode("utf-8", "replace")


class Sandbox:
    """Runs programs in isolated children, several at once.

    Args:
        limits: Per-run limits.
        isolation: `namespaces`, `rlimits`, or None to pick the strongest that works here.
    """

    def __init__(self, limits: Limits = Limits(), isolation: str | None = None):
        self.limits = limits
        self.warning = ""
        self._root = Path(tempfile.mkdtemp(prefix="codetrain-sandbox-"))
        os.chmod(self._root, 0o755)  # the unprivileged run must be able to reach its folder
        self._stdlib_mount = self._root / "stdlib"
        self._stdlib_mount.mkdir(mode=0o755)
        self._is_root = os.geteuid() == 0
        self._uids: queue.Queue[int | None] = queue.Queue()
        first = UID_BASE + (os.getpid() % 10_000) * SLOTS_PER_PROCESS
        for slot in range(SLOTS_PER_PROCESS):
            self._uids.put(first + slot if self._is_root else None)
        # Without namespaces, root can still drop to a sandbox UID if that UID can read the
        # standard library; otherwise the program would run as root (see _detect).
        self._drop_uid_in_rlimits = self._is_root and _readable_by_others(Path(sys.base_prefix))
        self.isolation = isolation or self._detect()
        if self.isolation == "rlimits":
            self.warning += ("sandbox runs with resource limits only: no network namespace (sockets are "
                             "disabled inside Python) and writes are limited by file permissions")
            if self._is_root and not self._drop_uid_in_rlimits:
                self.warning += "; programs run as root, so the process-count limit is not enforced"

    def _detect(self) -> str:
        if not self._is_root:
            return "rlimits"
        probe = self.run("pass\n", isolation="namespaces")
        if probe.exit_code != SETUP_FAILED:
            return "namespaces"
        if not self._drop_uid_in_rlimits:
            self.close()
            raise EvaluationError(
                f"cannot sandbox untrusted code here: namespaces are refused ({probe.stderr.strip()}) and the "
                f"Python standard library under {sys.base_prefix} is closed to other users, so programs would "
                f"run as root; run codetrain as a non-root user, or where root may create namespaces")
        self.warning = f"namespaces unavailable ({probe.stderr.strip()}); "
        return "rlimits"

    def close(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, program: str, isolation: str | None = None) -> RunResult:
        """Run one program to completion or to its wall-time limit."""
        mode = isolation or self.isolation
        slot = self._uids.get()
        uid = slot if mode == "namespaces" or self._drop_uid_in_rlimits else None
        workdir = Path(tempfile.mkdtemp(dir=self._root))
        try:
            if uid is not None and mode == "rlimits":
                os.chown(workdir, uid, uid)  # namespaces mode mounts a tmpfs owned by uid instead
            return self._spawn(program, mode, workdir, uid)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            self._uids.put(slot)

    def _spawn(self, program: str, mode: str, workdir: Path, uid: int | None) -> RunResult:
        limits = {"uid": uid, "stdlib_mount": str(self._stdlib_mount), "memory_bytes": self.limits.memory_bytes,
                  "max_processes": self.limits.max_processes, "file_bytes": self.limits.file_bytes,
                  "tmpfs_bytes": self.limits.tmpfs_bytes,
                  "cpu_seconds": int(self.limits.wall_seconds) + 2}
        command = [sys.executable, "-I", "-S", str(BOOT), mode, str(workdir), json.dumps(limits)]
        out_path, err_path = workdir.with_suffix(".out"), workdir.with_suffix(".err")
        start = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            # A minimal environment: the child sees no tokens or keys from ours.
            child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                     env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                                     start_new_session=True)
            try:
                child.communicate(program.encode(), timeout=self.limits.wall_seconds)
                status = "passed" if child.returncode == 0 else "failed"
            except subprocess.TimeoutExpired:
                _kill_group(child)
                status = "timeout"
        seconds = time.monotonic() - start
        result = RunResult(status, child.returncode if status != "timeout" else None, seconds,
                           _tail(out_path), _tail(err_path))
        out_path.unlink(missing_ok=True)
        err_path.unlink(missing_ok=True)
        return result

    def run_many(self, programs: Iterable[str], workers: int = 4) -> Iterator[tuple[int, RunResult]]:
        """Run programs on `workers` parallel slots; yields (index, result) as runs finish.

        `programs` may be a lazy iterable (e.g. completions still being generated): runs start
        as soon as each program is submitted.
        """
        workers = max(1, min(workers, SLOTS_PER_PROCESS))
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sandbox") as pool:
            futures = {pool.submit(self.run, program): i for i, program in enumerate(programs)}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()


def _kill_group(child: subprocess.Popen) -> None:
    """Kill a run that outlived its wall time, leaving no process and no zombie behind.

    Descendants go first, deepest included (the program is PID 1 of its namespace, or the
    supervisor is their subreaper), so the supervisor reaps them; then its process group.
    """
    import psutil

    try:
        descendants = psutil.Process(child.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    for process in descendants:
        _signal(os.kill, process.pid)
    try:
        child.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass
    _signal(os.killpg, child.pid)
    child.wait()


def _readable_by_others(path: Path) -> bool:
    """Whether a UID with no special rights can reach `path` (every folder on the way is o+x)."""
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def _signal(kill, pid: int) -> None:
    try:
        kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
