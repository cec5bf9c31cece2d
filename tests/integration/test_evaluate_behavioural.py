"""The trainer's periodic behavioural check: greedy pass@1 from a model in training mode."""
from __future__ import annotations

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
