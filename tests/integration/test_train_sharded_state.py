"""The FSDP / DeepSpeed checkpoint path: optimizer state through accelerate's save_state /
load_state. FSDP and DeepSpeed need CUDA GPUs, which this machine lacks: asking for them on CPU
fails at once in one line, and the sharded path itself is run here by declaring the (real,
single-process) accelerator sharded, the one thing that cannot exist here. Its resume must be as
exact as the plain path's."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from infrastructure.training import setup as training_setup
from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config

TIMING = {"tokens_per_s", "cpu_percent", "rss_mb", "gpu_mem_mb"}


def comparable(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


@pytest.mark.parametrize("variable", ["ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"])
def test_fsdp_or_deepspeed_on_cpu_fails_at_once_in_one_line(tmp_path, monkeypatch, variable):
    import yaml

    from presentation.cli import cli

    dataset = build_generation_dataset(tmp_path / "ds", docs=30)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(tiny_config(dataset, tmp_path / "run").model_dump(mode="json")))
    monkeypatch.setenv(variable, "true")  # what `accelerate launch --use_fsdp / --use_deepspeed` sets
    done = CliRunner().invoke(cli, ["train", "--config", str(config)])
    assert done.exit_code != 0
    line = done.output.splitlines()[-1]  # after the preflight's device/memory lines, the one error line
    assert line.startswith("Error: ") and "Traceback" not in done.output
    assert "shards across CUDA GPUs and there is none here" in line and "--multi_gpu" in line
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_sharded_optimizer_state_resumes_exactly_and_unpickled(tmp_path, monkeypatch):
    import torch

    from infrastructure.training.loop import run_training
    from infrastructure.training.state import read_trainer_state

    monkeypatch.setattr(training_setup, "sharded_state", lambda accelerator: True)
    dataset = build_generation_dataset(tmp_path / "ds")

    def config(run_dir):  # dropout on: a resumed run only matches when the RNG came back too
        return tiny_config(dataset, run_dir, training={"max_steps": 10, "gradient_accumulation_steps": 2},
                           eval={"every_steps": 5, "max_batches": 2}, checkpoints={"every_steps": 4})

    run_training(config(tmp_path / "full"), dataset, tmp_path / "full", lambda line: None)
    part = tmp_path / "part"
    run_training(config(part), dataset, part, lambda line: None, stop_when=lambda step: step == 6)
    checkpoint = part / "checkpoints" / "step-000006"
    state = checkpoint / "accelerate_state"
    assert read_trainer_state(checkpoint)["optimizer"] is None  # not rank 0's own: accelerate's, below
    saved = torch.load(state / "optimizer.bin", weights_only=True)  # data only
    params = [i for group in saved["param_groups"] for i in group["params"]]
    assert sorted(saved["state"]) == sorted(params) and all("exp_avg_sq" in v for v in saved["state"].values())
    assert not list(state.glob("*.pkl")) and not list(part.glob("checkpoints/.accelerate-state-*"))

    run_training(config(part), dataset, part, lambda line: None, resume="latest")
    got, expected = comparable(read_metrics(part)), comparable(read_metrics(tmp_path / "full"))
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for a, b in zip(got, expected):
        for key in b:
            assert a[key] == pytest.approx(b[key], abs=1e-6, rel=1e-6), (a["step"], key)


def test_a_plain_checkpoint_is_not_resumed_as_a_sharded_one(tmp_path, monkeypatch):
    from domain.errors import TrainingError
    from infrastructure.training.loop import run_training

    dataset = build_generation_dataset(tmp_path / "ds", docs=30)
    config = tiny_config(dataset, tmp_path / "run", training={"max_steps": 2}, eval={"max_batches": 1})
    run_training(config, dataset, tmp_path / "run", lambda line: None)
    monkeypatch.setattr(training_setup, "sharded_state", lambda accelerator: True)
    with pytest.raises(TrainingError, match="saved by a single-process / DDP run; this run is FSDP / DeepSpeed"):
        run_training(config, dataset, tmp_path / "run", lambda line: None, resume="latest")
