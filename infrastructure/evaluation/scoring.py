"""Scoring a model on a dataset split: summed token loss (causal LM) or predicted labels.

Same conventions as training: packed rows carry `position_ids` and no attention mask (which
keeps documents apart), padded rows an attention mask; labels of -100 are not targets.
"""
from __future__ import annotations

from pathlib import Path

IGNORE_INDEX = -100
MODEL_INPUTS = ("input_ids", "position_ids", "attention_mask")


def _batches(split, batch_size: int, max_batches: int | None):
    split = split.with_format("torch")
    count = -(-len(split) // batch_size)
    for b in range(min(count, max_batches) if max_batches else count):
        yield split[b * batch_size:(b + 1) * batch_size]


def load_split(dataset_dir: Path, split: str):
    from datasets import load_from_disk

    from domain.errors import EvaluationError

    data = load_from_disk(str(dataset_dir))
    if split not in data or len(data[split]) == 0:
        raise EvaluationError(f"{dataset_dir}: split {split!r} is missing or empty")
    return data[split]


def token_loss(model, split, batch_size: int = 8, max_batches: int | None = None) -> dict:
    """Mean cross-entropy per target token over the split (or its first `max_batches`)."""
    import torch
    import torch.nn.functional as F

    total, targets = 0.0, 0
    with torch.no_grad():
        for batch in _batches(split, batch_size, max_batches):
            inputs = {k: batch[k] for k in MODEL_INPUTS if k in batch}
            logits = model(**inputs, use_cache=False).logits.float()[:, :-1]
            labels = batch["labels"][:, 1:]
            total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                     ignore_index=IGNORE_INDEX, reduction="sum").item()
            targets += int((labels != IGNORE_INDEX).sum())
    return {"loss": total / max(targets, 1), "tokens": targets}


def predictions(model, split, batch_size: int = 8, max_batches: int | None = None) -> tuple[list[int], list[int]]:
    """(true labels, predicted labels) of a sequence-classification model over the split."""
    import torch

    truth, predicted = [], []
    with torch.no_grad():
        for batch in _batches(split, batch_size, max_batches):
            inputs = {k: batch[k] for k in MODEL_INPUTS if k in batch and k != "position_ids"}
            predicted += model(**inputs).logits.argmax(-1).tolist()
            truth += batch["labels"].tolist()
    return truth, predicted
