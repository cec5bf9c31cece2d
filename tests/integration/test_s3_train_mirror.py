"""`train_model` with an s3:// output on moto's server: each checkpoint is in S3 as soon as the
trainer hands it over (record last), pruned ones disappear, a crash leaves checkpoints but no
summary, and `--resume latest` on a fresh machine starts from the checkpoint in S3.

The trainer is a fake that writes checkpoint folders the way infrastructure/training/checkpoints.py
does (files, then checkpoint.json, then rename); torch is not needed to test the storage side.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from application.train.config import TrainConfig
from application.train.pipeline import train_model
from infrastructure.storage.s3 import S3Storage
from tests.s3_server import s3_client

pytestmark = pytest.mark.s3


class Crash(Exception):
    pass


def save(run_dir: Path, step: int) -> Path:
    folder = run_dir / "checkpoints" / f"step-{step:06d}"
    tmp = folder.with_name(f".tmp-{folder.name}")
    tmp.mkdir(parents=True)
    (tmp / "model.safetensors").write_bytes(bytes([step]) * 5000)
    (tmp / "checkpoint.json").write_text(json.dumps({"step": step}))
    tmp.rename(folder)
    return folder


def fake_trainer(steps: range, crash_after: int | None, seen: list, keys_now):
    def run_training(config, dataset_dir, run_dir, log, *, resume=None, on_checkpoint=None, on_progress=None):
        if resume:
            seen.append(("resumed from", sorted(p.name for p in (run_dir / "checkpoints").iterdir())))
        for step in steps:
            folder = save(run_dir, step)
            for old in sorted((run_dir / "checkpoints").glob("step-*"))[:-1]:
                shutil.rmtree(old)  # keep only the latest, like keep_best with no metric
            on_checkpoint(folder)
            seen.append((step, keys_now()))
            if step == crash_after:
                raise Crash("the machine went away")
        summary = {"steps": steps[-1], "final": str(run_dir / "final")}
        (run_dir / "final").mkdir()
        (run_dir / "final" / "model.safetensors").write_bytes(b"final")
        (run_dir / "summary.json").write_text(json.dumps(summary))
        return summary
    return run_training


def test_checkpoints_follow_training_into_s3_and_resume_comes_back_from_there(s3_env, moto_server):
    bucket = s3_env
    dataset = S3Storage(f"s3://{bucket}/ds")
    dataset.write_bytes("stats.json", b'{"rows": {"train": 1}}')
    output = S3Storage(f"s3://{bucket}/run")
    config = TrainConfig()

    def keys_now() -> list[str]:
        pages = s3_client(moto_server.endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="run/")
        return sorted(o["Key"][4:] for page in pages for o in page.get("Contents", []) if "checkpoints/" in o["Key"])

    seen: list = []
    with pytest.raises(Crash):
        train_model(config, dataset=dataset, output=output, log=lambda line: None,
                    run_training=fake_trainer(range(1, 4), crash_after=2, seen=seen, keys_now=keys_now))
    assert seen == [  # in S3 the moment the trainer hands the checkpoint over; the pruned one gone
        (1, ["checkpoints/step-000001/checkpoint.json", "checkpoints/step-000001/model.safetensors"]),
        (2, ["checkpoints/step-000002/checkpoint.json", "checkpoints/step-000002/model.safetensors"]),
    ]
    assert not output.exists("summary.json")  # crashed: the run is not complete

    seen.clear()
    lines: list[str] = []
    result = train_model(config, dataset=dataset, output=output, log=lines.append, resume="latest",
                         run_training=fake_trainer(range(3, 5), crash_after=None, seen=seen, keys_now=keys_now))
    assert seen[0] == ("resumed from", ["step-000002"])  # fetched from S3: nothing local survived
    assert lines == [f"fetched 1 checkpoint(s) from s3://{bucket}/run/checkpoints to resume"]
    assert keys_now() == ["checkpoints/step-000004/checkpoint.json", "checkpoints/step-000004/model.safetensors"]
    assert result.summary["final"] == f"s3://{bucket}/run/final"
    assert json.loads(output.read_bytes("summary.json"))["final"] == f"s3://{bucket}/run/final"
    assert output.read_bytes("final/model.safetensors") == b"final"
