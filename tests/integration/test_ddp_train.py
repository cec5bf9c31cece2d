"""Real 2-process DDP on CPU through `accelerate launch` (gloo), compared with one process.

Two processes with micro-batch 2 see, per optimizer step, the same rows as one process with
micro-batch 4 (the data order shards each global micro-batch by rank), and the loss is
normalised by the target tokens of all ranks, so the logged losses must agree.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_cpu_processes_train_like_one(tmp_path):
    from infrastructure.training.loop import run_training

    dataset = build_generation_dataset(tmp_path / "ds", docs=60)
    settings = dict(model={"architecture": {"type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2,
                                            "max_position_embeddings": 64, "dropout": 0.0}},
                    eval={"every_steps": 3, "max_batches": 4}, checkpoints={"every_steps": 3})
    single = tiny_config(dataset, tmp_path / "single", training={"max_steps": 6, "micro_batch_size": 4}, **settings)
    run_training(single, dataset, tmp_path / "single", lambda _: None)

    ddp = tiny_config(dataset, tmp_path / "ddp", training={"max_steps": 6, "micro_batch_size": 2}, **settings)
    config_file = tmp_path / "ddp.yaml"
    config_file.write_text(yaml.safe_dump(ddp.model_dump(mode="json")))
    launcher = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
         "main.py", "train", "--config", str(config_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # both ranks return to the CLI; the closing lines are the main process's alone
    printed = (done.stdout + done.stderr).splitlines()
    assert [line for line in printed if line.startswith("model: ")] == [f"model: {tmp_path / 'ddp'}/final"]
    assert len([line for line in printed if line.startswith("  validation loss ") and " -> " in line]) == 1
    assert not [line for line in printed if "processes asked" in line]

    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["num_processes"] == 2
    for rank in (0, 1):
        lines = (tmp_path / "ddp" / "logs" / f"rank-{rank}.log").read_text().splitlines()
        assert len(lines) == 6 and lines[-1].startswith(f"step 6 rank {rank}/2")
    expected = read_metrics(tmp_path / "single")
    got = read_metrics(tmp_path / "ddp")
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for a, b in zip(got, expected):
        for key in ("loss", "grad_norm", "eval_loss"):
            if key in b:
                assert a[key] == pytest.approx(b[key], abs=1e-5), (a["step"], key)


def test_a_launch_that_starts_fewer_processes_than_asked_says_so(tmp_path):
    """`accelerate launch --cpu --num_processes 2` runs one process (accelerate's single-process
    launcher drops the count): the run warns in one line naming the launch that gives two."""
    dataset = build_generation_dataset(tmp_path / "ds", docs=30)
    config = tiny_config(dataset, tmp_path / "run", training={"max_steps": 1}, eval={"max_batches": 1})
    config_file = tmp_path / "train.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    launcher = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    port = free_port()
    done = subprocess.run(
        [str(launcher), "launch", "--cpu", "--num_processes", "2", "--main_process_port", str(port),
         "main.py", "train", "--config", str(config_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    warnings = [line for line in done.stdout.splitlines() if "processes asked" in line]
    assert warnings == [
        "warning: 2 processes asked but 1 started (`accelerate launch --cpu` starts one process); for 2: "
        f"ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --main_process_port {port} "
        f"main.py train --config {config_file}"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["num_processes"] == 1
