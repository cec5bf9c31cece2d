"""QLoRA: a 4-bit (bitsandbytes CPU path) tiny Llama base with LoRA adapters trains a few steps."""
from __future__ import annotations

import pytest

from tests.train_fixtures import build_generation_dataset, tiny_config

pytest.importorskip("bitsandbytes")


def test_qlora_4bit_base_with_lora_trains_and_exports_an_adapter(tmp_path):
    import bitsandbytes as bnb
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from infrastructure.training.models import build_model
    from infrastructure.training.loop import run_training

    dataset = build_generation_dataset(tmp_path / "ds", docs=60)
    tokenizer = AutoTokenizer.from_pretrained(str(dataset / "tokenizer"))
    base = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id))
    base.save_pretrained(str(tmp_path / "base"))
    tokenizer.save_pretrained(str(tmp_path / "base"))
    config = tiny_config(dataset, tmp_path / "run", model={"name_or_path": str(tmp_path / "base"), "load_in_4bit": True},
                         adapter={"type": "lora", "r": 4, "alpha": 8, "dropout": 0.0},
                         training={"max_steps": 3, "lr": 1e-2})

    model = build_model(config, tokenizer, [])
    quantised = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantised and quantised[0].weight.quant_state.quant_type == "nf4"
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)

    summary = run_training(config, dataset, tmp_path / "run", lambda _: None)
    assert summary["steps"] == 3 and summary["eval_loss_after"] < summary["eval_loss_before"]
    assert summary["parameters"]["trainable"] < summary["parameters"]["total"] / 5
    assert (tmp_path / "run" / "final" / "adapter_model.safetensors").exists()
