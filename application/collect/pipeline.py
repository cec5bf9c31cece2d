"""collect: sources -> filtered, redacted, deduplicated code units in Parquet shards + manifest.

The story: fetch every source; detect each repository's licence and order the repositories most
permissive first (the first copy of duplicated code is the one kept); walk them; hand the files
to worker processes; keep or drop each unit; write shards through the Storage port, committing
resume state after each; write `manifest.json` last.
"""
from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from application.artifacts import write_json
from application.collect.dedup import Deduplicator, NearIndex, dedup_summary
from application.collect.distributed import CollectExecutor, DistributedJob
from application.collect.files import CommitChange, RepoContext, WorkContext, map_tasks, sign_text
from application.collect.filters import FilterConfig, dir_skip_reason
from application.collect.licenses import LICENSE_FILE, detect_license, license_allowed, permissiveness
from application.collect.state import (STAGING, begin_staging, clear_state, fingerprint, load_journal, load_state,
                                      save_progress)
from domain.entities import Checkout, SkippedSource
from domain.errors import SourceError
from domain.ports import CodeParser, RepositoryFetcher, Storage, Walk
from domain.layout import DUPLICATES, MANIFEST, SHARD_PREFIX, SKIPPED


@dataclass(frozen=True)
class CollectRequest:
    """What to collect and how."""

    sources: tuple[str, ...]
    """Paths, git URLs, `github:owner/repo`, `github-org:ORG`, `github-search:QUERY`."""
    output: str
    """Collection folder or URI (used by the composition root to open the Storage)."""
    granularity: str = "all"
    """`file`, `function` (classes, functions, methods) or `all`."""
    filters: FilterConfig = field(default_factory=FilterConfig)
    """Content filter thresholds."""
    history: int = 0
    """Also emit the last N commits of each git source as `commit` units."""
    licenses: tuple[str, ...] = ()
    """Keep only repositories under these SPDX ids (empty: keep all)."""
    near_dedup: bool = True
    """Drop near-duplicates (MinHash) as well as exact ones."""
    near_threshold: float = 0.7
    """Estimated Jaccard similarity at which two units are near-duplicates."""
    dedup_against: str | None = None
    """An earlier collection whose samples are not written again."""
    workers: int = 1
    """Worker processes (1: everything in this process)."""
    shard_rows: int = 20_000
    """Rows per Parquet shard (and how often resume state is committed)."""
    git_stall_seconds: float = 60.0
    """End a git clone that receives nothing for this long (a server that never answers)."""

    def __post_init__(self):
        if self.granularity not in ("file", "function", "all"):
            raise SourceError(f"granularity={self.granularity!r}: use file, function or all")
        if not 0.0 < self.near_threshold <= 1.0:
            raise SourceError(f"near_threshold={self.near_threshold}: must be within (0, 1]")

    def options(self) -> dict:
        """Everything that changes the output (workers do not)."""
        options = asdict(self)
        for key in ("output", "workers", "sources", "git_stall_seconds"):
            options.pop(key)
        return options


@dataclass(frozen=True)
class CollectResult:
    uri: str
    units: int
    files: int
    manifest: dict


def pick_fetcher(source: str, fetchers: Iterable[RepositoryFetcher]) -> RepositoryFetcher:
    for fetcher in fetchers:
        if fetcher.accepts(source):
            return fetcher
    raise SourceError(f"{source}: unsupported source (expected a path, git URL or github:owner/repo)")


LICENSE_BYTES = 200_000  # the longest common licence (AGPL-3.0) is about 34 KB


def repository_license(root: Path) -> str | None:
    """SPDX id from the first recognisable LICENSE / COPYING file at the repository root."""
    for path in sorted(root.iterdir()):
        if LICENSE_FILE.match(path.name) and path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:  # a licence is a few KB; the file may be any size
                spdx = detect_license(handle.read(LICENSE_BYTES).decode("utf-8", "replace"))
            if spdx:
                return spdx
    return None


@dataclass
class _Plan:
    """Repositories to read, in keep-priority order, and the tasks they make."""

    repos: list[RepoContext]
    sources: list[dict]
    skipped_sources: list[dict]
    tasks: list[tuple[int, str, str]]
    walk_skips: Counter
    walk_skipped: list[dict] = field(default_factory=list)  # rows of skipped.parquet


