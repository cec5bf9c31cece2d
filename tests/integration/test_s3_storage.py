"""S3Storage against moto's S3 server on 127.0.0.1, over HTTP: multipart transfers, integrity
checks that catch a corrupting link, and one-line errors (missing bucket, refused connection,
access denied by a server that enforces IAM) that name bucket and key and never a credential."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from domain.errors import StorageError
from infrastructure.storage.providers import S3Settings
from infrastructure.storage.s3 import MB, S3Storage, local_etag
from tests.s3_server import FAKE_KEY_ID, FAKE_SECRET, CutProxy, free_port, s3_client, wait_for_port

pytestmark = pytest.mark.s3


def assert_one_line_naming(error: StorageError, *parts: str) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    for part in parts:
        assert part in text, (part, text)
    for secret in (FAKE_KEY_ID, FAKE_SECRET):
        assert secret not in text
    return text


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(20 * MB + 12345))  # 3 parts of 8 MB, the last one short
    return path


def test_large_file_goes_up_in_parts_and_comes_back_identical(s3_env, moto_server, big_file, tmp_path):
    storage = S3Storage(f"s3://{s3_env}/runs/a")
    storage.upload_file(big_file, "model/weights.bin")
    head = s3_client(moto_server.endpoint).head_object(Bucket=s3_env, Key="runs/a/model/weights.bin")
    assert head["ETag"].strip('"').endswith("-3")  # really a multipart upload
    assert head["ETag"].strip('"') == local_etag(big_file, 8 * MB, multipart=True)
    assert storage.incomplete_uploads() == []
    copy = tmp_path / "copy.bin"
    storage.download_file("model/weights.bin", copy)
    assert copy.read_bytes() == big_file.read_bytes()


def test_a_corrupting_link_is_caught_on_download_and_the_file_is_not_kept(s3_env, moto_server, big_file, tmp_path):
    S3Storage(f"s3://{s3_env}/x").upload_file(big_file, "w.bin")
    proxy = CutProxy(moto_server.port, corrupt="download").start()
    try:
        storage = S3Storage(f"s3://{s3_env}/x", client=s3_client(proxy.endpoint))
        with pytest.raises(StorageError) as error:
            storage.download_file("w.bin", tmp_path / "w.bin")
    finally:
        proxy.cut()
    assert proxy.corrupted.is_set()
    assert "checksum mismatch" in assert_one_line_naming(error.value, f"s3://{s3_env}/x/w.bin")
    assert not list(tmp_path.glob("*w.bin*"))


def test_a_corrupting_link_is_caught_on_upload(s3_env, moto_server, big_file):
    proxy = CutProxy(moto_server.port, corrupt="upload").start()
    try:
        storage = S3Storage(f"s3://{s3_env}/x", client=s3_client(proxy.endpoint))
        with pytest.raises(StorageError) as error:
            storage.upload_file(big_file, "w.bin")
    finally:
        proxy.cut()
    assert proxy.corrupted.is_set()
    assert "checksum mismatch" in assert_one_line_naming(error.value, f"s3://{s3_env}/x/w.bin")


def test_missing_bucket_is_one_line_naming_bucket_and_key(s3_env, big_file):
    storage = S3Storage("s3://no-such-bucket-here/data")
    for call in (lambda: storage.exists("manifest.json"), lambda: storage.read_bytes("manifest.json"),
                 lambda: storage.upload_file(big_file, "manifest.json")):
        with pytest.raises(StorageError) as error:
            call()
        text = assert_one_line_naming(error.value, "no-such-bucket-here", "data/manifest.json")
        assert "bucket" in text and "does not exist" in text


def test_refused_connection_is_one_line_after_botocore_retries(s3_env, monkeypatch, big_file):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")  # nothing listens
    storage = S3Storage(f"s3://{s3_env}/p")
    for call, key in ((lambda: storage.read_bytes("a.json"), "p/a.json"),
                      (lambda: storage.upload_file(big_file, "b.bin"), "p/b.bin")):
        with pytest.raises(StorageError) as error:
            call()
        assert "cannot reach http://127.0.0.1" in assert_one_line_naming(error.value, s3_env, key)


@pytest.fixture
def iam_enforcing_server():
    """A second moto server that checks every request against its IAM (after 3 set-up calls)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def test_access_denied_and_unknown_keys_are_one_line_without_the_keys(iam_enforcing_server, monkeypatch):
    import boto3

    admin = dict(endpoint_url=iam_enforcing_server, region_name="us-east-1",
                 aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET)
    boto3.client("s3", **admin).create_bucket(Bucket="locked")
    boto3.client("iam", **admin).create_user(UserName="nobody")  # a user with no permissions
    key = boto3.client("iam", **admin).create_access_key(UserName="nobody")["AccessKey"]
    for name, value in {"AWS_ENDPOINT_URL_S3": iam_enforcing_server, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StorageError) as denied:
        S3Storage("s3://locked/ds").read_bytes("stats.json")
    text = assert_one_line_naming(denied.value, "s3://locked/ds/stats.json", "access denied")
    assert key["AccessKeyId"] not in text and key["SecretAccessKey"] not in text

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)  # unknown to this server's IAM
    with pytest.raises(StorageError) as unknown:
        S3Storage("s3://locked/ds").write_bytes("stats.json", b"{}")
    assert "does not know this access key" in assert_one_line_naming(unknown.value, "s3://locked/ds/stats.json")


