"""Issue 11, item 7: `dataset` and `train` never delete what they did not write. A folder holding
anything else is refused in one line with every file intact; an own artifact is replaced only
with --overwrite (a rebuild with the same inputs and options is still reused, as before)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from presentation.cli import cli
from tests.dataset_fixtures import random_module, unit, write_collection
from tests.train_fixtures import build_generation_dataset, tiny_config


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return lines[-1]


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    rng = random.Random(3)
    rows = [unit(f"r{i % 4}", f"m{i}.py", random_module(rng)) for i in range(40)]
    return write_collection(tmp_path_factory.mktemp("coll") / "coll", rows)


def user_folder(root: Path) -> Path:
    """What a user may keep in a folder: notes, and folders named like a dataset's splits."""
    (root / "train").mkdir(parents=True)
    (root / "train" / "my-experiment.csv").write_text("step,loss\n1,2.0\n")
    (root / "test").mkdir()
    (root / "test" / "cases.py").write_text("def test(): pass\n")
    (root / "notes.md").write_text("do not delete\n")
    return root


def dataset_args(collection: Path, output: Path, *extra: str) -> list[str]:
    return ["dataset", "--input", str(collection), "--output", str(output), "--seq-len", "64",
            "--vocab-size", "300", *extra]


def test_dataset_refuses_a_folder_it_did_not_write_and_leaves_every_file(collection, tmp_path):
    output = user_folder(tmp_path / "mine")
    before = files(output)
    result = invoke(*dataset_args(collection, output))
    assert result.exit_code == 1
    assert "not empty and not a codetrain dataset" in one_line(result)
    assert files(output) == before
    result = invoke(*dataset_args(collection, output, "--overwrite"))  # not even with --overwrite
    assert result.exit_code == 1 and files(output) == before


def test_dataset_replaces_its_own_dataset_only_with_overwrite(collection, tmp_path):
    output = tmp_path / "ds"
    assert invoke(*dataset_args(collection, output)).exit_code == 0
    (output / "README.md").write_text("the user's own notes, next to the dataset\n")
    again = invoke(*dataset_args(collection, output))
    assert again.exit_code == 0 and "cache hit" in again.output  # same inputs: reused, as before
    before = files(output)
    changed = invoke(*dataset_args(collection, output, "--seed", "5"))
    assert changed.exit_code == 1
    assert "already holds a dataset" in one_line(changed) and "--overwrite" in one_line(changed)
    assert files(output) == before
    replaced = invoke(*dataset_args(collection, output, "--seed", "5", "--overwrite"))
    assert replaced.exit_code == 0, replaced.output
    assert (output / "README.md").read_text() == "the user's own notes, next to the dataset\n"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    return build_generation_dataset(tmp_path_factory.mktemp("tds") / "ds", docs=40)


def train_config(path: Path, dataset: Path, run_dir: Path) -> Path:
    config = tiny_config(dataset, run_dir, training={"max_steps": 2}, checkpoints={"every_steps": 1})
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def test_train_refuses_a_folder_it_did_not_write(tiny_dataset, tmp_path):
    run_dir = user_folder(tmp_path / "run")
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "important.bin").write_bytes(b"\x00" * 64)
    before = files(run_dir)
    for extra in ([], ["--overwrite"]):
        result = invoke("train", "--config", str(train_config(tmp_path / "c.yaml", tiny_dataset, run_dir)), *extra)
        assert result.exit_code == 1
        assert "not empty and not a codetrain training run" in one_line(result)
        assert files(run_dir) == before


def test_a_fresh_train_keeps_an_earlier_runs_checkpoints_without_overwrite(tiny_dataset, tmp_path):
    config = str(train_config(tmp_path / "c.yaml", tiny_dataset, tmp_path / "run"))
    assert invoke("train", "--config", config).exit_code == 0
    checkpoints = files(tmp_path / "run" / "checkpoints")
    assert checkpoints
    refused = invoke("train", "--config", config)
    assert refused.exit_code == 1
    assert "already holds a training run (checkpoints, final)" in one_line(refused)
    assert files(tmp_path / "run" / "checkpoints") == checkpoints
    assert invoke("train", "--config", config, "--overwrite").exit_code == 0
