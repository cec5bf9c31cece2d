"""Issue 11, item 1: a bucket is input like any other. Keys planted under a collection prefix on
moto's S3 server (127.0.0.1) must not place a file outside `dataset`'s local working folder."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.s3_server import s3_client

pytestmark = pytest.mark.s3


@pytest.mark.parametrize("planted", ["coll//{outside}/pwned", "coll/./{outside}/pwned",
                                     "coll/sub/../../{outside}/pwned"])
def test_planted_key_creates_no_file_outside_the_output(s3_env, moto_server, tmp_path, planted):
    outside = tmp_path / f"outside-{uuid.uuid4().hex[:8]}"  # an absolute path: /tmp/.../outside-x
    key = planted.format(outside=str(outside).lstrip("/"))
    client = s3_client(moto_server.endpoint)
    client.put_object(Bucket=s3_env, Key="coll/manifest.json", Body=json.dumps({"shards": []}).encode())
    client.put_object(Bucket=s3_env, Key=key, Body=b"owned\n")
    # Its twin without the empty segment: a client that strips slashes downloads this one.
    client.put_object(Bucket=s3_env, Key=f"coll/{str(outside).lstrip('/')}/pwned", Body=b"owned\n")
    assert key in [o["Key"] for o in client.list_objects_v2(Bucket=s3_env)["Contents"]]  # moto kept it as is

    result = CliRunner().invoke(cli, ["dataset", "--input", f"s3://{s3_env}/coll",
                                      "--output", str(tmp_path / "ds")])

    assert result.exit_code == 1, result.output
    assert not (outside / "pwned").exists() and not outside.exists()
    assert not list(Path("/").glob(f"{str(outside).lstrip('/')}*"))
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: ") and "refusing object key" in line and key.removeprefix("coll/") in line, line
