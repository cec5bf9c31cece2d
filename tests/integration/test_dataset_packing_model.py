"""Packed rows through a real (tiny, random) transformers model: each document's logits and
loss equal those of the document run alone, so packing leaks nothing across documents."""
from __future__ import annotations

import random

import pytest

from application.dataset.packing import pack_documents

EOS, PAD, VOCAB = 0, 1, 64


@pytest.fixture(scope="module")
def model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD, attn_implementation="sdpa")
    return LlamaForCausalLM(config).eval()


def test_packed_documents_see_only_themselves_and_targets_stay_inside_them(model):
    import torch

    rng = random.Random(0)
    docs = [[rng.randint(2, VOCAB - 1) for _ in range(n)] for n in (7, 12, 3, 20, 9)]
    seq_len = 24
    layout = pack_documents(docs, seq_len, EOS, PAD)
    ids = torch.tensor(layout.columns["input_ids"]).view(-1, seq_len)
    positions = torch.tensor(layout.columns["position_ids"]).view(-1, seq_len)
    labels = torch.tensor(layout.columns["labels"]).view(-1, seq_len)
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=positions, labels=labels, use_cache=False)
        # expected: every packed segment (a document, or the part of one a row holds) run alone
        flat_logits = packed.logits.reshape(-1, VOCAB)
        total_loss, targets, start = 0.0, 0, 0
        stream = layout.columns["input_ids"]
        while start < layout.real_tokens:
            end = start + 1
            while end < layout.real_tokens and layout.columns["position_ids"][end] != 0:
                end += 1
            segment = torch.tensor(stream[start:end]).unsqueeze(0)
            alone = model(input_ids=segment, use_cache=False)
            assert torch.allclose(alone.logits[0], flat_logits[start:end], atol=1e-4)
            if end - start > 1:
                loss = torch.nn.functional.cross_entropy(alone.logits[0, :-1], segment[0, 1:], reduction="sum")
                total_loss, targets = total_loss + loss.item(), targets + end - start - 1
            start = end
    # the model's own (shifted) loss over the packed rows is exactly the segments' losses
    assert packed.loss.item() == pytest.approx(total_loss / targets, rel=1e-4)


def test_an_all_ones_attention_mask_would_let_documents_attend_to_each_other(model):
    """Why packed rows carry no attention_mask: with one, the isolation above is lost."""
    import torch

    docs = [[5, 6, 7, 8], [9, 10, 11, 12]]
    layout = pack_documents(docs, 10, EOS, PAD)
    ids = torch.tensor(layout.columns["input_ids"]).view(1, -1)
    positions = torch.tensor(layout.columns["position_ids"]).view(1, -1)
    with torch.no_grad():
        masked = model(input_ids=ids, position_ids=positions, attention_mask=torch.ones_like(ids), use_cache=False)
        alone = model(input_ids=torch.tensor([docs[1] + [EOS]]), use_cache=False)
    assert not torch.allclose(masked.logits[0, 5:10], alone.logits[0], atol=1e-3)
