"""`python main.py collect` then `dataset` on a real git repository: every task, the cache,
and one-line errors for bad options."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.conftest import make_git_repo
from tests.dataset_fixtures import WORDS, humaneval_problems

ROOT = Path(__file__).resolve().parents[2]


def module(k: int) -> str:
    words = [WORDS[(k * 7 + i) % len(WORDS)] for i in range(12)]
    return "\n\n".join(
        f"def {words[i]}_{k}_{i}({words[i + 1]}, {words[i + 2]}):\n"
        f"    {words[i + 3]} = {words[i + 1]} * {k + i} + {words[i + 2]}\n"
        f"    return {words[i + 3]} - {i}\n"
        for i in range(8)
    ) + "\n"


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    problem = humaneval_problems()[5]
    files = {f"pkg/mod_{k}.py": module(k) for k in range(30)}
    files["pkg/copied.py"] = problem["prompt"] + problem["canonical_solution"]
    files["pkg/risky.py"] = (
        "import subprocess\nimport pickle\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n\n\n"
        "def restore(blob):\n    return pickle.loads(blob)\n\n\ndef add(a, b):\n    return a + b\n"
    )
    make_git_repo(root / "repo", files)
    done = CliRunner().invoke(cli, ["collect", str(root / "repo"), "--output", str(root / "collection"),
                                    "--workers", "1"])
    assert done.exit_code == 0, done.output
    return root / "collection"


def dataset(*args: str):
    done = CliRunner().invoke(cli, ["dataset", *args])
    assert done.exit_code == 0, done.output
    return done.output


def test_generation_with_decontamination_then_a_cache_hit(collection, tmp_path):
    out = tmp_path / "ds"
    args = ["--input", str(collection), "--output", str(out), "--seq-len", "128", "--vocab-size", "500",
            "--decontaminate", "humaneval", "--fim-rate", "0.5", "--header"]
    first = dataset(*args)
    assert "cache hit" not in first and "rows {" in first and "'humaneval': 1" in first
    stats = json.loads((out / "stats.json").read_text())
    assert stats["grouping"] == "file" and stats["fim"]["documents"]["train"] > 0
    second = dataset(*args)
    assert "cache hit" in second
    assert json.loads((out / "stats.json").read_text()) == stats
    assert "cache hit" not in dataset(*args, "--no-cache")


def test_security_task_on_collected_functions(collection, tmp_path):
    output = dataset("--input", str(collection), "--output", str(tmp_path / "sec"), "--task", "security",
                     "--seq-len", "128", "--vocab-size", "400", "--split", "0.6,0.2,0.2")
    stats = json.loads((tmp_path / "sec" / "stats.json").read_text())
    assert "class balance" in output
    assert stats["bandit"]["units_by_test"] == {"B301": 1, "B602": 1}
    assert sum(b["vulnerable"] for b in stats["class_balance"].values()) == 2


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("extra, needle", [
    (["--split", "0.5,0.6,0.1"], "--split"),
    (["--tokenizer", "/no/such/tokenizer"], "--tokenizer"),
    (["--decontaminate", "/no/such/bench.jsonl"], "--decontaminate"),
    (["--task", "classification", "--label-field", "stars"], "--label-field stars"),
])
def test_bad_dataset_options_are_one_line_errors(collection, tmp_path, extra, needle):
    done = run_cli("dataset", "--input", str(collection), "--output", str(tmp_path / "ds"), *extra)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], done.stderr
