"""The `train` command end to end: start-up refusals in one line, SIGTERM -> checkpoint + the
resume command, and that command finishing the run."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.train_fixtures import build_generation_dataset, tiny_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_generation_dataset(tmp_path_factory.mktemp("ds") / "ds", docs=60)


def write_config(path: Path, dataset: Path, run_dir: Path, **sections) -> Path:
    path.write_text(yaml.safe_dump(tiny_config(dataset, run_dir, **sections).model_dump(mode="json")))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=180)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("override, code, needles", [
    ("training.precision=fp16", 1, ["fp16 needs a CUDA GPU"]),
    ("checkpoints.keep_bestt=3", 2, ["checkpoints.keep_bestt", "unknown key"]),
    ("eval.metric=eval_f1", 2, ["eval.metric", "eval_f1"]),
])
def test_start_up_refusals_are_one_line(dataset, tmp_path, override, code, needles):
    config = write_config(tmp_path / "c.yaml", dataset, tmp_path / "run")
    done = run_cli("train", "--config", str(config), "--set", override)
    assert done.returncode == code
    line = one_error_line(done)
    assert all(n in line for n in needles), line
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_prints_the_resume_command_and_it_finishes(dataset, tmp_path):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", dataset, run_dir,
                          training={"max_steps": 100_000, "log_every_steps": 20, "warmup_steps": 0})
    process = subprocess.Popen([sys.executable, "main.py", "train", "--config", str(config),
                                "--set", "training.lr=0.004"], cwd=ROOT, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # wait until steps are being taken
        if line.startswith("step "):
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert "stopped at step" in out and "SIGTERM" in out
    resume_line = next(line for line in out.splitlines() if line.startswith("resume with: "))
    command = shlex.split(resume_line.removeprefix("resume with: "))
    assert command[:3] == ["python", "main.py", "train"] and command[-2:] == ["--resume", "latest"]
    assert "training.lr=0.004" in command
    checkpoints = sorted((run_dir / "checkpoints").iterdir())
    assert len(checkpoints) == 1 and (checkpoints[0] / "checkpoint.json").exists()
    stopped = json.loads((checkpoints[0] / "checkpoint.json").read_text())["step"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] and summary["steps"] == stopped
    manifest = json.loads((run_dir / "run_manifest.json").read_text())  # lineage back to the commits
    assert manifest["collection"]["sources"] == [{"repo": "fixture", "commit": "f" * 40}]
    assert manifest["dataset"]["stats"]["task"] == "generation"
    assert json.loads((run_dir / "config.resolved.json").read_text())["training"]["lr"] == 0.004

    # The printed command resumes; a later --set only shortens the run so the test ends soon.
    done = run_cli(*command[2:], "--set", f"training.max_steps={stopped + 3}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming from {checkpoints[0]}" in done.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == stopped + 3 and not summary["interrupted"]
    assert (run_dir / "final" / "model.safetensors").exists()


@pytest.mark.slow
def test_kill_9_between_checkpoints_then_resume_matches_the_uninterrupted_run(dataset, tmp_path):
    """SIGKILL gives no chance to save: the resume starts from the last sealed checkpoint (JSON +
    safetensors state, nothing unpickled) and still logs what an uninterrupted run logs (1e-6)."""
    training = {"max_steps": 24, "log_every_steps": 1, "warmup_steps": 0}
    sections = dict(training=training, checkpoints={"every_steps": 6, "keep_best": 5}, eval={"every_steps": 6})
    full = write_config(tmp_path / "full.yaml", dataset, tmp_path / "full", **sections)
    assert run_cli("train", "--config", str(full)).returncode == 0
    run_dir = tmp_path / "killed"
    config = write_config(tmp_path / "killed.yaml", dataset, run_dir, **sections)
    process = subprocess.Popen([sys.executable, "main.py", "train", "--config", str(config)], cwd=ROOT, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if line.startswith("step 14/"):  # past the step-12 checkpoint, before step 18's
            break
    process.kill()
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL and not (run_dir / "summary.json").exists()
    done = run_cli("train", "--config", str(config), "--resume", "latest")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "step-000012" in done.stdout
    timing = {"tokens_per_s", "cpu_percent", "rss_mb", "gpu_mem_mb"}
    rows = [[{k: v for k, v in json.loads(line).items() if k not in timing}
             for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (tmp_path / "full", run_dir)]
    assert [r["step"] for r in rows[0]] == [r["step"] for r in rows[1]]
    for a, b in zip(*rows):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=1e-6) for k in a), (a, b)
