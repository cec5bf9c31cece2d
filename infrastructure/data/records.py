"""Reading what `dataset --input` names, chosen by what the path is.

- a folder (or s3:// prefix) with `manifest.json`, or with collect's shards: a collection;
- a `.jsonl` / `.json` / `.csv` / `.parquet` file, or a folder (prefix) of them: `FileRecords`;
- a folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`: `SavedDataset`;
- anything else shaped like `name` or `owner/name`: a hub dataset through `datasets.load_dataset`
  (`HubDataset`; offline it fails in one line naming HF_HUB_OFFLINE and the cache).

Every row is yielded with where it came from (`FILE:LINE`, `FILE:row N`, `NAME[split]:row N`) so
that a bad row is reported there, and a dataset's rows with the split they were in.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Callable, Iterator

import xxhash

from application.artifacts import require_complete
from application.dataset.sources import DatasetInput, InputSpec
from domain.errors import DatasetError
from domain.layout import MANIFEST, SHARD_PREFIX
from domain.ports import Storage

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
SAVED_DATASET_MARKERS = ("dataset_dict.json", "state.json")
_HUB_NAME = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def _jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield f"{path}:{number}", _object(line, f"{path}:{number}")


def _object(text: str, where: str) -> dict:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: not a JSON object (got {type(row).__name__})")
    return row


def _json(path: Path) -> Iterator[tuple[str, dict]]:
    """A JSON array of objects (each reported at the line it starts on), or JSON Lines."""
    text = path.read_text(encoding="utf-8")
    start = len(text) - len(text.lstrip())
    if not text[start:start + 1] == "[":
        yield from _jsonl(path)
        return
    decoder, at = json.JSONDecoder(), start + 1
    while True:
        at = len(text) - len(text[at:].lstrip(" \t\r\n,"))
        if text[at:at + 1] in ("]", ""):
            return
        where = f"{path}:{text.count(chr(10), 0, at) + 1}"
        try:
            row, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: not a JSON object (got {type(row).__name__})")
        yield where, row


def _csv(path: Path) -> Iterator[tuple[str, dict]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield f"{path}:{reader.line_num}", row


def _parquet(path: Path) -> Iterator[tuple[str, dict]]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            number += 1
            yield f"{path}:row {number}", row


READERS = {".jsonl": _jsonl, ".json": _json, ".csv": _csv, ".parquet": _parquet}


class FileRecords:
    """Rows of data files, in path order."""

    kind = "files"

    def __init__(self, uri: str, paths: list[Path]):
        self.uri, self.paths = uri, paths

    def fingerprint(self) -> str:
        digest = xxhash.xxh64()
        for path in self.paths:
            digest.update(path.name.encode())
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()

    def records(self) -> Iterator[tuple[str, dict, None]]:
        for path in self.paths:
            for where, row in READERS[path.suffix.lower()](path):
                yield where, row, None


class _DatasetRows:
    """Rows of every split of a `datasets` Dataset or DatasetDict."""

    kind = ""

    def __init__(self, uri: str):
        self.uri = uri
        self._data = None

    def _load(self):
        raise NotImplementedError

    def _splits(self) -> dict:
        if self._data is None:
            self._data = self._load()
        return self._data if isinstance(self._data, dict) else {"train": self._data}

    def fingerprint(self) -> str:
        return "+".join(f"{name}:{split._fingerprint}" for name, split in sorted(self._splits().items()))

    def records(self) -> Iterator[tuple[str, dict, str]]:
        for name, split in self._splits().items():
            for number, row in enumerate(split, 1):
                yield f"{self.uri}[{name}]:row {number}", row, name


class SavedDataset(_DatasetRows):
    kind = "saved-dataset"

    def __init__(self, uri: str, folder: Path):
        super().__init__(uri)
        self.folder = folder

    def _load(self):
        from datasets import load_from_disk

        return load_from_disk(str(self.folder))


class HubDataset(_DatasetRows):
    kind = "hub"

    def _load(self):
        from datasets import load_dataset
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
        try:
            return load_dataset(self.uri)
        except Exception as exc:  # datasets raises a dozen types for "cannot have it"; all mean the same here
            raise DatasetError(hub_failure(self.uri, exc)) from None


def hub_failure(name: str, exc: Exception) -> str:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        from datasets import config

        return (f"{name}: not a local file or folder, and the hub dataset is not in the datasets cache "
                f"({config.HF_DATASETS_CACHE}) while HF_HUB_OFFLINE=1 (download it once online, or give a local path)")
    return f"{name}: not a local file or folder, and no hub dataset of that name could be loaded ({reason})"


def _is_saved_dataset(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in SAVED_DATASET_MARKERS)


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _local(spec: InputSpec, path: Path) -> DatasetInput:
    if path.is_file():
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise DatasetError(f"{spec.uri}: not a data file (use {', '.join(DATA_SUFFIXES)}) or a collection folder")
        return DatasetInput(spec.uri, spec.weight, records=FileRecords(spec.uri, [path]))
    if _is_saved_dataset(path):
        return DatasetInput(spec.uri, spec.weight, records=SavedDataset(spec.uri, path))
    files = data_files(path)
    if not files or any(f.relative_to(path).as_posix().startswith(SHARD_PREFIX) for f in files):
        return None  # a collection, complete or not
    return DatasetInput(spec.uri, spec.weight, records=FileRecords(spec.uri, files))


def _download(storage: Storage, keys: list[str]) -> Path:
    """`keys` copied into a new temporary folder (`_owned` removes it with its source)."""
    folder = Path(tempfile.mkdtemp(prefix="codetrain-input-"))
    for key in keys:
        storage.download_file(key, folder / key)
    return folder


def _owned(opened: DatasetInput, folder: Path) -> DatasetInput:
    """Remove `folder` once the input's record source is garbage-collected."""
    weakref.finalize(opened.records, shutil.rmtree, str(folder), True)
    return opened


