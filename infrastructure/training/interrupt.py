"""Ctrl-C / SIGTERM become a request to stop after the current step (checkpoint, clean exit).

A second Ctrl-C while the checkpoint is being written stops at once.
"""
from __future__ import annotations

import signal
import threading


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into `reason` while it is active."""

    def __init__(self):
        self.reason: str | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.reason is not None:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
