"""collect: sources -> code units -> deduplicated Parquet shards + manifest."""
from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import xxhash

from application.artifacts import write_json
from domain.entities import Checkout, CodeUnit
from domain.errors import SourceError
from domain.ports import CodeParser, RepositoryFetcher, Storage

MANIFEST = "manifest.json"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CollectRequest:
    sources: tuple[str, ...]
    output: str
    granularity: str = "all"  # file | function | all
    max_file_bytes: int = 1_000_000
    shard_rows: int = 20_000


@dataclass(frozen=True)
class CollectResult:
    uri: str
    units: int
    files: int
    manifest: dict


def content_hash(text: str) -> str:
    """xxhash64 of whitespace-normalised text: reformatting does not make a new sample."""
    return xxhash.xxh64_hexdigest(_WHITESPACE.sub(" ", text).strip().encode())


def unit_id(repo: str, path: str, kind: str, name: str | None, start: int) -> str:
    return xxhash.xxh64_hexdigest(f"{repo}\0{path}\0{kind}\0{name}\0{start}".encode())


def pick_fetcher(source: str, fetchers: Iterable[RepositoryFetcher]) -> RepositoryFetcher:
    for fetcher in fetchers:
        if fetcher.accepts(source):
            return fetcher
    raise SourceError(f"{source}: unsupported source (expected a path, git URL or github:owner/repo)")


def units_of_file(
    checkout: Checkout, path: Path, parser: CodeParser, request: CollectRequest, skipped: Counter
) -> list[CodeUnit]:
    """Read one file and cut it into units; count why it was skipped if it was."""
    rel = path.relative_to(checkout.root).as_posix()
    try:
        size = path.stat().st_size
        if size > request.max_file_bytes:
            skipped["too_large"] += 1
            return []
        data = path.read_bytes()
    except OSError:
        skipped["unreadable"] += 1
        return []
    language = parser.language_for(rel, data[:256])
    if language is None:
        skipped["unsupported_language"] += 1
        return []
    if b"\0" in data:
        skipped["binary"] += 1
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        skipped["undecodable"] += 1
        return []
    base = dict(repo=checkout.repo, commit=checkout.commit, path=rel, language=language)
    units = []
    if request.granularity in ("file", "all"):
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        units.append(_unit(base, "file", None, 1, max(lines, 1), text))
    if request.granularity in ("function", "all"):
        for parsed in parser.parse(data, language):
            units.append(
                _unit(base, parsed.kind, parsed.name, parsed.start_line, parsed.end_line,
                      parsed.content, parent=parsed.parent, docstring=parsed.docstring)
            )
    return units


def _unit(base: dict, kind: str, name, start: int, end: int, content: str, **more) -> CodeUnit:
    return CodeUnit(
        id=unit_id(base["repo"], base["path"], kind, name, start), kind=kind, name=name,
        start_line=start, end_line=end, content=content, content_hash=content_hash(content),
        **base, **more,
    )


def collect_repositories(
    request: CollectRequest,
    *,
    fetchers: list[RepositoryFetcher],
    parser: CodeParser,
    storage: Storage,
    walk: Callable[[Path], Iterator[Path]],
    write_shard: Callable[[list[dict], Path], None],
    on_file: Callable[[str], None] = lambda path: None,
) -> CollectResult:
    """Fetch every source, cut files into units, drop exact duplicates, publish shards."""
    started = time.time()
    skipped: Counter = Counter()
    kinds: Counter = Counter()
    seen_hashes: set[str] = set()
    sources, buffer, shards = [], [], []
    files = 0
    with tempfile.TemporaryDirectory(prefix="codetrain-collect-") as tmp:
        workdir = Path(tmp)

        def flush() -> None:
            name = f"data/part-{len(shards):05d}.parquet"
            local = workdir / name
            write_shard(buffer, local)
            storage.upload_file(local, name)
            shards.append({"path": name, "rows": len(buffer)})
            buffer.clear()

        for source in request.sources:
            for checkout in pick_fetcher(source, fetchers).fetch(source, workdir / "checkouts"):
                sources.append({"origin": checkout.origin, "repo": checkout.repo, "commit": checkout.commit})
                for path in walk(checkout.root):
                    on_file(path.name)
                    files += 1
                    for unit in units_of_file(checkout, path, parser, request, skipped):
                        if unit.content_hash in seen_hashes:
                            skipped["exact_duplicate"] += 1
                            continue
                        seen_hashes.add(unit.content_hash)
                        kinds[unit.kind] += 1
                        buffer.append(unit.to_row())
                        if len(buffer) >= request.shard_rows:
                            flush()
        if buffer or not shards:
            flush()
    manifest = {
        "format": "codetrain-collection/1",
        "sources": sources,
        "shards": shards,
        "counts": {"files_seen": files, "units": sum(kinds.values()), "by_kind": dict(kinds),
                   "skipped": dict(skipped)},
        "options": {"granularity": request.granularity, "max_file_bytes": request.max_file_bytes},
        "seconds": round(time.time() - started, 2),
    }
    write_json(storage, MANIFEST, manifest)  # last: the collection is complete only now
    return CollectResult(uri=storage.uri, units=manifest["counts"]["units"], files=files, manifest=manifest)
