"""Publishing order and run mirroring, checked on a fake storage that records what happened."""
from __future__ import annotations

import json
import os

import pytest

from application.artifacts import (RunMirror, complete_folders, fetch_tree, markers_last, open_run_mirror,
                                   publish_tree)
from domain.errors import StorageError, TrainingError


class FakeStorage:
    """An in-memory Storage that keeps the order of writes and deletes."""

    uri = "fake://store"

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.events: list[tuple[str, str]] = []

    def exists(self, key):
        return key in self.objects

    def list(self, prefix=""):
        return sorted(k for k in self.objects if not prefix or k == prefix or k.startswith(prefix.rstrip("/") + "/"))

    def read_bytes(self, key):
        return self.objects[key]

    def write_bytes(self, key, data):
        self.objects[key] = data
        self.events.append(("put", key))

    def upload_file(self, local_path, key):
        self.write_bytes(key, local_path.read_bytes())

    def download_file(self, key, local_path):
        local_path.parent.mkdir(parents=True, exist_ok=True)
        local_path.write_bytes(self.objects[key])

    def delete(self, key):
        for k in self.list(key):
            del self.objects[k]
            self.events.append(("delete", k))

    def local_root(self):
        return None


def write(root, files: dict[str, str]):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_markers_go_last_and_folders_with_a_marker_are_complete():
    keys = ["c/step-2/checkpoint.json", "c/step-2/model.bin", "a.txt", "c/step-3/model.bin"]
    assert markers_last(keys, "checkpoint.json") == ["c/step-2/model.bin", "a.txt", "c/step-3/model.bin",
                                                     "c/step-2/checkpoint.json"]
    assert complete_folders(keys, "checkpoint.json") == {"c/step-2"}


def test_publish_tree_sends_the_marker_last_and_skips_temp_files(tmp_path):
    write(tmp_path, {"manifest.json": "{}", "data/part-0": "x", "data/part-1": "y", ".tmp-data/part-2": "z"})
    storage = FakeStorage()
    assert publish_tree(tmp_path, storage, marker="manifest.json") == 3
    assert [k for _, k in storage.events] == ["data/part-0", "data/part-1", "manifest.json"]


def test_fetch_tree_refuses_an_artifact_without_its_marker(tmp_path):
    storage = FakeStorage()
    storage.write_bytes("data/part-0", b"x")
    with pytest.raises(StorageError, match=r"fake://store: not a complete dataset \(no stats.json"):
        fetch_tree(storage, tmp_path, "stats.json", "dataset")
    storage.write_bytes("stats.json", b"{}")
    assert (fetch_tree(storage, tmp_path, "stats.json", "dataset") / "data/part-0").read_text() == "x"


def test_run_mirror_uploads_checkpoints_marker_last_and_deletes_pruned_ones_marker_first(tmp_path):
    storage = FakeStorage()
    storage.write_bytes("summary.json", b"old run")
    storage.write_bytes("unrelated.txt", b"not ours")
    storage.write_bytes("checkpoints/step-000009/checkpoint.json", b"{}")  # an older run's
    mirror = RunMirror(tmp_path, storage, summary="summary.json")
    mirror.start(fresh=True)
    assert not storage.exists("summary.json")  # the old run stops being complete first
    assert storage.list("checkpoints") == []  # a fresh run does not rank against an old run

    write(tmp_path, {"metrics.jsonl": "1\n", "checkpoints/step-000002/model.bin": "w2",
                     "checkpoints/step-000002/checkpoint.json": "{}", "checkpoints/.tmp-step-000004/model.bin": "half"})
    storage.events.clear()
    assert mirror.sync() == (3, 0)
    assert storage.events[-1] == ("put", "checkpoints/step-000002/checkpoint.json")
    assert not any(".tmp-" in k for k in storage.objects)

    os.rename(tmp_path / "checkpoints/.tmp-step-000004", tmp_path / "checkpoints/step-000004")
    write(tmp_path, {"checkpoints/step-000004/checkpoint.json": "{}", "metrics.jsonl": "1\n2\n"})
    for name in ("model.bin", "checkpoint.json"):  # pruned by the trainer
        (tmp_path / "checkpoints/step-000002" / name).unlink()
    storage.events.clear()
    assert mirror.sync() == (3, 2)
    puts = [k for e, k in storage.events if e == "put"]
    deletes = [k for e, k in storage.events if e == "delete"]
    assert sorted(puts) == ["checkpoints/step-000004/checkpoint.json", "checkpoints/step-000004/model.bin",
                            "metrics.jsonl"] and puts[-1].endswith("checkpoint.json")
    assert deletes == ["checkpoints/step-000002/checkpoint.json", "checkpoints/step-000002/model.bin"]
    assert storage.read_bytes("metrics.jsonl") == b"1\n2\n"  # changed files go up again

    write(tmp_path, {"summary.json": "{}", "final/model.bin": "f"})
    storage.events.clear()
    mirror.sync(final=True)
    assert storage.events == [("put", "final/model.bin"), ("put", "summary.json")]  # unchanged: not resent
    assert storage.exists("unrelated.txt")  # never uploaded by the mirror: never deleted


