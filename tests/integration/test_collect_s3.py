"""collect into S3 (moto's server on 127.0.0.1): shards, resume state and manifest all go through
the Storage port, so an interrupted run resumes from what S3 holds."""
from __future__ import annotations

import io
import json

import boto3
import pyarrow.parquet as pq
import pytest

from application.collect.pipeline import CollectRequest
from presentation.container import Container
from tests import collect_fixtures as fx

pytestmark = pytest.mark.s3


class Interrupt(Exception):
    pass


def rows_in_s3(bucket: str, prefix: str) -> tuple[dict, list[dict], list[str]]:
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/manifest.json")["Body"].read())
    rows = []
    for shard in manifest["shards"]:
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}/{shard['path']}")["Body"].read()
        rows += pq.read_table(io.BytesIO(body)).to_pylist()
    return manifest, rows, keys


def test_interrupted_collect_resumes_from_s3(s3_env, tmp_path):
    bucket = s3_env
    root, _ = fx.make_hazard_repo(tmp_path)

    def request(prefix):
        return CollectRequest(sources=(str(root),), output=f"s3://{bucket}/{prefix}", workers=1, shard_rows=4)

    Container().collect(request("reference"))

    def stop_midway(done, total):
        if done == total // 2:
            raise Interrupt
    with pytest.raises(Interrupt):
        Container().collect(request("resumed"), progress=stop_midway)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="resumed")["Contents"]]
    assert "resumed/state/collect.json" in keys and "resumed/manifest.json" not in keys

    messages = []
    Container().collect(request("resumed"), log=messages.append)
    assert any(m.startswith("resuming:") for m in messages)
    want_manifest, want, _ = rows_in_s3(bucket, "reference")
    got_manifest, got, keys = rows_in_s3(bucket, "resumed")
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in want) and len(got) == len(want)
    assert got_manifest["counts"] == want_manifest["counts"]
    assert not [k for k in keys if "/state/" in k]  # resume state cleared after the manifest