def _fetch_all(request, fetchers, workdir: Path, log) -> tuple[list[Checkout], list[dict]]:
    """Every checkout of every source, and the sources that could not be had (with why)."""
    checkouts, skipped = [], []
    for source in request.sources:
        for item in pick_fetcher(source, fetchers).fetch(source, workdir):
            if isinstance(item, SkippedSource):
                log(f"skipped {item.origin}: {item.reason}")
                skipped.append({"origin": item.origin, "reason": item.reason})
            else:
                checkouts.append(item)
    return checkouts, skipped


def _by_licence(checkouts: list[Checkout], allowed: tuple[str, ...], skipped: list[dict]) -> list[tuple]:
    """(checkout, SPDX id) of the allowed licences, most permissive first, then in the order given.

    Since the first copy of duplicated code is the one kept, this order is the keep policy.
    """
    kept = []
    for checkout in checkouts:
        spdx = repository_license(Path(checkout.root))
        if license_allowed(spdx, allowed):
            kept.append((checkout, spdx))
        else:
            skipped.append({"origin": checkout.origin, "reason": f"licence {spdx or 'unknown'} not in --licenses"})
    order = sorted(range(len(kept)), key=lambda i: (permissiveness(kept[i][1]), i))
    return [kept[i] for i in order]


def _plan(request, fetchers, walk, list_commits, workdir: Path, log) -> _Plan:
    checkouts, skipped_sources = _fetch_all(request, fetchers, workdir, log)
    kept = _by_licence(checkouts, request.licenses, skipped_sources)
    plan = _Plan([], [], skipped_sources, [], Counter())

    for index, (checkout, spdx) in enumerate(kept):
        root = Path(checkout.root)

        def on_skip(reason: str, rel: str, repo: str = checkout.repo) -> None:
            plan.walk_skips[reason] += 1  # a pruned folder or a symlink: no size of its own
            plan.walk_skipped.append({"path": rel, "repository": repo, "reason": reason, "size": None})
        files = [p.relative_to(root.resolve()).as_posix() for p in walk(root, dir_skip_reason, on_skip)]
        plan.tasks += [(index, "file", rel) for rel in files]
        shas = list_commits(root, request.history) if request.history and checkout.commit else []
        plan.tasks += [(index, "commit", sha) for sha in shas]
        plan.repos.append(RepoContext(str(root.resolve()), checkout.repo, checkout.commit,
                                      checkout.commit_date, spdx, header_hint(files)))
        plan.sources.append({"origin": checkout.origin, "repo": checkout.repo, "commit": checkout.commit,
                             "commit_date": checkout.commit_date, "license": spdx, "files": len(files),
                             "commits": len(shas)})
    return plan


