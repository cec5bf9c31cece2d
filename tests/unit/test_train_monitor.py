"""Hardware figures and the progress display."""
from __future__ import annotations

import io
import sys

from infrastructure.training.monitor import HardwareMonitor, ProgressDisplay

ROW = {"loss": 1.25, "lr": 1e-3, "tokens_per_s": 1234.0}


def test_hardware_monitor_reports_cpu_and_resident_memory():
    sample = HardwareMonitor().sample()
    assert sample["rss_mb"] > 10 and sample["cpu_percent"] >= 0


def test_without_a_terminal_progress_is_plain_log_lines_on_logged_steps_only():
    lines = []
    display = ProgressDisplay(total=10, start=0, enabled=True, log=lines.append)
    display.update(1, ROW, 10, logged=False)
    display.update(2, ROW, 10, logged=True)
    display.close()
    assert lines == ["step 2/10 loss 1.2500 1,234 tok/s lr 1.00e-03"]


def test_on_a_terminal_a_rich_bar_shows_step_loss_and_throughput(monkeypatch):
    screen = io.StringIO()
    screen.isatty = lambda: True
    monkeypatch.setattr(sys, "stdout", screen)
    lines = []
    display = ProgressDisplay(total=10, start=3, enabled=True, log=lines.append)
    display.update(4, ROW, 10, logged=True)
    display.close()
    assert lines == [] and display.bar is not None
    assert display.bar.tasks[0].completed == 4
    assert "loss 1.2500" in display.bar.tasks[0].fields["status"]
