"""QLoRA: a 4-bit (bitsandbytes CPU path) tiny base with LoRA adapters trains, on every base family
we support: GPT-2 (Conv1D layers with biases), Llama and Qwen2 (biased q/k/v projections)."""
from __future__ import annotations

import pytest

from tests.train_fixtures import build_generation_dataset, tiny_config

pytest.importorskip("bitsandbytes")


def tiny_base(family: str, tokenizer):
    """A 1-layer pretrained-style base of `family`, built from a config (no hub here)."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
               bos_token_id=tokenizer.bos_token_id)
    if family == "gpt2":
        return GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=64, n_head=2, n_positions=64, **ids))
    shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
                 num_key_value_heads=2, max_position_embeddings=64, **ids)
    return LlamaForCausalLM(LlamaConfig(**shape)) if family == "llama" else Qwen2ForCausalLM(Qwen2Config(**shape))


@pytest.mark.parametrize("family,bits", [("gpt2", 4), ("llama", 4), ("qwen2", 4), ("gpt2", 8)])
def test_qlora_base_with_lora_trains_and_exports_an_adapter(tmp_path, family, bits):
    import bitsandbytes as bnb
    import torch
    from transformers import AutoTokenizer

    from infrastructure.training.models import build_model
    from infrastructure.training.loop import run_training

    dataset = build_generation_dataset(tmp_path / "ds", docs=60)
    tokenizer = AutoTokenizer.from_pretrained(str(dataset / "tokenizer"))
    base = tiny_base(family, tokenizer)
    base.save_pretrained(str(tmp_path / "base"))
    tokenizer.save_pretrained(str(tmp_path / "base"))
    config = tiny_config(dataset, tmp_path / "run", model={"name_or_path": str(tmp_path / "base"), f"load_in_{bits}bit": True},
                         adapter={"type": "lora", "r": 4, "alpha": 8, "dropout": 0.0},
                         training={"max_steps": 6, "lr": 1e-2, "log_every_steps": 1},
                         eval={"max_batches": 4, "every_steps": 3})

    model = build_model(config, tokenizer, [])
    if bits == 4:
        quantised = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        assert quantised and quantised[0].weight.quant_state.quant_type == "nf4"
    else:
        assert [m for m in model.modules() if isinstance(m, bnb.nn.Linear8bitLt)]
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)
    # An evaluation first (as training does), then a step: every LoRA weight, down to the first
    # layer, must get a gradient through the quantised layers above it.
    ids = torch.randint(0, len(tokenizer), (2, 16))
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    lora_b = [(n, p) for n, p in model.named_parameters() if "lora_B" in n]  # A gets none while B is 0
    assert lora_b and all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in lora_b)

    summary = run_training(config, dataset, tmp_path / "run", lambda _: None)
    assert summary["steps"] == 6 and summary["eval_loss_after"] < summary["eval_loss_before"]
    assert summary["parameters"]["trainable"] < summary["parameters"]["total"] / 5
    assert (tmp_path / "run" / "final" / "adapter_model.safetensors").exists()
