"""Ctrl-C / SIGTERM become a request to stop: the loop checks it between micro-batches, drops a
window it has not finished and checkpoints the last completed optimizer step.

A second request stops at once (`StopNow`), but only inside the sections marked `cuttable` (the
micro-batches, logging and evaluation), which the loop knows how to leave: it still checkpoints
the last completed step. Anywhere else (an optimizer update, a checkpoint, summary.json being
written) the second request is only noted: cutting those would lose the very checkpoint.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Cut:
    """Whether a second stop request ended a cuttable section early."""

    happened = False


class StopNow(KeyboardInterrupt):
    """A second stop request, raised where the loop was (inside a cuttable section)."""


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
        self._cuttable = 0
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.reason is None:
            self.reason = signal.Signals(signum).name
            return
        self.insisted = True
        if self._second_stops_now and self._cuttable:
            raise StopNow

    @contextmanager
    def cuttable(self) -> Iterator[Cut]:
        """A section a second request may end at once: `StopNow` is raised inside it and stops
        here, with `Cut.happened` set (outside such sections the request is only noted)."""
        self._cuttable += 1
        cut = Cut()
        try:
            yield cut
        except StopNow:
            cut.happened = True
        finally:
            self._cuttable -= 1

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
