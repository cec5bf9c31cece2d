"""The trainer's periodic behavioural check: greedy pass@1 from a model in training mode."""
from __future__ import annotations

import json

from infrastructure.evaluation.behavioural import pass_at_1
from tests.eval_fixtures import tiny_gpt2, tiny_tokenizer

PROBLEMS = [  # the first passes whatever one-line completion follows "# ", the second never can
    {"task_id": "toy/comment", "prompt": "def inc(x):\n    return x + 1\n# ", "entry_point": "inc",
     "test": "def check(f):\n    assert f(1) == 2\n"},
    {"task_id": "toy/wrong", "prompt": "def dec(x):\n    return x + 1\n# ", "entry_point": "dec",
     "test": "def check(f):\n    assert f(1) == 0\n"},
]


def test_pass_at_1_scores_greedy_completions_and_restores_training_mode():
    tokenizer = tiny_tokenizer()
    model = tiny_gpt2(tokenizer).train()
    result = pass_at_1(model, tokenizer, PROBLEMS, max_new_tokens=6, stops=("\n",))
    assert result == {"pass@1": 0.5, "problems": 2}
    assert model.training
    model.eval()
    pass_at_1(model, tokenizer, PROBLEMS[:1], max_new_tokens=2, stops=("\n",))
    assert not model.training


TOY_JSONL = "".join(json.dumps(p) + "\n" for p in PROBLEMS)


def test_training_logs_pass_at_1_every_n_steps(tmp_path):
    from application.train.config import load_train_config
    from presentation.container import Container
    from tests.eval_fixtures import generation_dataset

    tokenizer = tiny_tokenizer()
    dataset = generation_dataset(tmp_path / "dataset", tokenizer)
    bench = tmp_path / "toy.jsonl"
    bench.write_text(TOY_JSONL)
    run = tmp_path / "run"
    # One new token cannot hold a newline *and* code (byte-level BPE splits them), so the
    # "comment" problem always passes and the "wrong" one never: pass@1 is exactly 0.5.
    config = load_train_config(None, [
        "model.architecture.n_layer=1", "model.architecture.n_embd=32", "model.architecture.n_head=2",
        "model.architecture.max_position_embeddings=64", f"data.path={dataset}", f"output.dir={run}",
        "training.max_steps=4", "training.micro_batch_size=4", "training.progress_bar=false",
        "eval.max_batches=1", "eval.behavioural_every_steps=2", f"eval.behavioural_benchmark={bench}",
        "eval.behavioural_max_new_tokens=1"])
    logs = []
    Container().train(config, log=logs.append)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["eval_pass@1"]) for r in rows if "eval_pass@1" in r] == [(2, 0.5), (4, 0.5)]
    assert any("pass@1 0.500 on 2 problems at step 4" in line for line in logs)
