"""Interfaces the use cases need from the outside world.

Only where there are (or will be) several real implementations: storage (local, S3),
repository fetchers (local folder, git URL, GitHub), parsers and model trainers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence

from domain.entities import Checkout, ParsedUnit, SkippedSource
from domain.projects import Project, TrainingLock


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


class RecordSource(Protocol):
    """Rows a user brings that are not a codetrain collection: JSONL/JSON/CSV/Parquet files or
    folders of them, a saved Hugging Face dataset, a hub dataset."""

    uri: str
    kind: str
    """`files`, `saved-dataset` or `hub`."""

    def fingerprint(self) -> str:
        """Changes whenever the rows could have changed (part of the dataset cache key)."""
        ...

    def records(self) -> Iterator[tuple[str, dict, str | None]]:
        """(where, row, split) in order; `where` names the row for errors (`data/a.jsonl:12`),
        `split` is the split a dataset already put it in (`train`, `test`...), None for files."""
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


class Walk(Protocol):
    """Lists the files of a checkout (infrastructure/sources/walker.walk_files).

    `skip_dir` gives the reason to prune a folder (or None); `on_skip` is told (reason,
    repository-relative path) for each pruned entry. Files come in sorted order, never outside `root`.
    """

    def __call__(self, root: Path, skip_dir: Callable[[str], str | None],
                 on_skip: Callable[[str, str], None]) -> Iterator[Path]: ...


class Tokenizer(Protocol):
    """What the dataset verb uses of a tokenizer (a transformers fast tokenizer in production)."""

    eos_token_id: int | None
    pad_token_id: int | None

    def __len__(self) -> int: ...

    def convert_tokens_to_ids(self, token: str) -> int: ...

    def save_pretrained(self, path: str) -> object: ...


class NearDuplicateFinder(Protocol):
    """MinHash-style similarity between texts (infrastructure/dedup/split_duplicates.NearDuplicates).

    Signatures are opaque: only the finder that made them reads them.
    """

    def sign(self, texts: Sequence[str]) -> list[object]: ...

    def clusters(self, signatures: Sequence[object], threshold: float) -> list[str]:
        """A cluster id per signature; near-duplicates share one."""
        ...

    def matches(self, reference: Sequence[object], queries: Sequence[object], threshold: float) -> list[bool]:
        """Per query: does it nearly duplicate any reference?"""
        ...


class BehaviouralCheck(Protocol):
    """Runs a model's code to see whether it works (e.g. greedy pass@1 in the sandbox).

    `model` and `tokenizer` are whatever the trainer trains (a transformers model and its
    tokenizer); the result holds "pass@1" (share of problems solved) and "problems" (how many).
    """

    def __call__(self, model: object, tokenizer: object) -> dict: ...


class ProjectRegistry(Protocol):
    """The projects under $CODETRAIN_HOME (infrastructure/projects/sqlite_registry.py).

    Safe under concurrent CLI calls: every method is one transaction.
    """

    def add(self, project: Project) -> None:
        """Register a new project; ProjectError if the name is taken."""
        ...

    def get(self, name: str) -> Project:
        """The project; ProjectError naming it when unknown."""
        ...

    def all(self) -> list[Project]: ...

    def update(self, name: str, **fields) -> Project:
        """Set these Project fields (and `updated`); returns the project as stored."""
        ...

    def remove(self, name: str) -> None: ...

    def take_lock(self, name: str, lock: TrainingLock,
                  may_take: Callable[[TrainingLock | None], bool]) -> TrainingLock | None:
        """Atomically: if `may_take(current lock)` set `lock` and return None, else return the holder."""
        ...

    def release_lock(self, name: str, token: str) -> None:
        """Clear the lock if it still carries `token`."""
        ...


class Processes(Protocol):
    """The operating system's processes, as the project verbs need them (infrastructure/projects/processes.py)."""

    def current(self) -> tuple[int, float]:
        """(pid, start time) of this process."""
        ...

    def alive(self, pid: int, started: float) -> bool:
        """True while the process that had this pid at this start time runs."""
        ...

    def terminate(self, pid: int) -> None:
        """SIGTERM to the process (to its whole group when it leads one)."""
        ...

    def spawn(self, argv: list[str], log_file: Path, env: dict[str, str]) -> tuple[int, float]:
        """Start `argv` in its own session, output appended to `log_file`; (pid, start time)."""
        ...
