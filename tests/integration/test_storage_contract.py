"""One contract, two real backends: LocalStorage on disk and S3Storage against moto's S3 server
on 127.0.0.1 (over HTTP, no patching). Every verb only sees the Storage port, so both must agree;
so must tests/unit/fakes.FakeStorage, which the unit tests drive the use cases through."""
from __future__ import annotations

import pytest

from domain.errors import StorageError
from infrastructure.storage.local import LocalStorage

pytestmark = pytest.mark.s3


@pytest.fixture(params=["local", "s3", "fake"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    if request.param == "fake":
        from tests.unit.fakes import FakeStorage

        return FakeStorage()
    from infrastructure.storage.s3 import S3Storage

    bucket = request.getfixturevalue("s3_env")
    return S3Storage(f"s3://{bucket}/some/prefix")


def test_bytes_round_trip_and_exists(storage):
    assert not storage.exists("a/b.json")
    storage.write_bytes("a/b.json", b'{"x": 1}')
    assert storage.exists("a/b.json")
    assert storage.read_bytes("a/b.json") == b'{"x": 1}'
    storage.write_bytes("a/b.json", b"{}")  # overwrite
    assert storage.read_bytes("a/b.json") == b"{}"


def test_list_is_sorted_relative_and_treats_prefixes_as_folders(storage):
    for key in ["data/part-1", "data/part-0", "data2/x", "manifest.json"]:
        storage.write_bytes(key, b"1")
    assert storage.list() == ["data/part-0", "data/part-1", "data2/x", "manifest.json"]
    assert storage.list("data") == ["data/part-0", "data/part-1"]  # not data2/
    assert storage.list("manifest.json") == ["manifest.json"]
    assert storage.list("missing") == []


def test_files_round_trip_and_delete_removes_a_folder(storage, tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    storage.upload_file(source, "ckpt/step-1/model.bin")
    storage.write_bytes("ckpt/step-1/checkpoint.json", b"{}")
    storage.write_bytes("ckpt/step-10/checkpoint.json", b"{}")
    target = tmp_path / "out" / "model.bin"
    storage.download_file("ckpt/step-1/model.bin", target)
    assert target.read_bytes() == source.read_bytes()
    assert not list(target.parent.glob(".tmp-*"))  # downloads land under a temp name, then rename
    storage.delete("ckpt/step-1")
    assert storage.list() == ["ckpt/step-10/checkpoint.json"]


def test_missing_keys_are_one_line_storage_errors_naming_the_key(storage, tmp_path):
    with pytest.raises(StorageError) as read:
        storage.read_bytes("nope/missing.json")
    with pytest.raises(StorageError) as download:
        storage.download_file("nope/missing.bin", tmp_path / "x")
    for error in (read, download):
        assert "nope/missing" in str(error.value) and "\n" not in str(error.value)
        assert storage.uri in str(error.value) or "s3://" in str(error.value)
    assert not (tmp_path / "x").exists()
