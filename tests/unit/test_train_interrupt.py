"""Ctrl-C / SIGTERM become a stop request; a second one stops at once; handlers are restored."""
from __future__ import annotations

import os
import signal

import pytest

from infrastructure.training.interrupt import StopRequest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_becomes_a_stop_request_and_a_second_one_interrupts(sig):
    before = signal.getsignal(sig)
    with StopRequest() as stop:
        assert stop.reason is None
        os.kill(os.getpid(), sig)
        assert stop.reason == signal.Signals(sig).name
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)
    assert signal.getsignal(sig) is before
