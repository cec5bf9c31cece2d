"""The loss, normalised over the whole accumulation window.

Most tools average the loss inside each micro-batch and then average micro-batches, which
weighs a target token in a short micro-batch more than one in a long micro-batch. Here each
micro-batch contributes its *summed* token loss divided by the number of target tokens in the
whole window (across processes too), so micro-batch x accumulation gives the gradient of one
big batch exactly.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

from domain.layout import IGNORE_INDEX
from infrastructure.training.data import model_inputs


def _row_weights(batch: dict, use_weights: bool):
    """Per-row loss weight: the dataset's `weight` (when used) times the class weight (training
    batches carry `class_weight` when `training.class_weights` is set; evaluation batches never do)."""
    weights = batch["weight"].float() if use_weights and "weight" in batch else None
    if "class_weight" in batch:
        weights = batch["class_weight"].float() if weights is None else weights * batch["class_weight"].float()
    return weights


def target_weight(batch: dict, causal: bool, use_weights: bool):
    """Denominator share of a micro-batch: its target tokens (causal) or rows (classification),
    each counted with its example weight when weights are used."""
    import torch

    labels = batch["labels"]
    per_row = (labels[:, 1:] != IGNORE_INDEX).sum(dim=1).float() if causal else torch.ones(len(labels))
    weights = _row_weights(batch, use_weights)
    return (per_row * weights).sum() if weights is not None else per_row.sum()


def summed_loss(model, batch: dict, causal: bool, use_weights: bool, device):
    """Sum of (weighted) per-target cross-entropies of one micro-batch, and the logits."""
    import torch.nn.functional as F

    kwargs = {"use_cache": False} if causal else {}
    logits = model(**model_inputs(batch, device), **kwargs).logits.float()
    labels = batch["labels"].to(device)
    if causal:
        # Shift the labels, not the logits: slicing logits[:, :-1] would copy the largest tensor
        # of the step (batch x seq x vocab) on every micro-batch. The padded last target is ignored.
        labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
        losses = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.reshape(-1),
                                 ignore_index=IGNORE_INDEX, reduction="none").view(labels.shape)
    else:
        losses = F.cross_entropy(logits, labels, reduction="none")
    weights = _row_weights(batch, use_weights)
    if weights is not None:
        weights = weights.to(device)
        losses = losses * (weights[:, None] if causal else weights)
    return losses.sum(), logits


def accumulate_gradients(model, window: list[dict], accelerator, causal: bool, use_weights: bool,
                         should_stop: Callable[[], bool] = lambda: False) -> float | None:
    """Backward over a window of micro-batches; returns the window's mean loss (all processes),
    or None when `should_stop()` said so before a micro-batch (the caller drops the gradients).

    Gradients are synchronised across processes only on the last micro-batch. DDP averages
    gradients over processes, so each process scales its loss by the process count.
    `should_stop` must give every process the same answer (it is asked the same number of times).
    """
    import torch

    world = accelerator.num_processes
    local = torch.stack([target_weight(b, causal, use_weights) for b in window]).sum().to(accelerator.device)
    total = accelerator.reduce(local, "sum") if world > 1 else local
    total = total.clamp(min=1e-12)
    summed = torch.zeros((), device=accelerator.device)
    for i, batch in enumerate(window):
        if should_stop():  # Ctrl-C / SIGTERM: now, not after a window of 100,000 micro-batches
            return None
        sync = i == len(window) - 1
        with nullcontext() if sync or world == 1 else accelerator.no_sync(model):
            loss_sum, _ = summed_loss(model, batch, causal, use_weights, accelerator.device)
            accelerator.backward(loss_sum * world / total)
        summed += loss_sum.detach()
    if world > 1:
        summed = accelerator.reduce(summed, "sum")
    return (summed / total).item()