def _remote(spec: InputSpec, storage_for: Callable[[str], Storage]) -> DatasetInput | None:
    parent, _, name = spec.uri.rstrip("/").rpartition("/")
    if Path(name).suffix.lower() in DATA_SUFFIXES and not parent.endswith(":/"):
        folder = _download(storage_for(parent), [name])
        return _owned(DatasetInput(spec.uri, spec.weight, records=FileRecords(spec.uri, [folder / name])), folder)
    storage = storage_for(spec.uri)
    keys = storage.list()
    if any(k in SAVED_DATASET_MARKERS for k in keys):
        folder = _download(storage, keys)
        return _owned(DatasetInput(spec.uri, spec.weight, records=SavedDataset(spec.uri, folder)), folder)
    wanted = [k for k in keys if Path(k).suffix.lower() in DATA_SUFFIXES]
    if not wanted or any(k.startswith(SHARD_PREFIX) for k in wanted):
        return None
    folder = _download(storage, wanted)
    files = FileRecords(spec.uri, [folder / k for k in wanted])
    return _owned(DatasetInput(spec.uri, spec.weight, records=files), folder)


def open_input(spec: InputSpec, storage_for: Callable[[str], Storage]) -> DatasetInput:
    """The collection or record source `spec.uri` names (see the module docstring)."""
    if "://" in spec.uri:
        storage = storage_for(spec.uri)  # refuses schemes other than s3://
        opened = None if storage.exists(MANIFEST) else _remote(spec, storage_for)
    else:
        path = Path(spec.uri).expanduser()
        if not path.exists():
            if _HUB_NAME.match(spec.uri) and not Path(spec.uri).suffix.lower() in DATA_SUFFIXES:
                return DatasetInput(spec.uri, spec.weight, records=HubDataset(spec.uri))
            raise DatasetError(f"{spec.uri}: no such file or folder (expected a collection with {MANIFEST}, "
                               f"data files or a saved dataset)")
        storage = None if path.is_file() else storage_for(spec.uri)
        opened = None if storage is not None and storage.exists(MANIFEST) else _local(spec, path)
    if opened is not None:
        return opened
    require_complete(storage, MANIFEST, "collection")  # shards without a manifest: still being written
    return DatasetInput(spec.uri, spec.weight, collection=storage)
