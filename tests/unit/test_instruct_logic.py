"""Pure pieces of bring-your-own-data and instruction tuning: `--input` weights, mixing, best-fit
packing, chat segmentation and code pairs."""
from __future__ import annotations

import pytest

from application.dataset.instruct import ChatFormat, chat_segments
from application.dataset.packing import best_fit, pack_masked
from application.dataset.pairs import code_pair
from application.dataset.sources import DatasetInput, InputSpec, check_weights, mix_train, parse_input
from domain.errors import DatasetError


@pytest.mark.parametrize("text, spec", [
    ("data/a.jsonl:0.3", InputSpec("data/a.jsonl", 0.3)),
    ("s3://bucket/coll", InputSpec("s3://bucket/coll")),
    ("s3://bucket/coll:2", InputSpec("s3://bucket/coll", 2.0)),
    ("someone/data:.5", InputSpec("someone/data", 0.5)),
    ("data/a.jsonl", InputSpec("data/a.jsonl")),
])
def test_a_weight_is_a_trailing_number(text, spec):
    assert parse_input(text) == spec


def test_weights_are_all_or_nothing_and_positive():
    with pytest.raises(DatasetError, match="a.jsonl:0: a weight must be above 0"):
        parse_input("a.jsonl:0")
    with pytest.raises(DatasetError, match=r"--input b.jsonl: give every --input a weight"):
        check_weights([InputSpec("a.jsonl", 0.3), InputSpec("b.jsonl")])


def test_mixing_gives_each_input_its_share_of_the_same_total():
    train = [{"source": 0, "n": i} for i in range(90)] + [{"source": 1, "n": i} for i in range(10)]
    inputs = [DatasetInput("a", 0.5), DatasetInput("b", 0.5)]
    mixed = mix_train(train, inputs, seed=1)
    assert len(mixed) == 100
    assert sum(u["source"] == 1 for u in mixed) == 50  # 10 units: 5 whole copies
    assert len({u["n"] for u in mixed if u["source"] == 0}) == 50  # 90 units: 50 distinct ones
    assert mix_train(train, [DatasetInput("a"), DatasetInput("b")], seed=1) is train


def test_best_fit_fills_rows_without_splitting_documents():
    lengths = [7, 5, 4, 3, 3, 2, 1]
    bins = best_fit(lengths, 8)
    assert sorted(i for b in bins for i in b) == list(range(7))
    assert all(sum(lengths[i] for i in b) <= 8 for b in bins) and len(bins) == 4  # 25 tokens in 4 rows of 8
    layout = pack_masked([([1, 2, 3], [False, True, True]), ([4, 5], [False, True])], 8, 0)
    assert layout.columns["position_ids"] == [0, 1, 2, 0, 1, 0, 1, 2]
    assert layout.columns["labels"] == [-100, 2, 3, -100, 5, -100, -100, -100]
    assert layout.segments == [[3, 2, 3]]


def chatml(messages, add_generation_prompt):
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def test_chat_segments_train_assistant_turns_and_their_end_token():
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    segments = chat_segments(messages, ChatFormat(chatml, ("<|im_start|>", "<|im_end|>")))
    assert [text for text, trained in segments if trained] == ["hello<|im_end|>"]
    assert "".join(text for text, _ in segments) == chatml(messages, False)


def test_a_template_that_renders_history_differently_is_refused():
    def forgetful(messages, add_generation_prompt):  # drops earlier turns, as some reasoning templates do
        return chatml(messages[-1:], add_generation_prompt)

    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"},
                {"role": "user", "content": "more"}, {"role": "assistant", "content": "b"}]
    with pytest.raises(DatasetError, match="renders a conversation's start differently"):
        chat_segments(messages, ChatFormat(forgetful, ("<|im_end|>",)), "x.jsonl:4")


def test_code_pairs_cut_signature_and_docstring_from_the_body():
    python = {"kind": "function", "language": "python", "docstring": "Add.",
              "content": 'def add(a, b):\n    """Add."""\n    return a + b'}
    assert code_pair(python)[0] == {"format": "prompt_completion", "prompt": 'def add(a, b):\n    """Add."""\n',
                                    "completion": "    return a + b"}
    go = {"kind": "function", "language": "go", "docstring": "Add adds.", "content": "func Add(a, b int) int {\n\treturn a + b\n}"}
    assert code_pair(go)[0]["prompt"] == "// Add adds.\nfunc Add(a, b int) int {\n"
    assert code_pair({**go, "docstring": None}) == (None, "no_docstring")
    commit = {"kind": "commit", "language": "go", "docstring": "Fix add", "content": "diff --git a/x b/x\n+x"}
    assert code_pair(commit)[0] == {"format": "prompt_completion", "prompt": "Fix add\n\n", "completion": commit["content"]}
