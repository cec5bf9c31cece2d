"""Deterministic, resumable micro-batches.

Each epoch's order is a permutation drawn from `seed + epoch` alone, so the data position is two
integers (epoch, micro-batch index) and a resumed run sees exactly the batches the uninterrupted
run would have. With N processes each global micro-batch of `N * micro_batch_size` rows is cut
into N slices, one per rank: one process with micro-batch 4 and two with micro-batch 2 see the
same rows per optimizer step.

Classification rows have varying lengths (no padding is stored): `collate` pads each batch to its
longest row with the pad id and an attention mask. `sampling="balanced"` draws each epoch's rows
with replacement, every class equally likely; class loss weights ride along as `class_weight`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from domain.errors import TrainingError

MODEL_INPUTS = ("input_ids", "position_ids", "attention_mask")
METADATA = ("seq_lengths", "bandit_test_ids")  # ragged per-row lists for other tools: they do not stack


def torch_view(split):
    """The split as torch tensors, without the ragged metadata columns (they do not stack)."""
    return split.with_format("torch", columns=[c for c in split.column_names if c not in METADATA])


@dataclass(frozen=True)
class DataPosition:
    """Where the next micro-batch starts: epoch number and micro-batch index inside it."""

    epoch: int = 0
    micro: int = 0


class MicroBatches:
    """Micro-batches of one split for one rank, in the same order on every run with that seed."""

    def __init__(self, split, micro_batch_size: int, seed: int, rank: int = 0, world: int = 1, *,
                 pad_id: int = 0, sampling: str = "natural", class_weights: list[float] | None = None):
        self.split = torch_view(split)
        self.size, self.seed, self.rank, self.world = micro_batch_size, seed, rank, world
        self.pad_id, self.class_weights = pad_id, class_weights
        self.row_weights = balanced_row_weights(split["labels"]) if sampling == "balanced" else None
        self.per_epoch = len(split) // (micro_batch_size * world)  # a ragged tail is dropped
        if self.per_epoch == 0:
            raise TrainingError(
                f"training split has {len(split)} rows, fewer than micro_batch_size {micro_batch_size}"
                f" x {world} process(es)")

    def _order(self, epoch: int) -> list[int]:
        import torch

        generator = torch.Generator().manual_seed(self.seed + epoch)
        if self.row_weights is not None:
            return torch.multinomial(self.row_weights, len(self.split), replacement=True, generator=generator).tolist()
        return torch.randperm(len(self.split), generator=generator).tolist()

    def stream(self, start: DataPosition) -> Iterator[tuple[dict, DataPosition]]:
        """Yield (batch, position after it) forever, starting at `start`."""
        epoch, micro = start.epoch, start.micro
        while True:
            order = self._order(epoch)
            for index in range(micro, self.per_epoch):
                first = (index * self.world + self.rank) * self.size
                batch = collate(self.split[order[first:first + self.size]], self.pad_id)
                if self.class_weights is not None:
                    import torch

                    batch["class_weight"] = torch.tensor(self.class_weights)[batch["labels"]]
                after = DataPosition(epoch, index + 1) if index + 1 < self.per_epoch else DataPosition(epoch + 1, 0)
                yield batch, after
            epoch, micro = epoch + 1, 0


def balanced_row_weights(labels):
    """Per-row sampling weight 1 / (rows of its class): every class is drawn equally often."""
    import torch

    labels = torch.as_tensor(labels)
    counts = torch.bincount(labels).float()
    return (1.0 / counts)[labels]


def collate(batch: dict, pad_id: int) -> dict:
    """Rows of varying length (a list of tensors) -> right-padded to the batch's longest, with an
    attention mask; fixed-length batches pass through."""
    import torch

    ids = batch["input_ids"]
    if isinstance(ids, torch.Tensor):
        return batch
    longest = max(len(row) for row in ids)
    padded = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for i, row in enumerate(ids):
        padded[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return {**batch, "input_ids": padded, "attention_mask": mask}


def sequential_batches(split, batch_size: int, rank: int = 0, world: int = 1,
                       max_batches: int | None = None, pad_id: int = 0) -> Iterator[dict]:
    """Evaluation batches in order; batch b goes to rank b % world."""
    split = torch_view(split)
    count = -(-len(split) // batch_size)
    if max_batches is not None:
        count = min(count, max_batches)
    for b in range(rank, count, world):
        yield collate(split[b * batch_size:(b + 1) * batch_size], pad_id)


def model_inputs(batch: dict, device) -> dict:
    """What goes into the model. Packed rows bring `position_ids` and no attention mask, which is
    what keeps documents apart inside a row: transformers' Llama, Qwen2 and GPT-2 then give each
    document the logits it has alone (tests/integration/test_dataset_packing_model.py checks this)."""
    return {k: batch[k].to(device) for k in MODEL_INPUTS if k in batch}


def input_tokens(batch: dict) -> int:
    """Real (non-padding) tokens in a batch, for throughput."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return batch["input_ids"].numel()
