"""Progress on stderr for collect and dataset: a rich bar on a terminal, otherwise one line every
few seconds (a CI log, `nohup`, `| tee`), so a long run is never silent for tens of seconds.

The interval is the group option `--progress-every SECONDS` (env CODETRAIN_PROGRESS_EVERY,
default 10; 0 turns the lines off).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import click

DEFAULT_EVERY = 10.0
EVERY_KEY = "codetrain.progress_every"  # where the group option leaves it, in click's ctx.meta


def _wanted() -> bool:
    return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ and not os.environ.get("CI")


def _every() -> float:
    context = click.get_current_context(silent=True)
    return context.meta.get(EVERY_KEY, DEFAULT_EVERY) if context is not None else DEFAULT_EVERY


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value // 60:.0f} min {value % 60:02.0f} s"


class ProgressLines:
    """Prints `label: stage done/total unit (pct), rate unit/s, elapsed` every `every` seconds
    from a background thread, with whatever the work last reported through `update`."""

    def __init__(self, label: str, every: float, write: Callable[[str], None], first_stage: str = "starting",
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.every, self.write, self.clock = label, every, write, clock
        self.started = self.stage_started = self.updated = clock()
        self.stage, self.done, self.total, self.unit, self.stage_done = first_stage, 0, 0, "", 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{label}-progress", daemon=True)

    def update(self, stage: str, done: int = 0, total: int = 0, unit: str = "") -> None:
        """The work's state: a new `stage` restarts the rate; `total` 0 means no count is known."""
        self.updated = self.clock()
        if stage != self.stage:
            self.stage, self.stage_started, self.stage_done = stage, self.updated, done
        self.done, self.total, self.unit = done, total, unit

    def line(self) -> str:
        now = self.clock()
        parts = [f"{self.label}: {self.stage}"]
        if self.total:
            parts[0] += f" {self.done:,}/{self.total:,} {self.unit} ({self.done / self.total:.0%})"
            spent = self.updated - self.stage_started  # up to the last report: no decay while waiting
            if spent > 0 and self.done > self.stage_done:
                parts.append(f"{(self.done - self.stage_done) / spent:,.1f} {self.unit}/s")
        parts.append(f"{_seconds(now - self.started)} elapsed")
        return ", ".join(parts)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.write(self.line())

    def __enter__(self) -> "ProgressLines":
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


@contextmanager
def collect_progress() -> Iterator[tuple[Callable[[int, int], None], Callable[[str], None]]]:
    """Yields (progress(done, total), log(message)): a bar on a terminal, else periodic lines."""
    if not _wanted():
        with ProgressLines("collect", _every(), _echo_err, "fetching and listing sources") as lines:
            yield (lambda done, total: lines.update("parsing", done, total, "files")), _echo_err
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn("collect"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} files/s"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("collect", total=None, rate="-")

        def progress(done: int, total: int) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:,.0f}" if elapsed > 0.5 else "-"
            bar.update(task, completed=done, total=total, rate=rate)

        yield progress, console.print


@contextmanager
def dataset_progress() -> Iterator[Callable[[str, int, int, str], None]]:
    """Yields stage(name, done, total, unit) for the dataset verb, shown as periodic lines."""
    with ProgressLines("dataset", _every(), _echo_err) as lines:
        yield lines.update
