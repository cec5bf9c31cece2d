"""Issue 11, item 11, through the real CLI in a subprocess: SIGTERM/Ctrl-C stop `train` between
micro-batches (a 100,000-micro-batch window no longer hides the request) and a second one does
not lose the checkpoint; Ctrl-C on `evaluate --benchmark` kills the running sandboxed programs
at once and keeps the finished samples."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from infrastructure.training.checkpoints import verify
from tests.train_fixtures import build_generation_dataset, tiny_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def wait_for_line(process: subprocess.Popen, prefix: str) -> None:
    for line in process.stdout:
        if line.startswith(prefix):
            return
    raise AssertionError(f"no line starting {prefix!r}; stderr: {process.stderr.read()[-2000:]}")


def test_sigterm_twice_during_a_100000_micro_batch_window_keeps_the_checkpoint(tmp_path):
    dataset = build_generation_dataset(tmp_path / "ds", seq_len=32, docs=40)
    run_dir = tmp_path / "run"
    config = tiny_config(dataset, run_dir, training={"max_steps": 3, "micro_batch_size": 1,
                                                     "gradient_accumulation_steps": 100_000})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    process = subprocess.Popen([sys.executable, "main.py", "train", "--config", str(tmp_path / "c.yaml")],
                               cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(process, "validation loss before training")  # the first window has begun
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # impatient: before, this one left nothing saved
    out, err = process.communicate(timeout=120)  # before: the window alone took minutes
    assert process.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert "stopped at step 0 (SIGTERM), between micro-batches of step 1, which is dropped" in out, out
    assert verify(run_dir / "checkpoints" / "step-000000") is None
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] and summary["steps"] == 0


SLOW = ("    import ctypes, time\n"
        "    ctypes.CDLL(None).prctl(15, b'codetrain-slow', 0, 0, 0)  # PR_SET_NAME: findable in /proc\n"
        "    time.sleep(60)\n    return x\n")


def problem(k: int, solution: str) -> dict:
    return {"task_id": f"t/{k}", "prompt": f"def f{k}(x):\n", "canonical_solution": solution,
            "test": "def check(candidate):\n    assert candidate(2) == 2\n", "entry_point": f"f{k}"}


def parent(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0


def slow_programs(ancestor: int) -> list[int]:
    """The slow programs the evaluate process `ancestor` runs (not another test's)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not (entry.name.isdigit() and (entry / "comm").read_text().strip() == "codetrain-slow"):
                continue
            pid = int(entry.name)
            while pid > 1 and pid != ancestor:
                pid = parent(pid)
            if pid == ancestor:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` still running the slow program (a zombie, dead but not yet reaped, is not)."""
    found = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if "(codetrain-slow)" in stat and stat.split(")")[-1].split()[0] != "Z":
            found.append(pid)
    return found


def like_a_terminal() -> None:
    """Ctrl-C's default action in the child, as in a terminal: a suite started in the background by a
    non-interactive shell (`make test &`) ignores SIGINT, and exec passes that on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform != "linux", reason="finds the sandboxed programs through /proc")
def test_ctrl_c_on_evaluate_kills_the_running_programs_and_keeps_finished_samples(tmp_path):
    bench = tmp_path / "bench.jsonl"
    problems = [problem(k, "    return x\n") for k in range(3)] + [problem(k, SLOW) for k in (3, 4)]
    bench.write_text("".join(json.dumps(p) + "\n" for p in problems))
    process = subprocess.Popen([sys.executable, "main.py", "evaluate", "--benchmark", str(bench), "--oracle",
                                "--workers", "2", "--timeout", "60", "-o", str(tmp_path / "out")],
                               cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=like_a_terminal)
    deadline = time.monotonic() + 120
    while len(running := slow_programs(process.pid)) < 2:  # both workers on the slow ones: the fast ones are done
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()[-2000:]
        time.sleep(0.1)
    assert alive(running) == running  # the check below can see them
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)  # before: each slow program's 60 s, then nothing kept
    assert process.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert "interrupted: 3 finished samples kept, pass@k over the 3 of 5 problems they complete" in err, err
    deadline = time.monotonic() + 5  # SIGKILLed: gone once the kernel has torn their namespaces down
    while alive(running) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(running) == []
    results = tmp_path / "out" / "bench-oracle"
    samples = [json.loads(line) for line in (results / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["task_id"] for s in samples) == ["t/0", "t/1", "t/2"] and all(s["passed"] for s in samples)
    summary = json.loads((results / "summary.json").read_text())
    assert summary["interrupted"] and summary["pass@1"] == 1.0
    assert summary["problems"] == 3 and summary["problems_requested"] == 5
