"""Issue 11, items 9 and 12 (train part): bad values fail at start-up in one line naming the key
or the culprit, through the real CLI, before any step (and with no run folder half-written)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from infrastructure.training.checkpoints import verify
from presentation.cli import cli
from tests.train_fixtures import build_generation_dataset, tiny_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_generation_dataset(tmp_path_factory.mktemp("ds") / "ds", seq_len=32, docs=40)


def train(tmp_path, dataset, *overrides: str, run_dir=None):
    config = tiny_config(dataset, run_dir or tmp_path / "run", training={"max_steps": 2})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    args = ["train", "--config", str(tmp_path / "c.yaml")]
    for override in overrides:
        args += ["--set", override]
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, lines[-1]


@pytest.mark.parametrize("override, code, needles", [
    ("training.seed=-1", 2, ["training.seed", "-1"]),
    ("training.seed=12345678901234567890", 2, ["training.seed", "12345678901234567890"]),
    ("training.micro_batch_size=true", 2, ["training.micro_batch_size", "True"]),
    # rows of 32 tokens, 16 positions: an IndexError mid-run before the check existed
    ("model.architecture.max_position_embeddings=16", 1, ["32 tokens", "max_position_embeddings=16",
                                                         "--seq-len 16"]),
    # transformers' "ValueError: Unrecognized model in /etc" before
    ("model.name_or_path=/etc", 1, ["model.name_or_path /etc:", "no config.json", "not a model folder"]),
])
def test_bad_training_values_are_one_line(tmp_path, dataset, override, code, needles):
    exit_code, line = train(tmp_path, dataset, override)
    assert exit_code == code, line
    assert line.startswith("Error: ") and all(n in line for n in needles), line
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_an_output_dir_that_is_a_file_is_one_line_and_the_file_is_kept(tmp_path, dataset):
    target = tmp_path / "results.txt"
    target.write_text("mine\n")
    exit_code, line = train(tmp_path, dataset, run_dir=target)
    assert exit_code == 1 and "exists and is not a folder" in line, line
    assert target.read_text() == "mine\n"


def test_lora_target_modules_matching_nothing_name_the_modules_there_are(tmp_path, dataset):
    exit_code, line = train(tmp_path, dataset, "adapter.type=lora", "adapter.target_modules=[q_proj,v_proj]")
    assert exit_code == 1, line  # peft's NoMatchingPeftModuleError traceback before
    assert line == ("Error: adapter.target_modules ['q_proj', 'v_proj'] match no module of the model; "
                    "its adaptable modules include wte, wpe, c_attn, c_proj, c_fc, lm_head"), line
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_missing_dataset_is_no_such_dataset(tmp_path, dataset):
    exit_code, line = train(tmp_path, dataset, f"data.path={tmp_path / 'nothere'}")
    assert exit_code == 1, line  # "not a complete dataset (... still being written ...)" before
    assert line.startswith(f"Error: {tmp_path / 'nothere'}: no such dataset"), line
    assert "still being written" not in line


def closed_port() -> int:
    with socket.socket() as probe:  # bound, then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_mlflow_server_fails_at_start_in_one_line(tmp_path, dataset):
    pytest.importorskip("mlflow")
    port = closed_port()
    exit_code, line = train(tmp_path, dataset, "tracking.mlflow=true",
                            f"tracking.mlflow_tracking_uri=http://user:s3cret@127.0.0.1:{port}")
    assert exit_code == 1, line  # 5 chained tracebacks after 267 s before
    assert line == (f"Error: tracking.mlflow_tracking_uri http://127.0.0.1:{port}: no MLflow server answers "
                    f"there (Connection refused); start it, or set tracking.mlflow=false"), line
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="a small tmpfs for the run folder is mounted as root, in a private mount namespace")
def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_previous_one(tmp_path, dataset):
    run_dir, after = tmp_path / "run", tmp_path / "after"
    run_dir.mkdir()
    config = tiny_config(dataset, run_dir, training={"max_steps": 3}, checkpoints={"every_steps": 1})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    # One checkpoint of this model is ~330 KB (99 KB of weights, 224 KB of optimizer state and
    # RNG): in 500 KB the first fits, the second cannot. The tmpfs lives in the namespace only,
    # so the run folder is copied out before it goes.
    script = (f"mount -t tmpfs -o size=500k tmpfs {run_dir} || exit 99; "
              f"{sys.executable} main.py train --config {tmp_path / 'c.yaml'}; code=$?; cp -a {run_dir} {after}; "
              f"exit $code")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lines[-1].startswith(f"Error: no space left on device while writing checkpoint step 2 in "
                                f"{run_dir / 'checkpoints'} (the partial folder was removed; the previous "
                                f"checkpoint step-000001 is intact)"), lines[-1]
    checkpoints = sorted(p.name for p in (after / "checkpoints").iterdir())
    assert checkpoints == ["step-000001"]  # no .tmp-* left behind
    assert verify(after / "checkpoints" / "step-000001") is None
