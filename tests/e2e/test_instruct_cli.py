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


def llama_base(folder, tokenizer_dir) -> None:
    """A tiny random Llama saved like a pretrained model, with the dataset's tokenizer as its own.

    Its weights are drawn 10x wider than Llama's default 0.02: LoRA leaves the output head frozen,
    and a head that small caps every logit near 0, so no adapter could make a prediction confident."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                         max_position_embeddings=128, vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id,
                         initializer_range=0.2)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


@pytest.mark.slow
def test_lora_on_a_tiny_llama_learns_the_chat_data_and_evaluate_scores_assistant_tokens_only(tmp_path):
    from tests.instruct_fixtures import write_train_config
    from tests.train_fixtures import read_metrics

    source = write_jsonl(tmp_path / "chat.jsonl", chat_rows(240))
    data = tmp_path / "ds"
    build("--input", str(source), "--output", str(data), "--seq-len", "128", "--chat-template", "chatml",
          "--split", "0.8,0.1,0.1")
    llama_base(tmp_path / "base", data / "tokenizer")
    config = write_train_config(
        tmp_path / "config.yaml", data, tmp_path / "run", model={"name_or_path": str(tmp_path / "base")},
        adapter={"type": "lora", "r": 8, "alpha": 16},
        training={"max_steps": 60, "micro_batch_size": 4, "lr": 3e-2, "warmup_steps": 4, "log_every_steps": 5},
        eval={"every_steps": 60, "max_batches": 4})
    trained = CliRunner().invoke(cli, ["train", "--config", str(config)])
    assert trained.exit_code == 0, trained.output
    losses = [m["loss"] for m in read_metrics(tmp_path / "run") if m.get("loss") is not None]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert sum(losses[-3:]) / 3 < 0.7 * losses[0] and summary["eval_loss_after"] < summary["eval_loss_before"]
    final = tmp_path / "run" / "final"
    assert (final / "adapter_config.json").is_file()
    assert (final / "chat_template.jinja").read_text() == (data / "tokenizer" / "chat_template.jinja").read_text()

    scored = CliRunner().invoke(cli, ["evaluate", "--run", str(tmp_path / "run"), "--split", "test"])
    assert scored.exit_code == 0, scored.output
    result = json.loads((tmp_path / "run" / "eval" / "dataset-test.json").read_text())
    stats = json.loads((data / "stats.json").read_text())
    assert result["tokens"] == stats["trained_tokens"]["test"] < stats["tokens"]["test"] / 3
    assert f"over {result['tokens']} tokens (completion and assistant tokens)" in scored.output
