"""The S3 endpoint goes away in the middle of a multipart upload: the publish fails with one line
naming bucket and key, no marker is published, readers refuse the prefix, and a rerun after the
endpoint is back completes with exactly the expected objects and no multipart upload left over.

Two honest ways to take the endpoint away, because moto keeps its state in memory:
- the network path dies (a proxy on the endpoint's port resets every connection and refuses new
  ones) while the server and its state survive -- so the stale parts of the interrupted upload
  are really there afterwards, and the rerun must abort them;
- the server process itself is SIGKILLed mid-upload and started again on the same port -- its
  state is gone, as after a wipe, so the test re-creates the bucket an operator would restore and
  checks that the rerun rebuilds a complete artifact from nothing.
"""
from __future__ import annotations

import os

import pytest

from application.artifacts import fetch_tree, publish_tree
from domain.errors import StorageError
from infrastructure.storage.s3 import MB, S3Storage
from tests.s3_server import FAKE_KEY_ID, FAKE_SECRET, CutProxy, MotoServer, s3_client

pytestmark = pytest.mark.s3
EXPECTED = ["a-weights.bin", "b/config.json", "manifest.json"]


@pytest.fixture
def artifact(tmp_path):
    root = tmp_path / "artifact"
    (root / "b").mkdir(parents=True)
    (root / "a-weights.bin").write_bytes(os.urandom(20 * MB))  # sorted first: uploads first
    (root / "b" / "config.json").write_text('{"n_layer": 1}')
    (root / "manifest.json").write_text('{"complete": true}')
    return root


def assert_interrupted(error: StorageError, bucket: str) -> None:
    text = str(error)
    assert "\n" not in text
    assert f"s3://{bucket}/coll/a-weights.bin" in text and "cannot reach" in text
    assert FAKE_KEY_ID not in text and FAKE_SECRET not in text


def assert_complete(direct: S3Storage, artifact, tmp_path) -> None:
    assert direct.list() == EXPECTED  # every object once, nothing stray
    assert direct.incomplete_uploads() == []
    fetched = fetch_tree(direct, tmp_path / "fetched", "manifest.json", "collection")
    assert (fetched / "a-weights.bin").read_bytes() == (artifact / "a-weights.bin").read_bytes()


def test_network_cut_mid_upload_leaves_no_marker_and_the_rerun_cleans_up(
        s3_env, moto_server, artifact, tmp_path, monkeypatch):
    proxy = CutProxy(moto_server.port).start(cut_on=b"partNumber=2")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    through_proxy = S3Storage(f"s3://{s3_env}/coll")
    direct = S3Storage(f"s3://{s3_env}/coll", client=s3_client(moto_server.endpoint))  # behind the cut

    with pytest.raises(StorageError) as error:
        publish_tree(artifact, through_proxy, marker="manifest.json")
    assert proxy.was_cut.is_set()
    assert_interrupted(error.value, s3_env)
    assert direct.list() == []  # nothing visible, and above all no manifest
    assert direct.incomplete_uploads() == ["a-weights.bin"]  # the abort could not get through
    with pytest.raises(StorageError) as refused:
        fetch_tree(direct, tmp_path / "early", "manifest.json", "collection")
    assert f"s3://{s3_env}/coll: no such collection (nothing there" in str(refused.value)

    proxy.start()  # the network is back, same port
    publish_tree(artifact, through_proxy, marker="manifest.json")
    assert_complete(direct, artifact, tmp_path)
    proxy.cut()


def test_server_killed_mid_upload_then_restarted_on_the_same_port(s3_env, artifact, tmp_path, monkeypatch):
    server = MotoServer().start()
    s3_client(server.endpoint).create_bucket(Bucket=s3_env)
    proxy = CutProxy(server.port, on_cut=server.kill).start(cut_on=b"partNumber=2")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    storage = S3Storage(f"s3://{s3_env}/coll")
    restarted = MotoServer(port=server.port)
    try:
        with pytest.raises(StorageError) as error:
            publish_tree(artifact, storage, marker="manifest.json")
        assert server.process.poll() is not None  # the server really died mid-upload
        assert_interrupted(error.value, s3_env)

        restarted.start()  # empty: moto's state was in memory
        s3_client(restarted.endpoint).create_bucket(Bucket=s3_env)
        proxy.start()
        publish_tree(artifact, storage, marker="manifest.json")
        assert_complete(S3Storage(f"s3://{s3_env}/coll", client=s3_client(restarted.endpoint)), artifact, tmp_path)
    finally:
        proxy.cut()
        server.kill()
        restarted.kill()