_C_SOURCES = (".c",)
_CPP_SOURCES = (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx")


def header_hint(files: list[str]) -> str | None:
    """The language of this repository's `.h` files when their content does not say: C++ when it
    has C++ sources and no C ones, C the other way round, else undecided (linguist's rule)."""
    has_c = any(f.endswith(_C_SOURCES) for f in files)
    has_cpp = any(f.lower().endswith(_CPP_SOURCES) for f in files)
    if has_c != has_cpp:
        return "cpp" if has_cpp else "c"
    return None


class _Counts:
    """Counters that go into the manifest and into resume state."""

    def __init__(self, saved: dict | None = None):
        saved = saved or {}
        self.skipped = Counter(saved.get("skipped", {}))
        self.kinds = Counter(saved.get("by_kind", {}))
        self.languages = Counter(saved.get("by_language", {}))
        self.redactions = Counter(saved.get("redactions", {}))
        self.files_kept = saved.get("files_kept", 0)
        self.bytes_read = saved.get("bytes_read", 0)

    def as_dict(self) -> dict:
        return {"skipped": dict(self.skipped), "by_kind": dict(self.kinds),
                "by_language": dict(self.languages), "redactions": dict(self.redactions),
                "files_kept": self.files_kept, "bytes_read": self.bytes_read}


def _seed_previous(dedup: Deduplicator, read_previous, previous: str, sign_spans) -> None:
    for row in read_previous(previous):
        dedup.remember_previous(row, sign_text(sign_spans, row["content"]))


def collect_repositories(
    request: CollectRequest,
    *,
    fetchers: list[RepositoryFetcher],
    parser: CodeParser,
    storage: Storage,
    walk: Walk,
    write_shard: Callable[[list[dict], Path], None],
    write_lineage: Callable[[str, list[dict], Path], None] | None = None,
    sign_spans: Callable[[bytes, list[tuple[int, int]]], list[bytes | None]] = lambda data, spans: [None] * len(spans),
    near_index: NearIndex | None = None,
    read_previous: Callable[[str], Iterable[dict]] | None = None,
    read_shards: Callable[[list[Path]], list[dict]] | None = None,
    list_commits: Callable[[Path, int], list[str]] = lambda root, n: [],
    read_commit: Callable[[Path, str], list[CommitChange]] | None = None,
    executor: CollectExecutor | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
    log: Callable[[str], None] = lambda message: None,
) -> CollectResult:
    """Fetch every source, cut files into units, drop duplicates, publish shards and manifest.

    With an `executor` (Ray), the per-file work, dedup and shard writing run there; the rows
    are the same. Rerunning the same request on the same output after a crash resumes.
    `write_lineage(name, rows, path)` writes `skipped.parquet` and `duplicates.parquet`;
    `read_shards(paths)` reads shards back (a resumed run's near-dedup compares their contents).
    """
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="codetrain-collect-") as tmp:
        workdir = Path(tmp)
        plan = _plan(request, fetchers, walk, list_commits, workdir / "checkouts", log)
        run_id = fingerprint(request.options(), plan.sources)
        context = WorkContext(tuple(plan.repos), parser, request.filters, request.granularity,
                              sign_spans, read_commit)
        skipped = drops = None  # lineage (both executors keep it; an executor may not)
        if executor is None:
            dedup = Deduplicator(near_index if request.near_dedup else None)
            shards, counts, skipped = _collect_here(request, plan, run_id, context, dedup, storage, workdir,
                                                    write_shard, read_previous, sign_spans, progress, log,
                                                    read_shards)
            clusters, drops = dedup.summary(), dedup.drops
        else:
            shards, counts, clusters, (skipped, drops) = _collect_elsewhere(request, plan, run_id, context,
                                                                            executor, storage, progress, log)
        if write_lineage is not None and skipped is not None:  # before the manifest: a complete collection has both
            for name, rows in ((SKIPPED, skipped + plan.walk_skipped), (DUPLICATES, drops)):
                write_lineage(name, rows, workdir / name)
                storage.upload_file(workdir / name, name)
    written = {shard["path"] for shard in shards}
    for key in storage.list("data"):
        if key.startswith(SHARD_PREFIX) and key not in written:
            storage.delete(key)  # left over from an earlier, larger collection
    manifest = _manifest(request, plan, shards, counts, clusters, time.time() - started, executor,
                         lineage=write_lineage is not None and skipped is not None)
    write_json(storage, MANIFEST, manifest)  # last: the collection is complete only now
    clear_state(storage)
    return CollectResult(uri=storage.uri, units=manifest["counts"]["units"],
                         files=manifest["counts"]["files_seen"], manifest=manifest)


def _collect_here(request, plan: _Plan, run_id: str, context: WorkContext, dedup: Deduplicator,
                  storage: Storage, workdir: Path, write_shard, read_previous, sign_spans,
                  progress, log, read_shards=None) -> tuple[list[dict], _Counts, list[dict]]:
    """The local executor: worker processes cut files, this process dedups and writes shards."""
    state = load_state(storage, run_id)
    if state is None:
        clear_state(storage)
        storage.delete(MANIFEST)  # whatever was here is no longer a complete collection
    if request.dedup_against and read_previous is not None:
        _seed_previous(dedup, read_previous, request.dedup_against, sign_spans)
    shards = list(state["shards"]) if state else []
    skipped: list[dict] = []  # rows of skipped.parquet from the files (the walk's come last)
    for index, shard in enumerate(shards):
        journal, skipped_then = load_journal(storage, index)
        dedup.replay(journal, _kept_texts(storage, shard["path"], workdir, read_shards) if dedup.index else None)
        skipped += skipped_then
    journaled = len(skipped)
    counts = _Counts(state["counts"] if state else None)
    done = state["position"] if state else 0
    if state:
        log(f"resuming: {done} of {len(plan.tasks)} files already collected in {len(shards)} shards")
    buffer: list[dict] = []

    def flush() -> None:
        nonlocal journaled
        key = f"{SHARD_PREFIX}{len(shards):05d}.parquet"
        local = workdir / "shards" / key.rsplit("/", 1)[-1]
        write_shard(buffer, local)
        storage.upload_file(local, key)
        local.unlink()
        shards.append({"path": key, "rows": len(buffer)})
        buffer.clear()
        committed = {"fingerprint": run_id, "position": done, "shards": shards,
                     "counts": counts.as_dict()}
        save_progress(storage, committed, len(shards) - 1, dedup.take_journal(), skipped[journaled:])
        journaled = len(skipped)

    progress(done, len(plan.tasks))
    for result in map_tasks(context, plan.tasks[done:], request.workers):
        if result.skip:
            repo_index, _, target = plan.tasks[done]
            skipped.append({"path": target, "repository": plan.repos[repo_index].repo,
                            "reason": result.skip, "size": result.size})
        done += 1
        _account(result, counts, dedup, buffer)
        if len(buffer) >= request.shard_rows:
            flush()
        progress(done, len(plan.tasks))
    if buffer or not shards:
        flush()
    return shards, counts, skipped