def test_throttling_is_retried_by_botocore_with_backoff(s3_env, moto_server, monkeypatch):
    proxy = CutProxy(moto_server.port, throttle=2).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    try:
        S3Storage(f"s3://{s3_env}/t", settings=S3Settings(max_attempts=3)).write_bytes("a.json", b"{}")
        assert proxy.throttled == 2  # two 503 SlowDown answers, then the third attempt went through
        assert s3_client(moto_server.endpoint).get_object(Bucket=s3_env, Key="t/a.json")["Body"].read() == b"{}"

        proxy.throttle, proxy.throttled = 5, 0
        with pytest.raises(StorageError) as error:  # AWS_MAX_ATTEMPTS=2 from s3_env
            S3Storage(f"s3://{s3_env}/t").write_bytes("b.json", b"{}")
        assert proxy.throttled == 2
        assert "kept throttling" in assert_one_line_naming(error.value, f"s3://{s3_env}/t/b.json")
    finally:
        proxy.cut()


def test_profile_files_and_the_generic_endpoint_variable_are_honoured(s3_env, moto_server, tmp_path, monkeypatch):
    """Credentials and endpoint from a named profile in ~/.aws-style files, nothing in the env."""
    (tmp_path / "config").write_text(f"[profile ci]\nregion = us-east-1\nendpoint_url = {moto_server.endpoint}\n")
    (tmp_path / "credentials").write_text(
        f"[ci]\naws_access_key_id = {FAKE_KEY_ID}\naws_secret_access_key = {FAKE_SECRET}\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    S3Storage(f"s3://{s3_env}/p").write_bytes("from-profile.json", b"{}")

    monkeypatch.delenv("AWS_PROFILE")
    with pytest.raises(StorageError, match="no usable credentials"):
        S3Storage(f"s3://{s3_env}/p").exists("from-profile.json")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)  # the all-services variable
    assert S3Storage(f"s3://{s3_env}/p").list() == ["from-profile.json"]


def test_first_write_aborts_uploads_left_open_under_its_prefix_only(s3_env, moto_server):
    client = s3_client(moto_server.endpoint)
    for key in ("coll/data/part-00003.parquet", "coll2/data/part-00000.parquet"):
        upload = client.create_multipart_upload(Bucket=s3_env, Key=key)
        client.upload_part(Bucket=s3_env, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
    storage = S3Storage(f"s3://{s3_env}/coll")
    assert storage.incomplete_uploads() == ["data/part-00003.parquet"]
    storage.write_bytes("state/collect.json", b"{}")  # a different key: cleaned up all the same
    assert storage.incomplete_uploads() == []
    assert S3Storage(f"s3://{s3_env}/coll2").incomplete_uploads() == ["data/part-00000.parquet"]  # not ours


def test_an_unknown_profile_is_one_line(s3_env, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "typo")
    with pytest.raises(StorageError, match="^AWS profile 'typo' not found in the AWS config files$"):
        S3Storage(f"s3://{s3_env}/p")
