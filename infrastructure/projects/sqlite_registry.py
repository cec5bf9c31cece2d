"""The project registry in one SQLite file (stdlib): WAL journal and a busy timeout so several
CLI calls (a detached trainer writing its progress, `project status` reading it) never clash,
and BEGIN IMMEDIATE around every read-modify-write (the training lock above all)."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from domain.errors import ProjectError
from domain.projects import Project, TrainingLock

COLUMNS = [f.name for f in fields(Project)]
JSON_COLUMNS = {"sources", "overrides", "metrics", "run_overrides", "lineage", "lock"}
TUPLES = {"sources", "overrides", "run_overrides"}

SCHEMA = f"""CREATE TABLE IF NOT EXISTS projects (
    {', '.join(c + (' TEXT PRIMARY KEY' if c == 'name' else '') for c in COLUMNS)}
)"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _encode(column: str, value):
    if column == "lock":
        return json.dumps(asdict(value)) if value else None
    if column in JSON_COLUMNS:
        return json.dumps(list(value) if column in TUPLES else value)
    if column == "cancel_requested":
        return int(value)
    return value


def _decode(row: sqlite3.Row) -> Project:
    values = {}
    for column in COLUMNS:
        value = row[column]
        if column == "lock":
            value = TrainingLock(**json.loads(value)) if value else None
        elif column in JSON_COLUMNS:
            value = json.loads(value)
            value = tuple(value) if column in TUPLES else value
        elif column == "cancel_requested":
            value = bool(value)
        values[column] = value
    return Project(**values)


class SQLiteRegistry:
    """The ProjectRegistry port in `registry.sqlite`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.execute(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @staticmethod
    def _row(db: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM projects WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ProjectError(f"project {name!r} is not registered (`project list` shows those that are)")
        return row

    def add(self, project: Project) -> None:
        stamp = _now()
        project = Project(**{**asdict(project), "lock": project.lock, "created": stamp, "updated": stamp})
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM projects WHERE name = ?", (project.name,)).fetchone():
                raise ProjectError(f"project {project.name!r} is already registered (`project remove` it first)")
            db.execute(f"INSERT INTO projects ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                       [_encode(c, getattr(project, c)) for c in COLUMNS])

    def get(self, name: str) -> Project:
        with self._transaction() as db:
            return _decode(self._row(db, name))

    def all(self) -> list[Project]:
        with self._transaction() as db:
            return [_decode(row) for row in db.execute("SELECT * FROM projects ORDER BY name")]

    def update(self, name: str, **values) -> Project:
        unknown = set(values) - set(COLUMNS) | ({"name", "created"} & set(values))
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)}")
        values["updated"] = _now()
        with self._transaction() as db:
            self._row(db, name)
            db.execute(f"UPDATE projects SET {', '.join(f'{c} = ?' for c in values)} WHERE name = ?",
                       [*(_encode(c, v) for c, v in values.items()), name])
            return _decode(self._row(db, name))

    def remove(self, name: str) -> None:
        with self._transaction() as db:
            self._row(db, name)
            db.execute("DELETE FROM projects WHERE name = ?", (name,))

    def take_lock(self, name: str, lock: TrainingLock,
                  may_take: Callable[[TrainingLock | None], bool]) -> TrainingLock | None:
        with self._transaction() as db:
            held = _decode(self._row(db, name)).lock
            if not may_take(held):
                return held
            db.execute("UPDATE projects SET lock = ?, cancel_requested = 0 WHERE name = ?",
                       (_encode("lock", lock), name))
            return None

    def release_lock(self, name: str, token: str) -> None:
        with self._transaction() as db:
            held = _decode(self._row(db, name)).lock
            if held is not None and held.token == token:
                db.execute("UPDATE projects SET lock = NULL WHERE name = ?", (name,))
