"""`dataset --task instruct` on a collection: docstring -> code pairs from real public code in six
languages (tests/fixtures/code_pairs, each with its licence), commit message -> diff pairs from
`--history`, and decontamination of pairs like generation's."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from presentation.cli import cli
from tests.conftest import git, make_git_repo
from tests.dataset_fixtures import humaneval_problems
from tests.instruct_fixtures import trained_texts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "code_pairs"


def invoke(*args: str) -> str:
    done = CliRunner().invoke(cli, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def test_docstring_to_code_pairs_in_six_languages_of_real_code(tmp_path):
    invoke("collect", str(FIXTURES), "--output", str(tmp_path / "coll"), "--workers", "1")
    invoke("dataset", "--input", str(tmp_path / "coll"), "--output", str(tmp_path / "ds"), "--task", "instruct",
           "--seq-len", "1024", "--vocab-size", "600", "--split", "0.5,0.25,0.25")
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    languages = {lang for split in stats["units_by_language"].values() for lang in split}
    assert languages == {"python", "javascript", "c", "cpp", "go", "ruby"}
    assert stats["removed"]["not_instruction_pairs"]["no_docstring"] > 0  # undocumented functions make no pair
    texts = trained_texts(tmp_path / "ds")
    # Go: the doc comment and signature are the prompt; the body (and the end token) is all that is trained.
    reverse = (FIXTURES / "go" / "reverse.go").read_text()
    body = reverse[reverse.index("func String(s string) string {\n") + len("func String(s string) string {\n"):]
    assert body.rstrip("\n") + "<|endoftext|>" in texts  # a unit ends at its closing brace
    # Python: the body after the docstring.
    bisect = (FIXTURES / "python" / "bisect.py").read_text()
    assert any(text.startswith("\n    lo = bisect_right(a, x, lo, hi, key=key)") or
               text.startswith("    if key is None:\n        lo = bisect_right") for text in texts)
    assert not any("Insert item x in list a" in text for text in texts)  # docstrings are never targets
    assert "Insert item x in list a" in bisect


def test_commit_messages_become_prompts_for_their_diffs_and_benchmark_copies_are_removed(tmp_path):
    problem = humaneval_problems()[2]
    repo = tmp_path / "repo"
    make_git_repo(repo, {"calc.py": 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n'})
    (repo / "calc.py").write_text('def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n\n'
                                  'def sub(a, b):\n    """Subtract b from a."""\n    return a - b\n')
    git(repo, "commit", "-qam", "Add sub, the inverse of add")
    (repo / "copied.py").write_text(problem["prompt"] + problem["canonical_solution"])
    git(repo, "add", "copied.py")
    git(repo, "commit", "-qm", "Copy a benchmark solution")
    invoke("collect", str(repo), "--output", str(tmp_path / "coll"), "--workers", "1", "--history", "3")
    invoke("dataset", "--input", str(tmp_path / "coll"), "--output", str(tmp_path / "ds"), "--task", "instruct",
           "--seq-len", "512", "--vocab-size", "400", "--decontaminate", "humaneval", "--near-dup-threshold", "0",
           "--split", "1,0,0")
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats["removed"]["contamination"] == {"humaneval": 2}  # the function pair and the commit's diff
    texts = trained_texts(tmp_path / "ds")
    diff = next(t for t in texts if t.startswith("diff --git a/calc.py b/calc.py"))
    assert "+def sub(a, b):" in diff and diff.endswith("<|endoftext|>")
    assert "    return a - b<|endoftext|>" in texts  # docstring -> body of sub
    assert not any(problem["canonical_solution"].strip() in t for t in texts)
