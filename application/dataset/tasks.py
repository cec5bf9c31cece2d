"""What each task makes of a unit: the text a model reads and the label or weight it carries.

Pure functions; the use case (`application/dataset/pipeline.py`) tokenizes and lays out the results.
"""
from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Sequence

import xxhash

TASKS = ("generation", "classification", "security", "instruct")
# StarCoder's sentinel names, so models and tools that know FIM recognise them.
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<fim_prefix>", "<fim_middle>", "<fim_suffix>"
FIM_TOKENS = (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX)
SEVERITIES = ("low", "medium", "high")
SECURITY_LABELS = ("clean", "vulnerable")


def document_text(row: dict, header: bool) -> str:
    """The text of a unit as a language model sees it, optionally after a path/language header."""
    if not header:
        return row["content"]
    return f"# path: {row['path']}\n# language: {row['language']}\n{row['content']}"


def fim_transform(text: str, rate: float, seed: int, key: str) -> str:
    """With probability `rate`, rewrite `text` as prefix/suffix/middle (PSM) with sentinels.

    The split points and the coin flip come from (`seed`, `key`), so a unit is transformed
    the same way on every run. `prefix + middle + suffix == text` always holds.
    """
    if rate <= 0:
        return text
    rng = random.Random(xxhash.xxh64_intdigest(f"{seed}\0{key}".encode()))
    if rng.random() >= rate:
        return text
    start, end = sorted(rng.randint(0, len(text)) for _ in range(2))
    prefix, middle, suffix = text[:start], text[start:end], text[end:]
    return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{middle}"


def _parse_date(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def recency_weights(dates: Sequence, half_life_days: float) -> list[float] | None:
    """Per-unit sampling weights halving every `half_life_days` of age before the newest date.

    Weights are scaled so that dated units average 1.0; undated units get 1.0 (neutral).
    Returns None when no unit has a date.
    """
    moments = [_parse_date(d) for d in dates]
    dated = [m for m in moments if m is not None]
    if not dated:
        return None
    newest = max(dated)
    raw = [None if m is None else 0.5 ** ((newest - m).total_seconds() / 86400 / half_life_days) for m in moments]
    mean = sum(w for w in raw if w is not None) / len(dated)
    return [1.0 if w is None else w / mean for w in raw]


def label_map(values: Sequence) -> dict[str, int]:
    """Label name -> id, names sorted so the map does not depend on row order."""
    return {name: i for i, name in enumerate(sorted({str(v) for v in values if v is not None}))}


def security_label(findings: Sequence[tuple[str, str]], severity: str, skip: Sequence[str]) -> tuple[int, list[str]]:
    """(1, test ids) when a finding is at or above `severity` and not skipped, else (0, [])."""
    floor = SEVERITIES.index(severity.lower())
    ids = sorted({test for test, sev in findings if test not in skip and SEVERITIES.index(sev.lower()) >= floor})
    return (1 if ids else 0), ids
