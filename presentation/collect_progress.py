"""The collect progress bar: rich, on stderr, only when stderr is a terminal."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def _wanted() -> bool:
    return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ and not os.environ.get("CI")


@contextmanager
def collect_progress() -> Iterator[tuple[Callable[[int, int], None], Callable[[str], None]]]:
    """Yields (progress(done, total), log(message)); a no-op bar when stderr is not a TTY."""
    if not _wanted():
        yield (lambda done, total: None), (lambda message: print(message, file=sys.stderr, flush=True))
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
