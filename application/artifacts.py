"""Publishing and fetching whole artifacts (collections, datasets, runs) through a Storage.

An artifact is complete only when its marker (manifest) exists: data objects go first, the
marker last, and readers refuse a prefix without it. A training run is mirrored while it runs
(`RunMirror`): each checkpoint folder goes up with its own record last, pruned ones are removed
record first, and the run's summary goes last of all.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable

from domain.errors import StorageError, TrainingError
from domain.ports import Storage
from domain.layout import CHECKPOINTS, CHECKPOINT_RECORD, FINAL, atomic_write


def _join(prefix: str, rel: str) -> str:
    return f"{prefix.strip('/')}/{rel}" if prefix.strip("/") else rel


def local_files(local_dir: Path) -> list[Path]:
    """Files under `local_dir`, sorted, leaving out anything still being written (`.tmp-*`)."""
    local_dir = Path(local_dir)
    return sorted(p for p in local_dir.rglob("*") if p.is_file()
                  and not any(part.startswith(".tmp-") for part in p.relative_to(local_dir).parts))


def markers_last(keys: Iterable[str], marker: str | None) -> list[str]:
    """`keys` with every key named `marker` (in any folder) moved after all the others."""
    keys = list(keys)
    is_marker = [bool(marker) and k.rsplit("/", 1)[-1] == marker for k in keys]
    return [k for k, m in zip(keys, is_marker) if not m] + [k for k, m in zip(keys, is_marker) if m]


def complete_folders(keys: Iterable[str], marker: str) -> set[str]:
    """Folders (`checkpoints/step-000040`) that hold their `marker`: the complete ones."""
    return {k.rsplit("/", 1)[0] for k in keys if "/" in k and k.rsplit("/", 1)[1] == marker}


def publish_tree(local_dir: Path, storage: Storage, marker: str | None = None, prefix: str = "") -> int:
    """Upload every file under `local_dir` to `storage` (under `prefix`), `marker` last.

    Returns the number of files sent.
    """
    local_dir = Path(local_dir)
    by_key = {_join(prefix, p.relative_to(local_dir).as_posix()): p for p in local_files(local_dir)}
    for key in markers_last(by_key, marker and marker.rsplit("/", 1)[-1]):
        storage.upload_file(by_key[key], key)
    return len(by_key)


def claim_output(storage: Storage, what: str, own: tuple[str, ...], overwrite: bool,
                 precious: tuple[str, ...] | None = None) -> None:
    """Refuse to write a `what` into an output that holds anything this tool did not write there.

    An empty or missing output is fine. One that holds a codetrain `what` (a marker file in
    `own`) may be replaced only with `overwrite` -- or freely when it holds none of `precious`
    (default: `own`), i.e. nothing worth keeping. Anything else is refused in one line,
    so no user file is ever deleted or mixed with ours.
    """
    root = storage.local_root()
    if root is not None and root.exists() and not root.is_dir():
        raise StorageError(f"{storage.uri}: exists and is not a folder; give a folder for the {what}")
    keys = storage.list()
    if not keys:
        return
    holds = lambda names: [n for n in names if any(k == n or k.startswith(n + "/") for k in keys)]  # noqa: E731
    if not holds(own):
        raise StorageError(f"{storage.uri}: not empty and not a codetrain {what} (no {own[0]}); refusing to "
                           f"write into it, nothing there is touched: choose a new or empty folder")
    found = holds(precious if precious is not None else own)
    if found and not overwrite:
        raise StorageError(f"{storage.uri}: already holds a {what} ({', '.join(found)}); pass --overwrite to "
                           f"replace it, or choose another output")


def require_complete(storage: Storage, marker: str, what: str) -> None:
    """Refuse an artifact without its marker, in one line naming where it was looked for:
    nothing at all there is "no such" artifact; files without the marker, one being written."""
    if storage.exists(marker):
        return
    if not storage.list():
        raise StorageError(f"{storage.uri}: no such {what} (nothing there: no {marker} and no other file)")
    raise StorageError(
        f"{storage.uri}: not a complete {what} (no {marker}: it is still being written or its "
        f"upload was interrupted; rerun the command that writes it)")


def fetch_tree(storage: Storage, local_dir: Path, marker: str, what: str) -> Path:
    """Return a local folder holding the complete artifact, downloading it if it is remote."""
    require_complete(storage, marker, what)
    root = storage.local_root()
    if root is not None:
        return root
    return fetch_prefix(storage, "", local_dir)


def fetch_prefix(storage: Storage, prefix: str, local_dir: Path, keys: Iterable[str] | None = None) -> Path:
    """Download the objects under `prefix` (or just `keys`) into `local_dir`, keeping paths
    relative to `prefix`; files already there are kept. Returns `local_dir`."""
    local_dir = Path(local_dir)
    cut = len(prefix.strip("/")) + 1 if prefix.strip("/") else 0
    for key in storage.list(prefix) if keys is None else keys:
        target = local_target(storage, local_dir, key, key[cut:])
        if not target.exists():
            storage.download_file(key, target)
    return local_dir


def local_target(storage: Storage, local_dir: Path, key: str, relative: str) -> Path:
    """Where the object `key` goes under `local_dir`: strictly inside it, or a one-line refusal.

    A bucket is input like any other: a key such as `coll//etc/x` (an absolute path once the
    prefix is cut), `coll/../x` or `coll/./x` must not place a file anywhere else on this disk.
    """
    parts = relative.split("/")
    if not relative or any(part in ("", ".", "..") for part in parts) or "\0" in relative:
        raise StorageError(f"{storage.uri}: refusing object key {key!r}: it has an empty, '.' or '..' "
                           f"path segment, so it would not land inside {local_dir}")
    root = Path(os.path.realpath(local_dir))
    target = Path(os.path.realpath(root.joinpath(*parts)))
    if root not in target.parents:
        raise StorageError(f"{storage.uri}: refusing object key {key!r}: it resolves outside {local_dir}")
    return target


def read_json(storage: Storage, key: str) -> dict:
    try:
        return json.loads(storage.read_bytes(key))
    except json.JSONDecodeError as exc:
        raise StorageError(f"{storage.uri}: {key} is not valid JSON ({exc.msg})") from None


def write_json(storage: Storage, key: str, data: dict) -> None:
    storage.write_bytes(key, json.dumps(data, indent=2, sort_keys=True, default=str).encode())


def open_run_mirror(output: Storage, run_dir: Path, summary: str, resume: str | None,
                    log: Callable[[str], None] = print) -> "RunMirror | None":
    """For a remote `output`: a started RunMirror of `run_dir`, holding the remote run's complete
    checkpoints when resuming from `latest`/`best`. None when `output` is a local folder."""
    if output.local_root() is not None:
        return None
    # Under accelerate/torchrun every rank runs this; all fetch (each loads the checkpoint), only
    # rank 0 -- the one that saves checkpoints -- writes to the remote run.
    mirror = RunMirror(run_dir, output, summary, writer=os.environ.get("RANK", "0") == "0")
    if resume in ("latest", "best"):
        fetched = mirror.fetch()
        if not fetched:
            raise TrainingError(f"--resume {resume}: no complete checkpoint under {output.uri}/{CHECKPOINTS}")
        log(f"fetched {len(fetched)} checkpoint(s) from {output.uri}/{CHECKPOINTS} to resume")
    mirror.start(fresh=resume is None)
    return mirror


class RunMirror:
    """Keeps a remote run prefix equal to a local run folder while training writes into it.

    Only objects this mirror uploaded or downloaded are ever deleted remotely, so a prefix shared
    with something else loses nothing it did not know about.
    """

    def __init__(self, local_dir: Path, storage: Storage, summary: str,
                 folder_marker: str = CHECKPOINT_RECORD, writer: bool = True):
        self.local_dir, self.storage, self.writer = Path(local_dir), storage, writer
        self.summary, self.folder_marker = summary, folder_marker
        self.known: dict[str, tuple[int, int]] = {}  # key -> (size, mtime_ns) when last in sync

    def start(self, fresh: bool) -> None:
        """The remote run stops being complete before anything in it changes. A `fresh` run also
        drops the old run's checkpoints and final model, as the trainer does in a local folder."""
        if not self.writer:
            return
        if self.storage.exists(self.summary):
            self.storage.delete(self.summary)
        if fresh:
            for folder in (CHECKPOINTS, FINAL):
                self.storage.delete(folder)

    def hook(self, also: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
        """An `on_checkpoint` callback: mirror the run, then call `also` if given."""
        def on_checkpoint(folder: Path) -> None:
            self.sync()
            if also is not None:
                also(folder)
        return on_checkpoint

    def finish(self, summary: dict) -> dict:
        """Point the summary's local paths at the remote run, then upload the rest, summary last.

        Returns the summary with remote paths.
        """
        local = str(self.local_dir)
        remote = {k: self.storage.uri + v[len(local):] if isinstance(v, str) and v.startswith(local) else v
                  for k, v in summary.items()}
        path = self.local_dir / self.summary
        if path.exists():  # the trainer wrote it with local paths; the published copy names remote ones
            written = json.loads(path.read_text())
            written.update({k: v for k, v in remote.items() if k in written and isinstance(v, str)})
            atomic_write(path, json.dumps(written, indent=2, default=str))
        self.sync(final=True)
        return remote

    def fetch(self) -> list[str]:
        """Download the remote run (complete checkpoints only, no summary) to resume from it.

        Returns the checkpoint folders fetched.
        """
        keys = self.storage.list()
        complete = complete_folders(keys, self.folder_marker)
        wanted = [k for k in keys if k != self.summary and not (self.local_dir / k).exists()
                  and (not k.startswith(CHECKPOINTS + "/") or k.rsplit("/", 1)[0] in complete)]
        fetch_prefix(self.storage, "", self.local_dir, wanted)
        for key in wanted:  # files written locally already are newer: sync() will send them
            self.known[key] = self._stat(self.local_dir / key)
        return sorted(complete)

    def sync(self, _checkpoint: Path | None = None, final: bool = False) -> tuple[int, int]:
        """Upload new or changed files, markers last; delete what vanished locally, markers
        first. With `final`, the summary goes up last of all. Returns (uploaded, deleted).

        Usable as the trainer's `on_checkpoint` callback.
        """
        if not self.writer:
            return 0, 0
        local = {p.relative_to(self.local_dir).as_posix(): p for p in local_files(self.local_dir)}
        if not final:
            local.pop(self.summary, None)
        changed = [k for k, p in local.items() if self.known.get(k) != self._stat(p) and k != self.summary]
        for key in markers_last(changed, self.folder_marker) + ([self.summary] if self.summary in local else []):
            self.storage.upload_file(local[key], key)
            self.known[key] = self._stat(local[key])
        gone = [k for k in self.known if k not in local]
        # Markers first: a pruned checkpoint stops being complete before its data goes.
        for key in sorted(gone, key=lambda k: k.rsplit("/", 1)[-1] != self.folder_marker):
            self.storage.delete(key)
            del self.known[key]
        return len(changed) + (self.summary in local), len(gone)

    @staticmethod
    def _stat(path: Path) -> tuple[int, int]:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns
