"""Hugging Face `datasets` I/O."""
from __future__ import annotations

from pathlib import Path


def save_dataset_dict(splits: dict[str, list[dict]], path: Path) -> dict[str, int]:
    """Save rows per split as a `DatasetDict`; returns the row count of each split."""
    from datasets import Dataset, DatasetDict

    dataset = DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()})
    dataset.save_to_disk(str(path))
    return {name: len(rows) for name, rows in splits.items()}
