"""The per-file work of collect, run in worker processes: read, filter, redact, cut, sign.

Everything here is a function of one task and the frozen `WorkContext`, so any number of
processes give the same rows in the same order (results are consumed in task order).
"""
from __future__ import annotations

import multiprocessing
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import xxhash

from application.collect.filters import FilterConfig, name_skip_reason, text_skip_reason
from application.collect.secrets import redact
from domain.ports import CodeParser

def content_hash(text: str) -> str:
    """xxhash64 of whitespace-normalised text: reformatting does not make a new sample."""
    return xxhash.xxh64_hexdigest(" ".join(text.split()).encode())  # str.split: C speed, no regex


def unit_id(repo: str, path: str, kind: str, name: str | None, start: int, commit: str | None = None) -> str:
    key = f"{repo}\0{path}\0{kind}\0{name}\0{start}" + (f"\0{commit}" if kind == "commit" else "")
    return xxhash.xxh64_hexdigest(key.encode())


@dataclass(frozen=True)
class RepoContext:
    """What every row of one checkout shares."""

    root: str
    repo: str
    commit: str | None
    commit_date: str | None
    license: str | None
    header_hint: str | None = None
    """`cpp` when the repository has C++ sources and no C ones, `c` the other way round: what a
    `.h` file is when its content does not say."""


@dataclass(frozen=True)
class CommitChange:
    """One file changed by one commit, as `--history` samples it."""

    sha: str
    date: str
    message: str
    path: str
    diff: str


@dataclass(frozen=True)
class WorkContext:
    """Read-only state every worker holds (inherited by fork, pickled otherwise)."""

    repos: tuple[RepoContext, ...]
    parser: CodeParser
    filters: FilterConfig
    granularity: str
    # MinHash signatures of byte spans of one text (a file and its units), None when too short
    sign_spans: Callable[[bytes, list[tuple[int, int]]], list[bytes | None]]
    read_commit: Callable[[Path, str], list[CommitChange]] | None = None


@dataclass
class TaskResult:
    """Rows of one task (file or commit), or the reason it was skipped."""

    skip: str | None = None
    rows: list[dict] = field(default_factory=list)
    signatures: list[bytes | None] = field(default_factory=list)
    redactions: Counter = field(default_factory=Counter)
    bytes_read: int = 0
    size: int | None = None  # of the file on disk (reported with a skip)


def _row(repo: RepoContext, path: str, language: str, kind: str, name, start: int, end: int,
         content: str, parent=None, docstring=None, commit=None, commit_date=None) -> dict:
    commit = commit or repo.commit
    return {
        "id": unit_id(repo.repo, path, kind, name, start, commit), "repo": repo.repo,
        "commit": commit, "path": path, "language": language, "kind": kind, "name": name,
        "parent": parent, "start_line": start, "end_line": end, "content": content,
        "docstring": docstring, "content_hash": content_hash(content), "license": repo.license,
        "commit_date": commit_date or repo.commit_date,
    }


def file_rows(context: WorkContext, repo: RepoContext, rel: str, data: bytes) -> TaskResult:
    """Filter, redact and cut one file's bytes into rows (pure: no I/O)."""
    if b"\0" in data:
        return TaskResult(skip="binary")
    language = context.parser.language_for(rel, data if rel.endswith(".h") else data[:256], repo.header_hint)
    if language is None:
        return TaskResult(skip="unsupported_language")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return TaskResult(skip="undecodable")
    reason = text_skip_reason(rel, text, language, context.filters)
    if reason:
        return TaskResult(skip=reason)
    text, redactions = redact(text)
    encoded = text.encode("utf-8")
    result, spans = TaskResult(redactions=redactions), []
    if context.granularity in ("file", "all"):
        lines = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
        result.rows.append(_row(repo, rel, language, "file", None, 1, lines, text))
        spans.append((0, len(encoded)))
    if context.granularity in ("function", "all"):
        for unit in context.parser.parse(encoded, language, rel):
            result.rows.append(_row(repo, rel, language, unit.kind, unit.name, unit.start_line,
                                    unit.end_line, unit.content, unit.parent, unit.docstring))
            spans.append(_span(encoded, unit))
    result.signatures = context.sign_spans(encoded, spans)
    return result


def sign_text(sign_spans, text: str) -> bytes | None:
    """The signature of a whole text."""
    encoded = text.encode("utf-8")
    return sign_spans(encoded, [(0, len(encoded))])[0]


def _span(encoded: bytes, unit) -> tuple[int, int]:
    """Byte span of a unit in its file (found by content when the parser did not say)."""
    if unit.start_byte >= 0:
        return unit.start_byte, unit.end_byte
    content = unit.content.encode("utf-8")
    start = encoded.find(content)
    return (start, start + len(content)) if start >= 0 else (0, 0)


def commit_rows(context: WorkContext, repo: RepoContext, sha: str) -> TaskResult:
    """One `commit` row per changed source file: message as docstring, unified diff as content."""
    result = TaskResult()
    for change in context.read_commit(Path(repo.root), sha):
        language = context.parser.language_for(change.path)
        if language is None:
            continue
        diff, redactions = redact(change.diff)
        message, more = redact(change.message)
        result.redactions.update(redactions + more)
        lines = max(diff.count("\n"), 1)
        result.rows.append(_row(repo, change.path, language, "commit", sha[:12], 1, lines, diff,
                                docstring=message, commit=sha, commit_date=change.date))
    result.signatures = [sign_text(context.sign_spans, row["content"]) for row in result.rows]
    return result


def run_task(context: WorkContext, task: tuple[int, str, str]) -> TaskResult:
    """A task is (repository index, "file" | "commit", relative path | commit SHA)."""
    index, what, target = task
    repo = context.repos[index]
    if what == "commit":
        return commit_rows(context, repo, target)
    path = Path(repo.root) / target
    try:
        size = path.stat().st_size
    except OSError:
        return TaskResult(skip="unreadable")
    reason = name_skip_reason(target)
    if reason:
        return TaskResult(skip=reason, size=size)
    if size > context.filters.max_file_bytes:
        return TaskResult(skip="too_large", size=size)  # never read: a 2 GB file costs nothing
    try:
        data = path.read_bytes()
    except OSError:
        return TaskResult(skip="unreadable", size=size)
    result = file_rows(context, repo, target, data)
    result.bytes_read, result.size = len(data), len(data)
    return result


_CONTEXT: WorkContext | None = None


def _init_worker(context: WorkContext) -> None:
    global _CONTEXT
    _CONTEXT = context
    # A forked worker inherits its parent's SIGTERM handler (a trainer's stop request, Ray's),
    # which only notes the signal: the pool's terminate() at the end would then wait forever
    # for a worker blocked on its task queue. Workers end on SIGTERM, as a process should.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_in_worker(task: tuple[int, str, str]) -> TaskResult:
    return run_task(_CONTEXT, task)


def map_tasks(context: WorkContext, tasks: Iterable[tuple[int, str, str]], workers: int) -> Iterator[TaskResult]:
    """Results of `tasks` in task order, computed by `workers` processes (1: in this one)."""
    if workers <= 1:
        yield from (run_task(context, task) for task in tasks)
        return
    methods = multiprocessing.get_all_start_methods()
    mp = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with mp.Pool(workers, initializer=_init_worker, initargs=(context,)) as pool:
        # chunks of 16 files amortise the pipe round trip; results keep task order
        yield from pool.imap(_run_in_worker, tasks, chunksize=16)
