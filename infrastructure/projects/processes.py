"""The Processes port on this machine: psutil for identity and liveness, POSIX signals and
sessions for background training."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

# Process start times come from /proc in clock ticks; two readings of one process agree to
# well under this, while a pid reused by another process starts seconds or more apart.
SAME_START = 0.5


class OSProcesses:
    def current(self) -> tuple[int, float]:
        import psutil

        return os.getpid(), psutil.Process().create_time()

    def alive(self, pid: int, started: float) -> bool:
        import psutil

        try:
            process = psutil.Process(pid)
            return abs(process.create_time() - started) < SAME_START and process.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def terminate(self, pid: int) -> None:
        try:
            if os.getpgid(pid) == pid:  # a detached trainer leads its own group: reach its children too
                os.killpg(pid, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def spawn(self, argv: list[str], log_file: Path, env: dict[str, str]) -> tuple[int, float]:
        import psutil

        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, **env}, start_new_session=True)
        return process.pid, psutil.Process(process.pid).create_time()
