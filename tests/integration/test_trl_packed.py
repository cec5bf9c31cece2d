"""Our packed instruct dataset trained with TRL's SFTTrainer, documents kept apart.

TRL's default collator adds an all-ones attention mask and drops `position_ids` (they are not among
its signature columns), so every document would attend to the ones packed before it. With
`SFTConfig(padding_free=True, max_length=None)` its collator instead rebuilds `position_ids` from
the `seq_lengths` column our packed rows carry, passes no attention mask, and masks each
document's first label: the loss TRL computes is then exactly ours."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from presentation.cli import cli
from tests.instruct_fixtures import chat_rows, write_jsonl


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("trl")
    source = write_jsonl(root / "chat.jsonl", chat_rows(80))
    done = CliRunner().invoke(cli, ["dataset", "--input", str(source), "--output", str(root / "ds"), "--task",
                                    "instruct", "--chat-template", "chatml", "--seq-len", "128", "--vocab-size", "400"])
    assert done.exit_code == 0, done.output
    return root / "ds"


def tiny_llama(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, use_cache=False,
                         initializer_range=0.5)  # wide weights: context visibly changes the predictions
    return LlamaForCausalLM(config)


def our_loss(model, rows) -> float:
    """Our training loss over `rows`: packed rows with position_ids and no attention mask."""
    import torch

    from infrastructure.training.data import torch_view
    from infrastructure.training.objective import summed_loss, target_weight

    batch = torch_view(rows)[:]
    with torch.no_grad():
        return (summed_loss(model, batch, True, False, "cpu")[0] / target_weight(batch, True, False)).item()


def trl_loss(trainer, rows) -> float:
    import torch

    batch = trainer.data_collator([rows[i] for i in range(len(rows))])
    with torch.no_grad():
        return trainer.compute_loss(trainer.model, batch).item()


@pytest.mark.slow
def test_sft_trainer_with_padding_free_keeps_our_documents_apart(packed, tmp_path):
    from datasets import load_from_disk
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(str(packed / "tokenizer"))
    train = load_from_disk(str(packed))["train"]
    rows = train.select(range(4))
    model = tiny_llama(tokenizer)
    common = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, max_steps=3, report_to="none",
                  logging_steps=1, save_strategy="no", use_cpu=True, dataset_num_proc=None)

    isolated = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=train,
                          args=SFTConfig(padding_free=True, max_length=None, **common))
    collated = isolated.data_collator([rows[i] for i in range(len(rows))])
    assert "attention_mask" not in collated
    assert collated["position_ids"][0].tolist() == [p for row in rows["position_ids"] for p in row]
    assert collated["labels"][0].tolist() == [t for row in rows["labels"] for t in row]
    mine = our_loss(isolated.model, rows)
    assert trl_loss(isolated, rows) == pytest.approx(mine, abs=1e-5)

    default = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=train,
                         args=SFTConfig(**common))
    leaky = default.data_collator([rows[i] for i in range(len(rows))])
    assert "position_ids" not in leaky and bool(leaky["attention_mask"].all())  # documents see each other
    assert abs(trl_loss(default, rows) - mine) > 1e-3

    result = isolated.train()
    assert result.global_step == 3
