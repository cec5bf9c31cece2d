"""collect and dataset with stderr not a terminal (a pipe, as in CI or `| tee`): a progress line
every --progress-every seconds, with done/total and a rate where the work has a count."""
from __future__ import annotations

import email
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_git_repo

ROOT = Path(__file__).resolve().parents[2]
COLLECT_LINE = re.compile(r"collect: (fetching and listing sources|parsing [\d,]+/[\d,]+ files \(\d+%\)"
                          r"(, [\d,.]+ files/s)?), \d+ s elapsed")
DATASET_LINE = re.compile(r"dataset: (starting|[a-z -]+ [\d,]+/[\d,]+ [a-z]+ \(\d+%\)(, [\d,.]+ [a-z]+/s)?"
                          r"|[a-z -]+( [\d,]+ units( into generation rows)?)?), \d+ s elapsed")


def main(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "main.py", "--progress-every", "0.1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_collect_and_dataset_print_periodic_progress_lines_when_stderr_is_a_pipe(tmp_path):
    # real code: the standard library's email package (PSF licence), copied into a git repository
    package = Path(email.__file__).parent
    files = {f"email/{p.relative_to(package)}": p.read_text() for p in sorted(package.rglob("*.py"))}
    make_git_repo(tmp_path / "repo", files)

    collected = main("collect", str(tmp_path / "repo"), "-o", str(tmp_path / "collection"), "--workers", "1")
    lines = [line for line in collected.stderr.splitlines() if line.startswith("collect: ")]
    assert lines and all(COLLECT_LINE.fullmatch(line) for line in lines), lines
    assert any(" files/s, " in line for line in lines), lines  # a count and a rate while parsing
    assert "collect: " not in collected.stdout  # the result lines stay clean on stdout

    built = main("dataset", "-i", str(tmp_path / "collection"), "-o", str(tmp_path / "dataset"),
                 "--kinds", "file,function,method", "--seq-len", "64", "--vocab-size", "400")
    lines = [line for line in built.stderr.splitlines() if line.startswith("dataset: ")]
    assert lines and all(DATASET_LINE.fullmatch(line) for line in lines), lines
    assert built.stdout.startswith("units: ") and f"dataset: {tmp_path / 'dataset'}" in built.stdout


def test_progress_lines_can_be_turned_off(tmp_path):
    make_git_repo(tmp_path / "repo", {"a.py": "def f(x):\n    return x + 1\n"})
    done = subprocess.run([sys.executable, "main.py", "--progress-every", "0", "collect", str(tmp_path / "repo"),
                           "-o", str(tmp_path / "out"), "--workers", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "collect: " not in done.stderr, done.stderr
