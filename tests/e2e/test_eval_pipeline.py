"""The real `train` verb on a tiny LoRA config, then `evaluate`, `export` and `report` on its run.

One pass through the CLI as a user would type it: a tiny GPT-2 base saved to disk, LoRA
fine-tuning with the trainer, perplexity and sandboxed pass@k of the adapter, a merged export
checked for parity and loaded back, and a report whose curves are the run's metrics.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from infrastructure.plots import drawn_series
from presentation.cli import cli
from tests.eval_fixtures import generation_dataset, save_model, tiny_gpt2, tiny_tokenizer

TOY_BENCH = [
    {"task_id": "toy/comment", "prompt": "def inc(x):\n    return x + 1\n# ", "entry_point": "inc",
     "test": "def check(f):\n    assert f(1) == 2\n"},
    {"task_id": "toy/wrong", "prompt": "def dec(x):\n    return x + 1\n# ", "entry_point": "dec",
     "test": "def check(f):\n    assert f(1) == 0\n"},
]


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.mark.slow
def test_train_then_evaluate_export_report(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = tiny_tokenizer()
    base = save_model(tiny_gpt2(tokenizer), tokenizer, tmp_path / "base")
    dataset = generation_dataset(tmp_path / "dataset", tokenizer)
    run = tmp_path / "run"
    invoke("train", "--config", "training_config.yaml", "--set", f"model.name_or_path={base}",
           "--set", "adapter.type=lora", "--set", "adapter.r=4", "--set", f"data.path={dataset}",
           "--set", f"output.dir={run}", "--set", "training.max_steps=6", "--set", "training.micro_batch_size=4",
           "--set", "training.warmup_steps=1", "--set", "training.lr=1e-2", "--set", "training.log_every_steps=1",
           "--set", "training.progress_bar=false", "--set", "eval.every_steps=2", "--set", "eval.max_batches=2",
           "--set", "checkpoints.every_steps=2")
    assert (run / "final" / "adapter_config.json").exists()

    out = invoke("evaluate", "--run", run)
    perplexity = json.loads((run / "eval" / "dataset-test.json").read_text())
    assert f"perplexity {perplexity['perplexity']:.2f}" in out and perplexity["tokens"] > 0
    # Our scorer and the trainer's evaluation are separate code: on the batches the trainer
    # scored (validation, 2 batches of 4) they must agree on the final model.
    invoke("evaluate", "--run", run, "--split", "validation", "--max-batches", 2, "--batch-size", 4)
    validation = json.loads((run / "eval" / "dataset-validation.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert validation["loss"] == pytest.approx(summary["eval_loss_after"], abs=1e-5)

    bench = tmp_path / "toy.jsonl"
    bench.write_text("".join(json.dumps(p) + "\n" for p in TOY_BENCH))
    out = invoke("evaluate", "--run", run, "--benchmark", bench, "--n", 2, "--k", 1, "--k", 2,
                 "--temperature", 0.8, "--max-new-tokens", 8, "--stop", "\n")
    assert "pass@1 0.5000, pass@2 0.5000" in out  # the comment problem always passes, the other never

    merged = tmp_path / "merged"
    out = invoke("export", "--run", run, "--output", merged, "--merge")
    assert "merged float32 causal-lm model" in out and "parity: max |logit difference|" in out
    model = AutoModelForCausalLM.from_pretrained(str(merged)).eval()
    ids = AutoTokenizer.from_pretrained(str(merged))("def add_1(a, b):", return_tensors="pt")["input_ids"]
    assert model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=4,
                          do_sample=False).shape[1] == ids.shape[1] + 4

    out = invoke("report", "--run", run)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    eval_rows = [r for r in rows if "eval_loss" in r]
    assert len(train_rows) == 6 and len(eval_rows) >= 3
    series = drawn_series((run / "report" / "loss.png").read_bytes())
    assert series["loss"] == [[float(r["step"]) for r in train_rows], [r["loss"] for r in train_rows]]
    assert series["eval_loss"] == [[float(r["step"]) for r in eval_rows], [r["eval_loss"] for r in eval_rows]]
    md = (run / "report" / "report.md").read_text()
    assert "**toy**: pass@1 0.5" in md and "**dataset-test**: loss" in md
    assert f"dataset: `{dataset}`" in md and "Best checkpoint" in md
