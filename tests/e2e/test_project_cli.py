"""`project` through the CLI: a registered project trains in a detached process whose status
rises, refuses a second training, is cancelled to a checkpoint and resumed to exactly the losses
of an uninterrupted run; a kill -9 shows as `failed` and resumes from the last checkpoint.

Real processes, real SQLite, real training of a tiny base saved to a local folder."""
from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.project_fixtures import make_base, make_source

pytestmark = pytest.mark.slow

SETTINGS = ["--set", "dataset.seq_len=32", "--set", "training.num_threads=1", "--set", "training.lr=5e-3",
            "--set", "training.log_every_steps=1", "--set", "checkpoints.every_steps=20"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("project-inputs")
    return make_base(root / "base"), make_source(root / "src", ("python", "javascript"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODETRAIN_HOME", str(tmp_path / "home"))  # detached trainers inherit it
    yield tmp_path / "home"
    for line in invoke("project", "list").output.splitlines()[1:]:  # a failed test leaves no trainer behind
        if "(running)" in line:
            invoke("project", "cancel", line.split()[0], "--wait", "30")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def add(name: str, inputs, steps: int):
    base, src = inputs
    result = invoke("project", "add", name, str(src), "--base", str(base), *SETTINGS,
                    "--set", f"training.max_steps={steps}")
    assert result.exit_code == 0, result.output


def detach(name: str) -> int:
    started = time.monotonic()
    result = invoke("project", "train", name, "--detach")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 10, "--detach must return at once"
    return int(re.search(r"pid (\d+)", result.output).group(1))


def wait_for_steps(name: str, home: Path, at_least: int, timeout: float = 240) -> list[int]:
    """Poll `project status` until it shows `step N/M` with N >= at_least; the steps seen."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = invoke("project", "status", name).output.splitlines()[0]
        found = re.search(r"step (\d+)/(\d+)", line)
        if found and "training" in line:
            seen.append(int(found.group(1)))
            if seen[-1] >= at_least:
                return seen
        assert "failed" not in line and "done" not in line, line + (home / "projects" / name / "train.log").read_text()
        time.sleep(0.1)
    raise AssertionError(f"no step {at_least} within {timeout} s: {seen}")


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_detach_status_refusal_cancel_resume_equals_uninterrupted(inputs, home):
    steps = 300
    add("alpha", inputs, steps)
    pid = detach("alpha")
    seen = wait_for_steps("alpha", home, at_least=25)
    assert len(set(seen)) >= 2 and seen == sorted(seen), seen  # the step rises

    second = invoke("project", "train", "alpha")
    assert second.exit_code != 0 and f"already training in process {pid}" in second.output, second.output

    cancelled = invoke("project", "cancel", "alpha")
    assert cancelled.exit_code == 0 and "alpha: cancelled" in cancelled.output, cancelled.output
    run_dir = home / "projects" / "alpha" / "runs" / "run-0001"
    checkpoints = sorted((run_dir / "checkpoints").glob("step-*"))
    assert checkpoints and not (run_dir / "final").exists()
    stopped_at = int(checkpoints[-1].name.split("-")[1])
    assert 25 <= stopped_at < steps

    resumed = invoke("project", "train", "alpha", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert f"alpha: done, step {steps}/{steps}" in resumed.output

    add("reference", inputs, steps)
    straight = invoke("project", "train", "reference")
    assert straight.exit_code == 0, straight.output
    ours, theirs = losses(run_dir), losses(home / "projects" / "reference" / "runs" / "run-0001")
    assert sorted(ours) == list(range(1, steps + 1)) == sorted(theirs)
    assert max(abs(ours[s] - theirs[s]) for s in ours) <= 1e-6

    table = invoke("project", "list").output.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "STEP", "EVAL", "LOSS", "UPDATED"]
    assert re.match(rf"alpha\s+done\s+{steps}/{steps}\s+\d+\.\d{{4}}\s", table[1]), table

    # generate --project: the shared base with the project's adapter, streamed as prompt + completion;
    # the same as --model BASE --adapter final/ of the project's run.
    base, _ = inputs
    by_project = invoke("generate", "--project", "alpha", "--prompt", "def ", "--max-new-tokens", "8")
    by_folders = invoke("generate", "--model", str(base), "--adapter", str(run_dir / "final"),
                        "--prompt", "def ", "--max-new-tokens", "8")
    assert by_project.exit_code == 0, by_project.output
    assert by_project.output.startswith("def ") and len(by_project.output.strip()) > len("def")
    assert by_project.output == by_folders.output
    untrained = invoke("generate", "--project", "reference-missing", "--prompt", "x")
    assert untrained.exit_code != 0 and "reference-missing" in untrained.output


def test_kill_9_shows_failed_and_resume_continues_from_the_last_checkpoint(inputs, home):
    add("gamma", inputs, 400)
    pid = detach("gamma")
    wait_for_steps("gamma", home, at_least=45)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower() \
            and time.monotonic() < deadline:
        time.sleep(0.1)

    status = invoke("project", "status", "gamma").output
    assert status.startswith(f"gamma: failed: training process {pid} is gone"), status
    run_dir = home / "projects" / "gamma" / "runs" / "run-0001"
    last = sorted((run_dir / "checkpoints").glob("step-*"))[-1]

    resumed = invoke("project", "train", "gamma", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming from {last}" in resumed.output
    assert "gamma: done, step 400/400" in resumed.output
