"""The periodic progress line of collect/dataset, on a clock the test moves."""
from __future__ import annotations

from presentation.collect_progress import ProgressLines


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_gives_the_stage_done_of_total_its_rate_and_the_time_spent():
    clock = Clock()
    lines = ProgressLines("collect", 10, print, "fetching and listing sources", clock=clock)
    clock.now += 4
    assert lines.line() == "collect: fetching and listing sources, 4 s elapsed"
    lines.update("parsing", 200, 1000, "files")  # resumed at 200: the rate counts this run's files only
    clock.now += 8
    lines.update("parsing", 600, 1000, "files")
    assert lines.line() == "collect: parsing 600/1,000 files (60%), 50.0 files/s, 12 s elapsed"
    clock.now += 30  # nothing reported meanwhile (the last shard being written): the rate holds
    assert lines.line() == "collect: parsing 600/1,000 files (60%), 50.0 files/s, 42 s elapsed"
    clock.now += 200
    lines.update("writing the dataset")
    assert lines.line() == "collect: writing the dataset, 4 min 02 s elapsed"


def test_no_line_is_written_with_an_interval_of_zero():
    written = []
    with ProgressLines("dataset", 0, written.append) as lines:
        lines.update("reading inputs", 0, 1, "inputs")
    assert written == []
