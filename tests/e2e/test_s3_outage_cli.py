"""The S3 endpoint drops out while the CLI publishes: `collect` loses it just as the manifest
goes up, `dataset` half-way through its files. Each run fails with one line naming bucket and
key (exit 1, no traceback), publishes no marker, and the next verb refuses the prefix. Once the
endpoint is back, rerunning the same command completes with exactly the objects of an
uninterrupted run: nothing duplicated, nothing stray, no multipart upload left open.

The outage is a proxy on the endpoint's port that resets every connection and then refuses new
ones, while moto's in-memory state survives behind it (killing moto would wipe that state and
with it what the test must inspect; tests/integration/test_s3_outage.py kills the real process).
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.conftest import make_git_repo
from tests.s3_server import FAKE_KEY_ID, FAKE_SECRET, CutProxy, s3_client

pytestmark = pytest.mark.s3


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"][len(prefix):] for page in pages for o in page.get("Contents", []))


def open_uploads(endpoint: str, bucket: str) -> list:
    return s3_client(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def assert_one_line_error(result, *parts: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert result.output.rstrip().endswith(errors[0])  # progress lines may come before it
    for part in parts:
        assert part in errors[0], (part, errors[0])
    assert FAKE_KEY_ID not in result.output and FAKE_SECRET not in result.output


def test_outage_while_collect_and_dataset_publish_then_rerun(s3_env, moto_server, tmp_path, monkeypatch):
    bucket, direct = s3_env, moto_server.endpoint
    repo = tmp_path / "repo"
    make_git_repo(repo, {f"m{i}.py": f"def f{i}(x):\n    return x * {i} + {i}\n" * 3 for i in range(40)})
    proxy = CutProxy(moto_server.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)

    # Reference: the same commands with no outage.
    proxy.start()
    assert invoke("collect", str(repo), "-o", f"s3://{bucket}/ref-coll").exit_code == 0
    assert invoke("dataset", "-i", f"s3://{bucket}/ref-coll", "-o", f"s3://{bucket}/ref-ds",
                  "--seq-len", "64", "--vocab-size", "300").exit_code == 0
    proxy.cut()

    # collect: the link dies just as the manifest is sent.
    proxy.start(cut_on=f"PUT /{bucket}/coll/manifest.json".encode())
    failed = invoke("collect", str(repo), "-o", f"s3://{bucket}/coll")
    assert proxy.was_cut.is_set()
    assert_one_line_error(failed, f"s3://{bucket}/coll/manifest.json", "cannot reach")
    assert "manifest.json" not in keys(direct, bucket, "coll/")
    proxy.start()
    refused = invoke("dataset", "-i", f"s3://{bucket}/coll", "-o", f"s3://{bucket}/ds")
    assert_one_line_error(refused, f"s3://{bucket}/coll", "not a complete collection")
    assert invoke("collect", str(repo), "-o", f"s3://{bucket}/coll").exit_code == 0
    assert keys(direct, bucket, "coll/") == keys(direct, bucket, "ref-coll/")
    proxy.cut()

    # dataset: the link dies half-way through the dataset's files (validation/ sorts last).
    proxy.start(cut_on=f"PUT /{bucket}/ds/validation/".encode())
    failed = invoke("dataset", "-i", f"s3://{bucket}/coll", "-o", f"s3://{bucket}/ds",
                    "--seq-len", "64", "--vocab-size", "300")
    assert proxy.was_cut.is_set()
    assert_one_line_error(failed, f"s3://{bucket}/ds/validation/", "cannot reach")
    partial = keys(direct, bucket, "ds/")
    assert partial and "stats.json" not in partial  # data went up, the marker did not
    proxy.start()
    refused = invoke("train", "--set", f"data.path=s3://{bucket}/ds", "--set", f"output.dir={tmp_path / 'run'}")
    assert_one_line_error(refused, f"s3://{bucket}/ds", "not a complete dataset")
    assert invoke("dataset", "-i", f"s3://{bucket}/coll", "-o", f"s3://{bucket}/ds",
                  "--seq-len", "64", "--vocab-size", "300").exit_code == 0
    assert keys(direct, bucket, "ds/") == keys(direct, bucket, "ref-ds/")
    assert open_uploads(direct, bucket) == []
    proxy.cut()
