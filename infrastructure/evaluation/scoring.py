"""Scoring a model on a dataset split: summed token loss (causal LM) or predicted labels.

The batches, model inputs and loss are the training loop's own (`infrastructure.training`),
so `evaluate` reports exactly what training's evaluation would on the same rows.
"""
from __future__ import annotations

from pathlib import Path

from infrastructure.training.data import model_inputs, sequential_batches
from infrastructure.training.objective import summed_loss, target_weight


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

    device = next(model.parameters()).device
    total, targets = 0.0, 0
    with torch.no_grad():
        for batch in sequential_batches(split, batch_size, max_batches=max_batches):
            total += summed_loss(model, batch, True, False, device)[0].item()
            targets += int(target_weight(batch, True, False))
    return {"loss": total / max(targets, 1), "tokens": targets}


def predictions(model, split, batch_size: int = 8, max_batches: int | None = None,
                pad_id: int = 0) -> tuple[list[int], list[int], list[list[float]]]:
    """(true labels, predicted labels, class probabilities) of a sequence-classification model."""
    import torch

    device = next(model.parameters()).device
    truth, predicted, probabilities = [], [], []
    with torch.no_grad():
        for batch in sequential_batches(split, batch_size, max_batches=max_batches, pad_id=pad_id):
            inputs = model_inputs(batch, device)
            inputs.pop("position_ids", None)
            logits = model(**inputs).logits.float()
            predicted += logits.argmax(-1).tolist()
            probabilities += logits.softmax(-1).tolist()
            truth += batch["labels"].tolist()
    return truth, predicted, probabilities


class LoadedModel:
    """A model folder loaded to score the splits of one dataset folder (the evaluate use case's
    ModelScorer port)."""

    def __init__(self, folder: Path, dataset_dir: Path, threads: int | None = None, base: str | None = None):
        import json

        from domain.layout import STATS
        from infrastructure.evaluation import loading

        self.task = loading.model_task(folder)
        self.threshold = loading.read_threshold(folder)
        self.model = loading.load_model(folder, self.task, threads, base=base)
        self.dataset_dir = dataset_dir
        stats = json.loads((Path(dataset_dir) / STATS).read_text()) if (Path(dataset_dir) / STATS).is_file() else {}
        self.pad_id = stats.get("pad_token_id") or 0  # classification rows are stored unpadded

    def perplexity(self, split: str, max_batches: int | None, batch_size: int) -> dict:
        return token_loss(self.model, load_split(self.dataset_dir, split), batch_size, max_batches)

    def predict(self, split: str, max_batches: int | None,
                batch_size: int) -> tuple[list[int], list[int], list[list[float]]]:
        return predictions(self.model, load_split(self.dataset_dir, split), batch_size, max_batches, self.pad_id)
