"""`train` refuses a run that cannot fit in memory before it loads any data, in one line holding
"memory"; the device it chose is printed, and forcing a missing one fails in one line."""
from __future__ import annotations

import shutil

import pytest

from tests.e2e.test_train_cli import one_error_line, run_cli, write_config
from tests.train_fixtures import build_generation_dataset


@pytest.fixture(scope="module")
def stats_only_dataset(tmp_path_factory):
    """A dataset whose rows are gone (stats.json and tokenizer/ left): any read of data would fail."""
    dataset = build_generation_dataset(tmp_path_factory.mktemp("ds") / "ds", docs=30)
    for split in ("train", "validation", "test"):
        shutil.rmtree(dataset / split)
    (dataset / "dataset_dict.json").unlink()
    return dataset


def test_a_hopeless_micro_batch_is_refused_before_loading_data(stats_only_dataset, tmp_path):
    config = write_config(tmp_path / "c.yaml", stats_only_dataset, tmp_path / "run")
    done = run_cli("train", "--config", str(config), "--set", "training.micro_batch_size=50000000")
    assert done.returncode == 1
    line = one_error_line(done)
    assert line.startswith("Error: not enough memory: this training needs about ") and " GB is available on cpu" in line
    assert "device: cpu (auto: no CUDA or MPS device)" in done.stdout
    assert not (tmp_path / "run").exists()


def test_memory_limit_caps_the_budget_and_a_missing_device_is_one_line(stats_only_dataset, tmp_path):
    config = write_config(tmp_path / "c.yaml", stats_only_dataset, tmp_path / "run")
    done = run_cli("train", "--config", str(config), "--set", "training.memory_limit_gb=0.0001")
    assert "allowed by training.memory_limit_gb=0.0001" in one_error_line(done)
    done = run_cli("train", "--config", str(config), "--set", "training.device=cuda")
    assert one_error_line(done) == "Error: training.device=cuda: no CUDA device on this machine (use training.device=auto or cpu)"
