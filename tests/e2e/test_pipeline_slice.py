"""collect -> dataset -> train through the real CLI on a generated git repository, ending with
transformers loading the saved model and tokenizer."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.conftest import SHAPES_MODULE, make_git_repo

DUPLICATE = "def twin():\n    return 'same'\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("src") / "shapes"
    files = {f"pkg/mod_{i}.py": SHAPES_MODULE.format(i=i) for i in range(40)}
    files["a/twin.py"] = DUPLICATE
    files["b/twin.py"] = DUPLICATE  # exact duplicate of a/twin.py
    files["README.md"] = "not code\n"
    commit = make_git_repo(root, files)
    return root, commit


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def collection(repo, tmp_path_factory):
    root, _ = repo
    out = tmp_path_factory.mktemp("collection")
    invoke("collect", str(root), "--output", str(out))
    return out


def test_collect_writes_units_with_commit_and_drops_exact_duplicates(repo, collection):
    _, commit = repo
    manifest = json.loads((collection / "manifest.json").read_text())
    assert manifest["sources"][0]["commit"] == commit
    rows = pq.read_table(collection / manifest["shards"][0]["path"]).to_pylist()
    required = {"id", "repo", "commit", "path", "language", "kind", "name", "start_line",
                "end_line", "content", "content_hash"}
    assert required <= set(rows[0])
    assert {r["commit"] for r in rows} == {commit}
    twins = [r for r in rows if r["path"].endswith("twin.py") and r["kind"] == "file"]
    assert len(twins) == 1  # the second copy was an exact duplicate
    mod3 = {(r["kind"], r["name"], r["start_line"]) for r in rows if r["path"] == "pkg/mod_3.py"}
    assert {("class", "Shape3", 4), ("method", "area", 10), ("function", "scale_3", 14),
            ("function", "fetch_3", 19)} <= mod3
    assert not any(r["path"] == "README.md" for r in rows)
    assert sum(s["rows"] for s in manifest["shards"]) == len(rows)


@pytest.mark.slow
def test_dataset_then_train_then_transformers_loads_the_model(collection, tmp_path):
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ds_dir, run_dir = tmp_path / "ds", tmp_path / "run"
    invoke("dataset", "--input", str(collection), "--output", str(ds_dir),
           "--seq-len", "64", "--vocab-size", "400")
    data = load_from_disk(str(ds_dir))
    assert {"train", "validation", "test"} <= set(data)
    assert len(data["train"]) > 10 and len(data["train"][0]["input_ids"]) == 64

    output = invoke(
        "train", "--config", "training_config.yaml",
        "--set", f"data.path={ds_dir}", "--set", f"output.dir={run_dir}",
        "--set", "model.architecture={type: gpt2, n_layer: 1, n_embd: 32, n_head: 2, max_position_embeddings: 64}",
        "--set", "training.max_steps=40", "--set", "training.micro_batch_size=4",
        "--set", "training.lr=0.005", "--set", "training.warmup_steps=4",
        "--set", "training.progress_bar=false",
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["eval_loss_after"] < summary["eval_loss_before"]
    assert "validation loss" in output

    model = AutoModelForCausalLM.from_pretrained(str(run_dir / "final"))
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "final"))
    ids = tokenizer("def scale_", return_tensors="pt")["input_ids"]
    generated = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] > ids.shape[1]

    # A local pretrained folder is a valid starting point: continue from the first run's model.
    second = tmp_path / "run2"
    invoke("train", "--config", "training_config.yaml", "--set", f"data.path={ds_dir}",
           "--set", f"output.dir={second}", "--set", f"model.name_or_path={run_dir / 'final'}",
           "--set", "training.max_steps=5", "--set", "training.micro_batch_size=4",
           "--set", "training.progress_bar=false")
    resumed = json.loads((second / "summary.json").read_text())
    # Starting from trained weights, the new run begins where the first one ended.
    assert resumed["eval_loss_before"] == pytest.approx(summary["eval_loss_after"], rel=1e-4)


def test_a_source_left_out_by_licence_is_named_with_its_reason(repo, tmp_path):
    root, _ = repo  # no LICENSE file: its licence is unknown
    output = invoke("collect", str(root), "--output", str(tmp_path / "c"), "--licenses", "mit", "--workers", "1")
    assert f"source skipped: {root} (licence unknown not in --licenses)" in output
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["counts"]["units"] == 0
