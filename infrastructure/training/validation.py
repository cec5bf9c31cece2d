"""Evaluation: loss and perplexity (causal LM) or accuracy / precision / recall / F1 (classification).

Batches are spread over processes and the sums (loss, targets, confusion matrix) reduced, so the
figures are the same whether one process or several computed them.
"""
from __future__ import annotations

import math

from application.train.metric_stats import classification_scores
from infrastructure.training.data import sequential_batches
from infrastructure.training.objective import summed_loss, target_weight


def evaluate(model, split, accelerator, *, causal: bool, num_labels: int, batch_size: int,
             max_batches: int | None) -> dict[str, float]:
    """Metrics of `model` on `split`, named `eval_*`. Unweighted: recency weights shape training only."""
    import torch

    device = accelerator.device
    loss_sum = torch.zeros((), device=device)
    targets = torch.zeros((), device=device)
    confusion = torch.zeros((max(num_labels, 1),) * 2, dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad(), accelerator.autocast():
        for batch in sequential_batches(split, batch_size, accelerator.process_index,
                                        accelerator.num_processes, max_batches):
            summed, logits = summed_loss(model, batch, causal, False, device)
            loss_sum += summed
            targets += target_weight(batch, causal, False).to(device)
            if not causal:
                predicted = logits.argmax(-1)
                truth = batch["labels"].to(device)
                confusion.index_put_((truth, predicted), torch.ones_like(truth), accumulate=True)
    model.train(was_training)
    if accelerator.num_processes > 1:
        loss_sum, targets, confusion = (accelerator.reduce(t, "sum") for t in (loss_sum, targets, confusion))
    loss = (loss_sum / targets.clamp(min=1)).item()
    if causal:
        return {"eval_loss": loss, "eval_perplexity": math.exp(min(loss, 50.0))}
    scores = classification_scores(confusion.tolist())
    return {"eval_loss": loss, **{f"eval_{k}": v for k, v in scores.items()}}