def test_run_mirror_fetches_only_complete_checkpoints_and_does_not_resend_them(tmp_path):
    storage = FakeStorage()
    for key in ("metrics.jsonl", "summary.json", "checkpoints/step-000002/model.bin",
                "checkpoints/step-000002/checkpoint.json", "checkpoints/step-000004/model.bin"):
        storage.write_bytes(key, key.encode())
    (tmp_path / "metrics.jsonl").write_text("written by this run")
    mirror = RunMirror(tmp_path, storage, summary="summary.json")
    assert mirror.fetch() == ["checkpoints/step-000002"]
    assert (tmp_path / "checkpoints/step-000002/model.bin").exists()
    assert not (tmp_path / "checkpoints/step-000004").exists()  # no record: incomplete, not fetched
    assert not (tmp_path / "summary.json").exists()
    assert (tmp_path / "metrics.jsonl").read_text() == "written by this run"  # local kept
    storage.events.clear()
    assert mirror.sync() == (1, 0)
    assert storage.events == [("put", "metrics.jsonl")]  # fetched checkpoints are not sent back


def test_finish_publishes_a_summary_that_names_remote_paths_last(tmp_path):
    storage = FakeStorage()
    mirror = RunMirror(tmp_path, storage, summary="summary.json")
    summary = {"steps": 4, "checkpoint": str(tmp_path / "checkpoints/step-000004"), "final": str(tmp_path / "final")}
    write(tmp_path, {"final/model.bin": "f", "summary.json": json.dumps(summary)})
    remote = mirror.finish(summary)
    assert remote["final"] == "fake://store/final" and remote["checkpoint"] == "fake://store/checkpoints/step-000004"
    assert json.loads(storage.read_bytes("summary.json"))["final"] == "fake://store/final"
    assert storage.events[-1] == ("put", "summary.json")


def test_open_run_mirror_only_for_remote_outputs_and_resume_needs_a_remote_checkpoint(tmp_path):
    from infrastructure.storage.local import LocalStorage

    assert open_run_mirror(LocalStorage(tmp_path), tmp_path, "summary.json", resume="latest") is None
    storage = FakeStorage()
    storage.write_bytes("checkpoints/step-000004/model.bin", b"no record: incomplete")
    with pytest.raises(TrainingError, match="--resume latest: no complete checkpoint under fake://store/checkpoints"):
        open_run_mirror(storage, tmp_path / "run", "summary.json", resume="latest")


def test_only_rank_zero_writes_to_a_remote_run_but_every_rank_fetches(tmp_path, monkeypatch):
    storage = FakeStorage()
    for key in ("summary.json", "checkpoints/step-000002/model.bin", "checkpoints/step-000002/checkpoint.json"):
        storage.write_bytes(key, b"x")
    monkeypatch.setenv("RANK", "1")
    mirror = open_run_mirror(storage, tmp_path, "summary.json", resume="latest", log=lambda line: None)
    assert (tmp_path / "checkpoints/step-000002/model.bin").exists()  # rank 1 loads it too
    write(tmp_path, {"checkpoints/step-000003/checkpoint.json": "{}", "summary.json": "{}"})
    storage.events.clear()
    mirror.hook()(tmp_path / "checkpoints/step-000003")
    mirror.finish({"steps": 3})
    assert storage.events == [] and storage.exists("summary.json")  # rank 1 never writes
