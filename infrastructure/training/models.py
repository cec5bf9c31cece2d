"""Building or loading the model to train."""
from __future__ import annotations

from application.config import ModelConfig


def build_causal_lm(config: ModelConfig, tokenizer):
    """A pretrained model from `name_or_path`, or a fresh one from `architecture`."""
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    if config.name_or_path:
        return AutoModelForCausalLM.from_pretrained(config.name_or_path, trust_remote_code=config.trust_remote_code)
    arch = config.architecture
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    if arch.type == "gpt2":
        cfg = GPT2Config(vocab_size=len(tokenizer), n_layer=arch.n_layer, n_embd=arch.n_embd,
                         n_head=arch.n_head, n_positions=arch.max_position_embeddings, **ids)
        return GPT2LMHeadModel(cfg)
    cfg = LlamaConfig(vocab_size=len(tokenizer), num_hidden_layers=arch.n_layer, hidden_size=arch.n_embd,
                      num_attention_heads=arch.n_head, intermediate_size=arch.n_embd * 4,
                      max_position_embeddings=arch.max_position_embeddings, **ids)
    return LlamaForCausalLM(cfg)
