"""collect -> dataset -> train -> train --resume, every input and output an s3:// URI on moto's
S3 server at 127.0.0.1, through the real CLI. Credentials come from boto3's chain (fake keys in
the environment) and must appear nowhere: not in the output, not in any object, not in errors."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.conftest import SHAPES_MODULE, make_git_repo
from tests.s3_server import FAKE_KEY_ID, FAKE_SECRET, s3_client

pytestmark = pytest.mark.s3

TINY = ["--set", "model.architecture={type: gpt2, n_layer: 1, n_embd: 32, n_head: 2, max_position_embeddings: 64}",
        "--set", "training.micro_batch_size=2", "--set", "training.progress_bar=false",
        "--set", "training.warmup_steps=1", "--set", "checkpoints.every_steps=1",
        "--set", "checkpoints.keep_best=1", "--set", "eval.max_batches=2"]


def invoke(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def objects(endpoint: str, bucket: str, prefix: str) -> list[str]:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"][len(prefix):] for page in pages for o in page.get("Contents", []))


def checkpoint_folders(keys: list[str]) -> set[str]:
    return {k.split("/")[1] for k in keys if k.startswith("checkpoints/")}


def test_collect_dataset_train_and_resume_through_s3(s3_env, moto_server, tmp_path, monkeypatch):
    bucket, endpoint = s3_env, moto_server.endpoint
    repo = tmp_path / "shapes"
    make_git_repo(repo, {f"pkg/mod_{i}.py": SHAPES_MODULE.format(i=i) for i in range(30)})
    outputs = []

    # collect with the provider flags (no endpoint in the environment) ...
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    outputs.append(invoke("--s3-provider", "minio", "--s3-endpoint-url", endpoint,
                          "collect", str(repo), "--output", f"s3://{bucket}/coll").output)
    # ... the rest with boto3's own AWS_ENDPOINT_URL_S3, as a user of any S3 tool would
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    collection = objects(endpoint, bucket, "coll/")
    assert "manifest.json" in collection and any(k.startswith("data/part-") for k in collection)

    outputs.append(invoke("dataset", "--input", f"s3://{bucket}/coll", "--output", f"s3://{bucket}/ds",
                          "--seq-len", "64", "--vocab-size", "300").output)
    assert "stats.json" in objects(endpoint, bucket, "ds/")

    run = f"s3://{bucket}/run"
    common = ["train", "--set", f"data.path=s3://{bucket}/ds", "--set", f"output.dir={run}", *TINY]
    outputs.append(invoke(*common, "--set", "training.max_steps=4").output)
    first = objects(endpoint, bucket, "run/")
    summary = json.loads(s3_client(endpoint).get_object(Bucket=bucket, Key="run/summary.json")["Body"].read())
    assert summary["steps"] == 4 and summary["final"] == f"{run}/final"
    # Four checkpoints went up as they were saved; keep_best=1 keeps the best and the latest,
    # so at least two were pruned locally and must be gone from S3 as well.
    kept = checkpoint_folders(first)
    assert "step-000004" in kept and len(kept) <= 2
    assert all(f"checkpoints/{name}/checkpoint.json" in first for name in kept)
    assert "final/config.json" in first

    # A new machine: nothing local survives; --resume latest continues from the S3 checkpoint.
    resumed = invoke(*common, "--set", "training.max_steps=6", "--resume", "latest").output
    outputs.append(resumed)
    assert f"from {run}/checkpoints to resume" in resumed
    assert "resuming from" in resumed and "step-000004" in resumed
    summary = json.loads(s3_client(endpoint).get_object(Bucket=bucket, Key="run/summary.json")["Body"].read())
    assert summary["steps"] == 6
    second = objects(endpoint, bucket, "run/")
    kept = checkpoint_folders(second)
    assert "step-000006" in kept and len(kept) <= 2  # pruning reaches the checkpoints fetched from S3

    # Readers refuse incomplete prefixes, in one line naming bucket and prefix.
    s3_client(endpoint).delete_object(Bucket=bucket, Key="ds/stats.json")
    refused = invoke(*common, "--set", "training.max_steps=1", ok=False)
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert f"s3://{bucket}/ds: not a complete dataset (no stats.json" in refused.output
    outputs.append(refused.output)
    missing = invoke("dataset", "--input", "s3://no-such-bucket/coll", "--output", str(tmp_path / "d"), ok=False)
    assert "no-such-bucket" in missing.output and missing.exit_code != 0
    outputs.append(missing.output)

    # The credentials are nowhere: CLI output, errors, manifests, stats, run files.
    client = s3_client(endpoint)
    texts = outputs + [client.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8", "replace")
                       for k in objects(endpoint, bucket, "")]
    for text in texts:
        assert FAKE_KEY_ID not in text and FAKE_SECRET not in text
