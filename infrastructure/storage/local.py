"""Storage on local disk. Every write goes to a temporary name first, then is renamed."""
from __future__ import annotations

import shutil
from pathlib import Path

from domain.errors import StorageError
from domain.layout import atomic_path, atomic_write


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"{self.uri}: key {key!r} escapes the storage root")
        return path

    def local_root(self) -> Path:
        return self.root

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if ".tmp-" not in k)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"{self.uri}: {key} not found") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        atomic_write(self._path(key), data)

    def upload_file(self, local_path: Path, key: str) -> None:
        target = self._path(key)
        if Path(local_path).resolve() == target:
            return  # already in place: the verb wrote straight into this storage
        with atomic_path(target) as tmp:
            shutil.copyfile(local_path, tmp)

    def download_file(self, key: str, local_path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise StorageError(f"{self.uri}: {key} not found")
        local_path = Path(local_path)
        if local_path.resolve() == source:
            return
        with atomic_path(local_path) as tmp:
            shutil.copyfile(source, tmp)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
