"""Ctrl-C / SIGTERM become a request to stop: the loop checks it between micro-batches, drops a
window it has not finished and checkpoints the last completed optimizer step.

A second request stops at once (`StopNow`, still checkpointing the last completed step), except
while a checkpoint or an optimizer update is being written (`shielded`): cutting those would lose
the checkpoint or leave the weights half-updated, so the second request waits for them to end.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class StopNow(KeyboardInterrupt):
    """A second stop request, raised where the loop was (outside shielded sections)."""


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into `reason` while it is active.

    Args:
        second_stops_now: Raise `StopNow` on a second request. Off with several processes: one
            rank leaving its collectives alone would leave the others waiting.
    """

    def __init__(self, second_stops_now: bool = True):
        self.reason: str | None = None
        self.insisted = False  # a second request came
        self._second_stops_now = second_stops_now
        self._shielded = 0
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.reason is None:
            self.reason = signal.Signals(signum).name
            return
        self.insisted = True
        if self._second_stops_now and not self._shielded:
            raise StopNow

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """A section a second request must not cut (it is noted in `insisted` and waits)."""
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
