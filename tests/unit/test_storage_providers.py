"""Provider presets turn a name and a few flags into endpoint options; pure code, no network."""
from __future__ import annotations

import hashlib

import pytest

from domain.errors import ConfigError
from infrastructure.storage.providers import S3Settings, parse_s3_uri, resolve
from infrastructure.storage.s3 import local_etag


@pytest.mark.parametrize("settings, endpoint, region", [
    (S3Settings(), None, None),  # boto3's chain: AWS_ENDPOINT_URL_S3, AWS_DEFAULT_REGION, profile
    (S3Settings("digitalocean", region="fra1"), "https://fra1.digitaloceanspaces.com", "fra1"),
    (S3Settings("digitalocean"), "https://nyc3.digitaloceanspaces.com", "nyc3"),
    (S3Settings("wasabi", region="eu-central-1"), "https://s3.eu-central-1.wasabisys.com", "eu-central-1"),
    (S3Settings("backblaze", region="us-west-004"), "https://s3.us-west-004.backblazeb2.com", "us-west-004"),
    (S3Settings("r2", account_id="abc123"), "https://abc123.r2.cloudflarestorage.com", "auto"),
    (S3Settings("minio", endpoint_url="http://10.0.0.5:9000"), "http://10.0.0.5:9000", "us-east-1"),
    (S3Settings("wasabi", endpoint_url="https://s3.example"), "https://s3.example", "us-east-1"),
])
def test_presets_resolve_endpoint_and_region(settings, endpoint, region):
    options = resolve(settings)
    assert (options.endpoint_url, options.region) == (endpoint, region)


def test_only_aws_gets_botocores_new_checksums_and_self_hosted_gets_path_style():
    assert resolve(S3Settings()).aws_checksums and not resolve(S3Settings("r2", account_id="a")).aws_checksums
    assert resolve(S3Settings("minio", endpoint_url="http://h:9000")).path_style
    assert not resolve(S3Settings("digitalocean")).path_style


def test_minio_without_endpoint_defers_to_the_environment():
    assert resolve(S3Settings("minio")).needs_endpoint


@pytest.mark.parametrize("settings, flag", [
    (S3Settings("backblaze"), "--s3-region (e.g. us-west-004)"),
    (S3Settings("r2"), "--s3-account-id"),
    (S3Settings("ceph"), "unknown"),
])
def test_missing_or_bad_settings_name_the_flag(settings, flag):
    with pytest.raises(ConfigError, match="s3-provider") as error:
        resolve(settings)
    assert flag in str(error.value)


def test_parse_s3_uri():
    assert parse_s3_uri("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    for bad in ("s3://ab/x", "s3:///x", "s3://bad_name!/x"):
        with pytest.raises(ConfigError, match="bucket name"):
            parse_s3_uri(bad)


def test_local_etag_is_md5_or_md5_of_part_md5s(tmp_path):
    data = bytes(range(256)) * 100  # 25,600 bytes
    path = tmp_path / "f"
    path.write_bytes(data)
    assert local_etag(path, len(data), multipart=False) == hashlib.md5(data).hexdigest()
    parts = [data[i:i + 10_000] for i in range(0, len(data), 10_000)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert local_etag(path, 10_000, multipart=True) == expected
    path.write_bytes(data[:20_000])  # an exact multiple of the part size: no empty last part
    assert local_etag(path, 10_000, multipart=True).endswith("-2")
