"""Exact (normalised) containment of benchmark texts, and the cache key."""
from __future__ import annotations

from application.dataset.cache import cache_key
from application.dataset.decontamination import ContainmentIndex, benchmark_from_problems, normalised_lines

PROBLEM = {
    "task_id": "HumanEval/0",
    "prompt": 'from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n'
              '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
              '    given threshold.\n    """\n',
    "canonical_solution": "    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n"
                          "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
                          "                if distance < threshold:\n                    return True\n\n"
                          "    return False\n",
}
SHORT = {"task_id": "HumanEval/23", "prompt": "", "canonical_solution": "    return len(string)\n"}


def index() -> ContainmentIndex:
    return ContainmentIndex([benchmark_from_problems("humaneval", [PROBLEM, SHORT], "f")])


def test_a_copied_prompt_is_found_even_reindented_with_other_blank_lines():
    copied = "import os\n\n\nclass Helpers:\n" + "\n".join("    " + l for l in PROBLEM["prompt"].splitlines()) + "\n"
    assert index().find(copied) == "humaneval"


def test_a_copied_solution_alone_is_found_inside_other_code():
    text = "def nearby(numbers, threshold):\n" + PROBLEM["canonical_solution"].replace("\n\n", "\n\n\n") + "\nx = 1\n"
    assert index().find(text) == "humaneval"


def test_short_solutions_and_partial_copies_are_not_contamination():
    assert index().find("def size(string):\n    return len(string)\n") is None
    partial = "\n".join(PROBLEM["canonical_solution"].splitlines()[:3])
    assert index().find(partial) is None
    assert index().find("") is None


def test_normalisation_collapses_space_and_drops_blank_lines():
    assert normalised_lines("  a  =\t1 \n\n   \nb\n") == ["a = 1", "b"]


def test_cache_key_changes_with_manifests_options_and_fingerprints_only():
    manifest = {"shards": [{"path": "data/part-00000.parquet", "rows": 3}], "sources": [{"commit": "abc"}]}
    base = cache_key([manifest], {"seq_len": 256}, {"benchmarks": {}})
    assert cache_key([dict(manifest)], {"seq_len": 256}, {"benchmarks": {}}) == base
    assert cache_key([manifest], {"seq_len": 512}, {"benchmarks": {}}) != base
    assert cache_key([{**manifest, "sources": [{"commit": "abd"}]}], {"seq_len": 256}, {"benchmarks": {}}) != base
    assert cache_key([manifest], {"seq_len": 256}, {"benchmarks": {"humaneval": "x"}}) != base
