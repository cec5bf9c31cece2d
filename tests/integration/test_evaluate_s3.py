"""evaluate and report read a run that lives on S3 (moto server on 127.0.0.1) and write back to it."""
from __future__ import annotations

import json

import pytest

from application.artifacts import publish_tree
from application.runs.evaluate import DatasetEvalRequest
from presentation.container import Container
from tests.eval_fixtures import generation_dataset, run_folder, save_model, tiny_gpt2, tiny_tokenizer


@pytest.mark.s3
def test_evaluate_and_report_a_run_stored_on_s3(tmp_path, s3_env):
    tokenizer = tiny_tokenizer()
    model = save_model(tiny_gpt2(tokenizer), tokenizer, tmp_path / "model")
    dataset = generation_dataset(tmp_path / "dataset", tokenizer)
    local_run = run_folder(tmp_path / "run", final_source=model, dataset=dataset)
    container = Container()
    uri = f"s3://{s3_env}/runs/r1"
    remote = container.storage_for(uri)
    publish_tree(local_run, remote, marker="summary.json")

    result = container.evaluate_dataset(DatasetEvalRequest(), run=uri, output=f"{uri}/eval")
    assert json.loads(remote.read_bytes("eval/dataset-test.json"))["loss"] == result["loss"] > 0

    report = container.report(uri)
    assert report.uri == f"{uri}/report"
    keys = remote.list("report")
    assert {"report/report.md", "report/loss.png", "report/lr.png"} <= set(keys)
    md = remote.read_bytes("report/report.md").decode()
    assert f"**dataset-test**: loss {result['loss']:.4g}" in md and "checkpoints/step-" in md
