"""Evaluation: loss and perplexity (causal LM) or accuracy / precision / recall / F1 (classification).

Batches are spread over processes and the sums (loss, targets, confusion matrix) reduced, so the
figures are the same whether one process or several computed them.
"""
from __future__ import annotations

import math

from application.train.metric_stats import (
    average_precision, best_f1_threshold, classification_scores, per_class_table,
)
from infrastructure.training.data import sequential_batches
from infrastructure.training.objective import summed_loss, target_weight


def evaluate(model, split, accelerator, *, causal: bool, labels: list[str], batch_size: int,
             max_batches: int | None, pad_id: int = 0) -> dict:
    """Metrics of `model` on `split`, named `eval_*`. Unweighted: recency and class weights shape
    training only. A classifier also gets `eval_per_class` (precision/recall/F1/support per label),
    `eval_confusion` and, with two labels, `eval_pr_auc` (average precision of label 1) and, when
    the rows hold a label 1, `eval_best_threshold` / `eval_best_f1`: the cut-off on label 1's
    probability that maximises its F1 here, and that F1."""
    import torch

    device = accelerator.device
    loss_sum = torch.zeros((), device=device)
    targets = torch.zeros((), device=device)
    confusion = torch.zeros((max(len(labels), 1),) * 2, dtype=torch.long, device=device)
    scores, truths = [], []  # positive-class probabilities, for PR-AUC (two labels)
    was_training = model.training
    model.eval()
    with torch.no_grad(), accelerator.autocast():
        for batch in sequential_batches(split, batch_size, accelerator.process_index,
                                        accelerator.num_processes, max_batches, pad_id):
            summed, logits = summed_loss(model, batch, causal, False, device)
            loss_sum += summed
            targets += target_weight(batch, causal, False).to(device)
            if not causal:
                predicted = logits.argmax(-1)
                truth = batch["labels"].to(device)
                confusion.index_put_((truth, predicted), torch.ones_like(truth), accumulate=True)
                if len(labels) == 2:
                    scores.append(logits.float().softmax(-1)[:, 1])
                    truths.append(truth)
    model.train(was_training)
    if accelerator.num_processes > 1:
        loss_sum, targets, confusion = (accelerator.reduce(t, "sum") for t in (loss_sum, targets, confusion))
    loss = (loss_sum / targets.clamp(min=1)).item()
    if causal:
        return {"eval_loss": loss, "eval_perplexity": math.exp(min(loss, 50.0))}
    matrix = confusion.tolist()
    metrics = {"eval_loss": loss, **{f"eval_{k}": v for k, v in classification_scores(matrix).items()}}
    if len(labels) == 2:
        scores, truths = _gathered(accelerator, scores, truths)
        metrics["eval_pr_auc"] = average_precision(scores, truths)
        best = best_f1_threshold(scores, truths)
        if best is not None:
            metrics["eval_best_threshold"], metrics["eval_best_f1"] = best
    return {**metrics, "eval_per_class": per_class_table(matrix, labels), "eval_confusion": matrix}


def _gathered(accelerator, scores: list, truths: list) -> tuple[list[float], list[int]]:
    """Every process's (score, truth) pairs, so PR-AUC ranks the whole split."""
    import torch

    device = accelerator.device
    score = torch.cat(scores) if scores else torch.zeros(0, device=device)
    truth = torch.cat(truths) if truths else torch.zeros(0, dtype=torch.long, device=device)
    if accelerator.num_processes > 1:
        score, truth = accelerator.gather_for_metrics(score), accelerator.gather_for_metrics(truth)
    return score.tolist(), truth.tolist()
