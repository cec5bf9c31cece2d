"""Ctrl-C / SIGTERM become a stop request; a second one ends a cuttable section at once and is
only noted elsewhere; handlers are restored."""
from __future__ import annotations

import os
import signal

import pytest

from infrastructure.training.interrupt import StopRequest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_becomes_a_stop_request_and_a_second_one_cuts_a_cuttable_section(sig):
    before = signal.getsignal(sig)
    with StopRequest() as stop:
        assert stop.reason is None
        os.kill(os.getpid(), sig)
        assert stop.reason == signal.Signals(sig).name
        with stop.cuttable() as cut:  # micro-batches, logging, evaluation
            os.kill(os.getpid(), sig)
            for _ in range(1000):  # the handler runs at the next bytecode
                pass
            raise AssertionError("a second request inside a cuttable section must end it")
        assert cut.happened and stop.insisted
    assert signal.getsignal(sig) is before


def test_a_second_request_outside_a_cuttable_section_is_only_noted():
    with StopRequest() as stop:  # e.g. while a checkpoint or a weight update is being written
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.reason == "SIGTERM" and stop.insisted


def test_with_several_processes_a_second_request_never_raises():
    with StopRequest(second_stops_now=False) as stop:  # one rank alone must not leave its collectives
        os.kill(os.getpid(), signal.SIGTERM)
        with stop.cuttable() as cut:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
        assert stop.insisted and not cut.happened
