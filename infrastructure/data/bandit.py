"""Bandit findings for Python code units, run as a library on files in a temporary folder.

Units are snippets: a method cut out of its class starts unindented on its first line and
indented after it, which does not parse. `parsable` re-indents it until `ast` accepts it.
"""
from __future__ import annotations

import ast
import logging
import os
import tempfile
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

Finding = tuple[str, str]  # (test id such as "B602", severity "LOW" | "MEDIUM" | "HIGH")
_CHUNK = 500  # units per bandit run: amortises bandit's set-up, keeps workers balanced


def parsable(source: str) -> str | None:
    """`source` shifted so that `ast.parse` accepts it, or None when no shift helps."""
    lines = source.splitlines()
    indents = sorted({len(l) - len(l.lstrip()) for l in lines[1:] if l.strip()})
    shifts = [0] + [s for i in indents[:1] for s in (i, i - 4, i - 2, i - 8) if s > 0]
    for shift in shifts:
        text = textwrap.dedent(" " * shift + source)
        try:
            ast.parse(text)
            return text
        except (SyntaxError, ValueError):
            continue
    return None


def _scan_chunk(sources: Sequence[str]) -> list[list[Finding] | None]:
    from bandit.core import config, constants, manager

    logging.getLogger("bandit").setLevel(logging.ERROR)
    results: list[list[Finding] | None] = [None] * len(sources)
    with tempfile.TemporaryDirectory(prefix="codetrain-bandit-") as tmp:
        names = {}
        for i, source in enumerate(sources):
            text = parsable(source)
            if text is None:
                continue  # not Python bandit can read (Python 2, template...): no label
            path = os.path.join(tmp, f"{i}.py")
            Path(path).write_text(text, encoding="utf-8")
            names[path] = i
            results[i] = []
        if not names:
            return results
        scanner = manager.BanditManager(config.BanditConfig(), "file", quiet=True)
        scanner.discover_files(sorted(names), False)
        scanner.run_tests()
        for path, _reason in scanner.skipped:
            results[names[path]] = None
        for issue in scanner.get_issue_list(constants.LOW, constants.LOW):
            results[names[issue.fname]].append((issue.test_id, issue.severity))
    return results


def scan_python(sources: Sequence[str], num_proc: int = 1) -> list[list[Finding] | None]:
    """Bandit findings of every source; None for a source that does not parse as Python 3."""
    chunks = [list(sources[i : i + _CHUNK]) for i in range(0, len(sources), _CHUNK)]
    if num_proc > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(num_proc) as pool:
            parts = list(pool.map(_scan_chunk, chunks))
    else:
        parts = [_scan_chunk(chunk) for chunk in chunks]
    return [result for part in parts for result in part]
