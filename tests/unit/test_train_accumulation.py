"""Exact gradient accumulation: micro-batch 2 x accumulation 4 == batch 8 x accumulation 1.

Rows have very different numbers of target tokens, which is exactly where the usual
"mean per micro-batch, then average" recipe goes wrong; the test shows that too.
"""
from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")


def tiny_lm():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50, n_layer=1, n_embd=32, n_head=2, n_positions=32,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(cfg).double()  # float64 so the comparison measures the method, not rounding


def padded_rows(lengths, seq_len=16, weights=None):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(2, 50, (len(lengths), seq_len), generator=generator)
    mask = torch.tensor([[1] * n + [0] * (seq_len - n) for n in lengths])
    rows = {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}
    if weights is not None:
        rows["weight"] = torch.tensor(weights, dtype=torch.float64)
    return rows


def chunks(rows, size):
    n = len(rows["input_ids"])
    return [{k: v[i:i + size] for k, v in rows.items()} for i in range(0, n, size)]


def gradients_after(model, window):
    from accelerate import Accelerator

    from infrastructure.training.objective import accumulate_gradients

    loss = accumulate_gradients(model, window, Accelerator(cpu=True), causal=True, use_weights=True)
    return loss, [p.grad.clone() for p in model.parameters()]


LENGTHS = [16, 3, 12, 2, 16, 16, 5, 4]  # target tokens per micro-batch of 2: 13, 12, 30, 7


@pytest.mark.parametrize("weights", [None, [1.0, 0.5, 2.0, 1.0, 0.25, 1.0, 3.0, 1.0]])
def test_two_by_four_gives_the_gradient_and_update_of_eight_by_one(weights):
    rows = padded_rows(LENGTHS, weights=weights)
    base = tiny_lm()
    small, big = copy.deepcopy(base), copy.deepcopy(base)
    loss_small, grads_small = gradients_after(small, chunks(rows, 2))
    loss_big, grads_big = gradients_after(big, chunks(rows, 8))
    assert loss_small == pytest.approx(loss_big, abs=1e-9)
    for a, b in zip(grads_small, grads_big):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7)
    for model in (small, big):
        torch.optim.SGD(model.parameters(), lr=0.5).step()
    for a, b in zip(small.parameters(), big.parameters()):
        assert torch.allclose(a, b, atol=1e-9)


def test_averaging_micro_batch_means_would_get_it_wrong():
    rows = padded_rows(LENGTHS)
    base = tiny_lm()
    naive, exact = copy.deepcopy(base), copy.deepcopy(base)
    for micro in chunks(rows, 2):  # what a plain `loss / accumulation_steps` loop does
        (naive(**{k: micro[k] for k in ("input_ids", "attention_mask", "labels")}).loss / 4).backward()
    _, grads_exact = gradients_after(exact, chunks(rows, 8))
    difference = max((p.grad - g).abs().max().item() for p, g in zip(naive.parameters(), grads_exact))
    scale = max(g.abs().max().item() for g in grads_exact)
    assert difference > 0.01 * scale
