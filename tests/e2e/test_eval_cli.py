"""`python main.py evaluate` from the command line: the HumanEval oracle and one-line user errors."""
from __future__ import annotations

import json
import os

from click.testing import CliRunner

from presentation.cli import cli


def test_oracle_on_humaneval_through_the_cli(tmp_path):
    result = CliRunner().invoke(cli, ["evaluate", "--benchmark", "humaneval", "--oracle", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "humaneval-oracle: 164 problems, 164 samples (namespaces sandbox)" in result.output
    assert "pass@1 1.0000; runs ended: {'passed': 164}" in result.output
    summary = json.loads((tmp_path / "humaneval-oracle" / "summary.json").read_text())
    assert summary["pass@1"] == 1.0 and summary["limits"]["memory_bytes"] == 512 * 2**20


def test_user_mistakes_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x", "prompt": "def f():\\n"}\nnot json\n')
    no_tests = tmp_path / "no_tests.jsonl"
    no_tests.write_text('{"task_id": "x", "prompt": "def f():\\n", "entry_point": "f"}\n')
    fifo = tmp_path / "bench.jsonl"
    os.mkfifo(fifo)  # never opened: reading it would wait for a writer forever
    cases = [
        (["evaluate", "--benchmark", str(bad), "--oracle", "-o", str(tmp_path)], "line 2 is not JSON"),
        (["evaluate", "--benchmark", str(no_tests), "--oracle", "-o", str(tmp_path)], "problem 1 has no 'test'"),
        (["evaluate", "--benchmark", str(tmp_path / "missing.jsonl"), "--oracle", "-o", str(tmp_path)], "no such file"),
        (["evaluate", "--benchmark", str(fifo), "--oracle", "-o", str(tmp_path)], "it is a FIFO (named pipe), not a regular file"),
        (["evaluate", "--benchmark", "humaneval", "--oracle"], "--output is needed"),
        (["evaluate", "--benchmark", "humaneval", "--oracle", "--n", "2", "-o", str(tmp_path)], "use --n 1"),
        (["evaluate", "--run", str(tmp_path / "norun"), "--benchmark", "humaneval", "--k", "3"], "--k 3"),
        (["evaluate", "--run", str(tmp_path / "norun")], "norun: no such run"),
        (["evaluate"], "give --run RUN or --model PATH"),
        (["export", "--run", str(tmp_path / "norun"), "-o", str(tmp_path / "e")], "norun: no such run"),
        (["export", "--run", str(tmp_path / "r"), "-o", str(tmp_path / "e"), "--adapter-only", "--onnx"],
         "not --adapter-only"),
        (["export", "-o", str(tmp_path / "e")], "exactly one of --run RUN or --model PATH"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