def _kept_texts(storage: Storage, key: str, workdir: Path, read_shards) -> dict[str, str] | None:
    """id -> content of a committed shard's rows (the rows its journal kept)."""
    if read_shards is None:
        return None
    local = workdir / "resume" / key.rsplit("/", 1)[-1]
    local.parent.mkdir(parents=True, exist_ok=True)
    storage.download_file(key, local)
    rows = read_shards([local])
    local.unlink()
    return {row["id"]: row["content"] for row in rows}


def _collect_elsewhere(request, plan: _Plan, run_id: str, context: WorkContext, executor: CollectExecutor,
                       storage: Storage, progress, log) -> tuple[list[dict], _Counts, dict, tuple]:
    """A distributed executor runs tasks, dedup and shard writing; the same rule, the same rows."""
    if request.dedup_against:
        raise SourceError(f"--dedup-against: not supported with --executor {executor.name} yet (use --executor local)")
    storage.delete(MANIFEST)  # whatever was here is no longer a complete collection
    if begin_staging(storage, run_id):
        log("resuming: batches finished by the interrupted run are not redone")
    job = DistributedJob(context, plan.tasks, storage.uri, STAGING, request.shard_rows,
                         request.near_threshold if request.near_dedup else None)
    outcome = executor.collect(job, progress, log)
    dropped, sizes = outcome.duplicates
    skipped, drops = outcome.lineage
    return outcome.shards, _Counts(outcome.counts), dedup_summary(dropped, sizes), (list(skipped), list(drops))


def _account(result, counts: _Counts, dedup: Deduplicator, buffer: list[dict]) -> None:
    """Count one task's outcome and queue the rows that survive dedup."""
    if result.skip:
        counts.skipped[result.skip] += 1
        return
    counts.files_kept += 1
    counts.bytes_read += result.bytes_read
    counts.redactions.update(result.redactions)
    for row, signature in zip(result.rows, result.signatures):
        cluster = dedup.admit(row, signature)
        if cluster is None:
            continue
        row["cluster_id"] = cluster
        counts.kinds[row["kind"]] += 1
        counts.languages[row["language"]] += 1
        buffer.append(row)


def _manifest(request, plan: _Plan, shards, counts: _Counts, clusters: dict, seconds: float, executor,
              lineage: bool) -> dict:
    skipped = counts.skipped + plan.walk_skips
    return {
        "format": "codetrain-collection/1",
        "sources": plan.sources,
        "skipped_sources": plan.skipped_sources,
        "shards": shards,
        **({"lineage": {"skipped": SKIPPED, "duplicates": DUPLICATES}} if lineage else {}),
        "counts": {
            "files_seen": sum(1 for task in plan.tasks if task[1] == "file"),
            "files_kept": counts.files_kept, "bytes_read": counts.bytes_read,
            "units": sum(counts.kinds.values()), "by_kind": dict(counts.kinds),
            "by_language": dict(counts.languages), "skipped": dict(skipped),
            "redactions": dict(counts.redactions), "duplicates": clusters["duplicates_dropped"],
        },
        "clusters": {k: v for k, v in clusters.items() if k != "duplicates_dropped"},
        "options": request.options() | {"workers": request.workers,
                                         "executor": executor.name if executor else "local"},
        "seconds": round(seconds, 2),
    }
