"""User mistakes end in one clear line and a non-zero exit, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str, code: int | None = None):
    assert done.returncode != 0
    if code is not None:
        assert done.returncode == code
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_help_answers_without_importing_torch():
    probe = (
        "import sys, runpy; sys.argv = ['main.py', '--help']\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'datasets', 'pyarrow', 'boto3') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "collect" in done.stdout and "train" in done.stdout
    assert "HEAVY []" in done.stdout


def test_collect_of_missing_path_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    done = run_cli("collect", "/does/not/exist", "--output", str(out))
    assert_one_line_error(done, "/does/not/exist", "no such file")
    assert not (out / "manifest.json").exists()


def test_dataset_of_missing_collection_is_one_line(tmp_path):
    done = run_cli("dataset", "--input", str(tmp_path / "none"), "--output", str(tmp_path / "ds"))
    assert_one_line_error(done, "manifest.json", "collection")


@pytest.mark.parametrize(
    "yaml_text, needles",
    [
        ("training:\n  lrx: 0.1\n", ["training.lrx", "unknown key"]),
        ("training:\n  lr: fast\n", ["training.lr", "'fast'"]),
        ("training:\n  micro_batch_size: 0\n", ["training.micro_batch_size", "0"]),
        ("model:\n  architecture: {n_embd: 100, n_head: 3}\n", ["model.architecture", "n_head=3"]),
        ("model: [1, 2\n", ["not valid YAML"]),
        ("- just\n- a list\n", ["top level"]),
    ],
)
def test_bad_config_is_one_line_naming_the_key_and_value(tmp_path, yaml_text, needles):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    done = run_cli("train", "--config", str(config))
    assert_one_line_error(done, str(config), *needles, code=2)


def test_bad_override_is_one_line(tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text("training:\n  lr: 0.001\n")
    done = run_cli("train", "--config", str(config), "--set", "training.scheduler=sideways")
    assert_one_line_error(done, "training.scheduler", "sideways", code=2)
    done = run_cli("train", "--config", str(config), "--set", "no-equals-sign")
    assert_one_line_error(done, "no-equals-sign", code=2)


def test_missing_config_file_is_one_line(tmp_path):
    done = run_cli("train", "--config", str(tmp_path / "nope.yaml"))
    assert_one_line_error(done, "nope.yaml", "not found", code=2)
