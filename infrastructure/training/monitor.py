"""What the operator sees: hardware figures (psutil, CUDA memory) and a rich progress bar."""
from __future__ import annotations

import sys
from typing import Callable


class HardwareMonitor:
    """CPU %, resident memory and CUDA memory of this process, sampled when asked."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.process.cpu_percent()  # the first call only starts the measurement window

    def sample(self) -> dict:
        import torch

        row = {"cpu_percent": self.process.cpu_percent(),
               "rss_mb": round(self.process.memory_info().rss / 2**20, 1)}
        if torch.cuda.is_available():
            row["gpu_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return row


class ProgressDisplay:
    """A rich progress bar (step, loss, tokens/s, ETA) on a terminal; plain log lines otherwise."""

    def __init__(self, total: int, start: int, enabled: bool, log: Callable[[str], None]):
        self.log, self.bar = log, None
        if enabled and sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn())
            self.task = self.bar.add_task("train", total=total, completed=start, status="")
            self.bar.start()

    def update(self, step: int, row: dict, total: int, logged: bool) -> None:
        status = f"loss {row['loss']:.4f} {row.get('tokens_per_s', 0):,.0f} tok/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=step, status=status)
        elif logged:
            self.log(f"step {step}/{total} {status} lr {row['lr']:.2e}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
