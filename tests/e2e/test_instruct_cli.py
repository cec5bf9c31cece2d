"""`dataset --task instruct` through the CLI: the loss is on completions and assistant turns only,
checked token by token on the rows written, packed and padded."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.instruct_fixtures import chat_rows, prompt_completion_rows, trained_texts, write_jsonl


def build(*args: str) -> str:
    done = CliRunner().invoke(cli, ["dataset", "--task", "instruct", "--vocab-size", "400", *args])
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize("pack", [True, False], ids=["packed", "padded"])
def test_prompt_completion_rows_train_only_the_completion_and_its_end_token(tmp_path, pack):
    rows = prompt_completion_rows(60)
    source = write_jsonl(tmp_path / "pc.jsonl", rows)
    out = tmp_path / "ds"
    build("--input", str(source), "--output", str(out), "--seq-len", "48", *([] if pack else ["--no-pack"]))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["packed"] is pack and stats["chat_template"] is None
    assert sum(stats["formats"][s].get("prompt_completion", 0) for s in stats["formats"]) == 60
    expected = Counter(r["completion"] + "<|endoftext|>" for r in rows)
    assert Counter(trained_texts(out)) == expected  # every completion, nothing of any prompt


@pytest.mark.parametrize("pack", [True, False], ids=["packed", "padded"])
def test_chat_rows_train_only_the_assistant_turns_and_their_end_token(tmp_path, pack):
    rows = chat_rows(60)
    source = write_jsonl(tmp_path / "chat.jsonl", rows)
    out = tmp_path / "ds"
    build("--input", str(source), "--output", str(out), "--seq-len", "128", "--chat-template", "chatml",
          *([] if pack else ["--no-pack"]))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["chat_template"] == {"source": "chatml", "end_of_turn": "<|im_end|>"}
    expected = Counter("".join(m["content"] + "<|im_end|>" for m in r["messages"] if m["role"] == "assistant")
                       for r in rows)
    texts = trained_texts(out)
    assert Counter(texts) == expected
    assert not any(word in text for text in texts for word in ("system", "user", "How do I", "Python code only"))
    # The template travels with the tokenizer, which train copies into the model it writes.
    saved = (out / "tokenizer" / "chat_template.jinja").read_text()
    assert "<|im_start|>" in saved and stats["eos_token_id"] != stats["pad_token_id"]
    tokenizer_config = json.loads((out / "tokenizer" / "tokenizer_config.json").read_text())
    assert tokenizer_config["eos_token"] == "<|im_end|>"
