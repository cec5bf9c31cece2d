"""The things codetrain moves around: checked-out sources and the code units parsed from them.

A collection row is a plain dict (its columns: `infrastructure/data/parquet.py` SCHEMA)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UNIT_KINDS = ("file", "class", "function", "method", "commit")


@dataclass(frozen=True)
class Checkout:
    """A repository (or plain folder) available on local disk, ready to walk."""

    repo: str
    """Stable display name, e.g. ``github.com/psf/requests`` or the folder name."""
    root: Path
    """Local folder holding the working tree."""
    commit: str | None
    """HEAD commit SHA when the source is a git repository, else None."""
    origin: str
    """What the user asked for (path, URL, ``github:owner/repo``), tokens stripped."""
    commit_date: str | None = None
    """Committer date of `commit` (ISO 8601), None outside git."""


@dataclass(frozen=True)
class SkippedSource:
    """A source a fetcher could not or would not check out (404, 451...), with the reason."""

    origin: str
    reason: str


@dataclass(frozen=True)
class ParsedUnit:
    """A class, function or method found by a parser inside one file."""

    kind: str
    """`class`, `function` or `method`."""
    name: str
    start_line: int
    """First line, 1-based, inclusive."""
    end_line: int
    """Last line, 1-based, inclusive."""
    content: str
    parent: str | None = None
    """Enclosing class of a method."""
    docstring: str | None = None
    start_byte: int = -1
    """Byte span of `content` in the parsed source; -1 when unknown."""
    end_byte: int = -1
