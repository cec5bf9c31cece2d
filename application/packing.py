"""Packing tokenized documents into fixed-length blocks without cross-document targets.

Each block carries `position_ids` that restart at 0 where a document (or the part of one
that continues from the previous block) starts, so attention implementations that read
packed sequences from position ids keep documents apart; the first token of every document
has label -100 so no target is predicted across a boundary.
"""
from __future__ import annotations

from typing import Iterable, Iterator

IGNORE_INDEX = -100


def pack_documents(docs: Iterable[list[int]], seq_len: int, eos_id: int) -> Iterator[dict]:
    """Yield blocks of exactly `seq_len` tokens; the final partial block is dropped."""
    ids: list[int] = []
    positions: list[int] = []
    labels: list[int] = []
    for doc in docs:
        doc = list(doc) + [eos_id]
        offset = 0
        while offset < len(doc):
            room = seq_len - len(ids)
            piece = doc[offset : offset + room]
            ids.extend(piece)
            positions.extend(range(len(piece)))
            labels.extend([IGNORE_INDEX] + piece[1:])
            offset += len(piece)
            if len(ids) == seq_len:
                yield {"input_ids": ids, "position_ids": positions, "labels": labels}
                ids, positions, labels = [], [], []


def pad_documents(docs: Iterable[list[int]], seq_len: int, eos_id: int, pad_id: int) -> Iterator[dict]:
    """One document per row, truncated to `seq_len` and padded (the `--no-pack` layout)."""
    for doc in docs:
        doc = (list(doc) + [eos_id])[:seq_len]
        pad = seq_len - len(doc)
        yield {
            "input_ids": doc + [pad_id] * pad,
            "attention_mask": [1] * len(doc) + [0] * pad,
            "labels": doc + [IGNORE_INDEX] * pad,
        }
