"""Benchmark decontamination: find units that contain a benchmark's prompt or solution.

Texts are compared line by line after normalisation (surrounding whitespace stripped, inner
runs collapsed, blank lines dropped), so re-indenting or re-wrapping blank lines does not
hide a copy. A unit is contaminated when the normalised lines of a benchmark text appear in
it contiguously. Texts shorter than `min_chars` once normalised are not used on their own:
HumanEval has solutions like `return len(string)` that any codebase contains.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

_SPACES = re.compile(r"\s+")
MIN_PATTERN_CHARS = 50


@dataclass(frozen=True)
class Benchmark:
    """Problems of one benchmark, as texts a training unit must not contain."""

    name: str
    """`humaneval` or the file name of a user benchmark."""
    texts: tuple[str, ...]
    """Prompts and canonical solutions, looked for verbatim (after normalisation)."""
    documents: tuple[str, ...]
    """Prompt + solution of each problem, for the MinHash near-match."""
    fingerprint: str
    """Hash of the benchmark data (part of the dataset cache key)."""


def normalised_lines(text: str) -> list[str]:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


class ContainmentIndex:
    """Finds which benchmark texts occur, line-contiguously, inside a unit.

    Patterns are indexed by their first normalised line, so a unit is scanned once, line by
    line, and only lines that start some pattern are checked further.
    """

    def __init__(self, benchmarks: Iterable[Benchmark], min_chars: int = MIN_PATTERN_CHARS):
        self._by_first_line: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for benchmark in benchmarks:
            for text in benchmark.texts:
                lines = tuple(normalised_lines(text))
                if sum(map(len, lines)) >= min_chars:
                    self._by_first_line.setdefault(lines[0], []).append((lines, benchmark.name))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_first_line.values())

    def find(self, text: str) -> str | None:
        """Name of a benchmark whose text `text` contains, or None."""
        lines = normalised_lines(text)
        for start, line in enumerate(lines):
            for pattern, name in self._by_first_line.get(line, ()):
                if tuple(lines[start : start + len(pattern)]) == pattern:
                    return name
        return None


def post_image(diff: str) -> str:
    """The lines a unified diff leaves in the file (context and added lines, markers removed): a
    benchmark copied in by a commit is found in it although every diff line starts with `+`."""
    kept = [line[1:] for line in diff.splitlines()
            if line[:1] in ("+", " ") and not line.startswith("+++")]
    return "\n".join(kept)


def benchmark_from_problems(name: str, problems: Sequence[dict], fingerprint: str) -> Benchmark:
    """A Benchmark from HumanEval-format problems (`prompt`, `canonical_solution`)."""
    texts, documents = [], []
    for problem in problems:
        prompt, solution = problem.get("prompt") or "", problem.get("canonical_solution") or ""
        texts.extend(t for t in (prompt, solution) if t.strip())
        documents.append(prompt + solution)
    return Benchmark(name, tuple(texts), tuple(documents), fingerprint)
