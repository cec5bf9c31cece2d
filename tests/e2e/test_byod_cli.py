"""Bring your own data through the CLI: JSONL / JSON / Parquet files, a saved DatasetDict, a weighted
mix with a collection, a hub name offline, and one-line errors for malformed rows. Every dataset
built here is trained on by `train`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.instruct_fixtures import alpaca_rows, prompt_completion_rows, write_jsonl, write_train_config
from tests.train_fixtures import collect_snippets, read_metrics, snippets

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def build(*args: str) -> dict:
    done = invoke("dataset", "--vocab-size", "400", "--seq-len", "64", *args)
    assert done.exit_code == 0, done.output
    out = Path(args[args.index("--output") + 1])
    return json.loads((out / "stats.json").read_text())


def train_on(dataset: Path, tmp_path: Path, seq_len: int = 64) -> list[dict]:
    architecture = {"type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "max_position_embeddings": seq_len}
    config = write_train_config(tmp_path / "config.yaml", dataset, tmp_path / "run",
                                model={"architecture": architecture},
                                training={"max_steps": 3, "micro_batch_size": 2, "log_every_steps": 1})
    done = invoke("train", "--config", str(config))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "run" / "final" / "tokenizer.json").is_file()
    return read_metrics(tmp_path / "run")


def test_weighted_mix_of_a_jsonl_file_and_a_collection_then_train(tmp_path):
    collection = collect_snippets(tmp_path / "c", per_language=30)  # 90 files, one repository
    texts = write_jsonl(tmp_path / "notes.jsonl", [{"text": s} for s in snippets("python", 60, offset=100)])
    stats = build("--input", f"{texts}:0.3", "--input", f"{collection}:0.7", "--output", str(tmp_path / "ds"),
                  "--near-dup-threshold", "0")
    first, second = stats["inputs"]
    assert (first["kind"], first["weight"], second["kind"], second["weight"]) == ("files", 0.3, "collection", 0.7)
    assert first["train_share"] == pytest.approx(0.3, abs=0.01) and second["train_share"] == pytest.approx(0.7, abs=0.01)
    assert first["units"]["train"] + first["units"]["validation"] + first["units"]["test"] == 60
    assert sum(stats["units"].values()) - stats["units"]["train"] + first["train_units_mixed"] + \
        second["train_units_mixed"] == sum(stats["units"].values())  # mixing keeps the training size
    assert [s.get("kind") for s in stats["collection"]["sources"]] == ["files", None]
    assert any(m.get("loss") for m in train_on(tmp_path / "ds", tmp_path))


def test_alpaca_json_array_becomes_an_instruct_dataset_then_train(tmp_path):
    source = tmp_path / "alpaca.json"
    source.write_text(json.dumps(alpaca_rows(40), indent=2))
    stats = build("--input", str(source), "--output", str(tmp_path / "ds"), "--task", "instruct", "--seq-len", "160")
    assert sum(f.get("alpaca", 0) for f in stats["formats"].values()) == 40
    assert stats["trained_tokens"]["train"] > 0 and stats["chat_template"] is None  # Alpaca's own prompt
    assert sum(stats["dropped_documents"].values()) == 0
    assert train_on(tmp_path / "ds", tmp_path, seq_len=160)


def test_saved_dataset_dict_of_text_then_train(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_dict({"text": snippets("go", 40)}),
                 "test": Dataset.from_dict({"text": snippets("javascript", 10)})}).save_to_disk(str(tmp_path / "hf"))
    # The snippets are near-copies of each other: near-dup handling would empty validation.
    stats = build("--input", str(tmp_path / "hf"), "--output", str(tmp_path / "ds"), "--near-dup-threshold", "0")
    assert stats["inputs"][0]["kind"] == "saved-dataset"
    assert stats["inputs"][0]["units"]["validation"] > 0  # lent by train: the given dict has no validation
    assert stats["inputs"][0]["units"]["test"] + stats["removed"]["near_duplicates_of_train"]["test"] == 10
    assert stats["inputs"][0]["units"]["train"] + stats["inputs"][0]["units"]["validation"] == 40
    assert stats["grouping"].endswith("(rows of split datasets kept in their splits)")
    assert stats["units_by_language"]["train"] == {"text": stats["units"]["train"]}
    assert train_on(tmp_path / "ds", tmp_path)


def test_parquet_file_of_prompt_completion_rows_then_train(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = prompt_completion_rows(50)
    pq.write_table(pa.Table.from_pylist([{"question": r["prompt"], "answer": r["completion"]} for r in rows]),
                   tmp_path / "qa.parquet")
    stats = build("--input", str(tmp_path / "qa.parquet"), "--output", str(tmp_path / "ds"), "--task", "instruct",
                  "--column", "prompt=question", "--column", "completion=answer")
    assert sum(f.get("prompt_completion", 0) for f in stats["formats"].values()) == 50
    assert train_on(tmp_path / "ds", tmp_path)


def test_a_hub_name_offline_fails_in_one_line_naming_hf_hub_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # this machine has no hub: the real load_dataset is called
    done = invoke("dataset", "--input", "someone/code-instructions", "--output", str(tmp_path / "ds"))
    assert done.exit_code == 1 and "Traceback" not in done.output
    line, = done.output.strip().splitlines()
    assert line.startswith("Error: someone/code-instructions: not a local file or folder")
    assert "HF_HUB_OFFLINE=1" in line and "datasets cache" in line
    assert not (tmp_path / "ds").exists()


MALFORMED = {
    "missing completion": ("pc.jsonl", ['{"prompt": "a", "completion": "b"}', '{"prompt": "only a prompt"}'],
                           ["--task", "instruct"], "pc.jsonl:2: 'prompt' without 'completion'"),
    "empty completion": ("pc.jsonl", ['{"prompt": "a", "completion": ""}'], ["--task", "instruct"],
                         "pc.jsonl:1: missing or empty 'completion'"),
    "unknown role": ("chat.jsonl", ['{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]}'],
                     ["--task", "instruct", "--chat-template", "chatml"],
                     "chat.jsonl:1: message 2 has unknown role 'bot' (use system, user, assistant)"),
    "empty conversation": ("chat.jsonl", ['{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
                                          '', '{"messages": []}'],
                           ["--task", "instruct", "--chat-template", "chatml"], "chat.jsonl:3: empty conversation"),
    "not JSON": ("pc.jsonl", ['{"prompt": "a", "completion": "b"}', '{"prompt": "a", "completion": b}'],
                 ["--task", "instruct"], "pc.jsonl:2: not JSON (Expecting value)"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_rows_fail_in_one_line_naming_file_and_line_and_publish_nothing(tmp_path, case):
    name, lines, options, message = MALFORMED[case]
    source = tmp_path / name
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "ds"
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "dataset", "--input", str(source),
                           "--output", str(out), *options], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    line, = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"Error: {source.parent}/{message}")
    assert not (out / "stats.json").exists() and not out.exists()
