"""Interfaces the use cases need from the outside world.

Only where there are (or will be) several real implementations: storage (local, S3),
repository fetchers (local folder, git URL, GitHub), parsers and model trainers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol

from domain.entities import Checkout, ParsedUnit, SkippedSource


class Storage(Protocol):
    """A place holding artifacts under string keys ("data/part-00000.parquet").

    Every write is atomic: a reader sees the whole object or none of it.
    """

    uri: str

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix``, sorted, relative to the storage root."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def upload_file(self, local_path: Path, key: str) -> None: ...

    def download_file(self, key: str, local_path: Path) -> None: ...

    def delete(self, key: str) -> None: ...

    def local_root(self) -> Path | None:
        """The folder behind this storage when it is on local disk, else None."""
        ...


class RepositoryFetcher(Protocol):
    """Turns a source string the user typed into checkouts on local disk."""

    def accepts(self, source: str) -> bool: ...

    def fetch(self, source: str, workdir: Path) -> Iterable[Checkout | SkippedSource]:
        """Checkouts of `source`; repositories that cannot be had are yielded as SkippedSource."""
        ...


class CodeParser(Protocol):
    """Cuts a source file into classes, functions and methods."""

    def language_for(self, path: str, head: bytes = b"", header_hint: str | None = None) -> str | None:
        """Lowercase language name (``python``, ``cpp``...) or None if unsupported.

        `head` is the file's start (or all of it); `header_hint` the language a `.h` file of
        this repository is when its content does not say (``c`` or ``cpp``)."""
        ...

    def parse(self, source: bytes, language: str, path: str = "") -> list[ParsedUnit]:
        """Units of one file; `path` picks a dialect grammar (`.tsx`)."""
        ...


class BehaviouralCheck(Protocol):
    """Runs a model's code to see whether it works (e.g. greedy pass@1 in the sandbox).

    `model` and `tokenizer` are whatever the trainer trains (a transformers model and its
    tokenizer); the result holds "pass@1" (share of problems solved) and "problems" (how many).
    """

    def __call__(self, model: object, tokenizer: object) -> dict: ...
