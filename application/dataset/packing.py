"""Laying tokenized documents out as fixed-length rows: packed blocks or padded rows.

Packed rows (the default) concatenate documents, each followed by EOS, and cut the stream
every `seq_len` tokens. Every row carries:

- `input_ids`: the tokens;
- `position_ids`: restart at 0 where a document starts, and where a row starts in the
  middle of a document. Llama/Qwen2/GPT-2 in transformers read such a row, passed **without**
  an attention mask and with `use_cache=False`, as separate sequences: documents do not
  attend to each other;
- `labels`: the tokens, with -100 on the first token of every segment (document start or row
  start) and on padding. Models shift labels by one inside (`logits[t]` predicts
  `labels[t+1]`), so -100 on a segment's first token means nothing is predicted across a
  document boundary: the last token (EOS) of one document never has the next one's first
  token as its target.

Only the final row is padded (pad id, positions restarting, labels -100), so no split loses
its tail. Padded rows (`--no-pack`) hold one document piece each, plus `attention_mask`.
Columns are flat lists (row-major, `rows * seq_len` long): cheap to build, cheap to hand to
Arrow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence
from domain.layout import IGNORE_INDEX



@dataclass
class Layout:
    """Rows of `seq_len` tokens as flat, row-major columns."""

    seq_len: int
    """Tokens per row."""
    columns: dict[str, list[int]] = field(default_factory=dict)
    """Column name -> flat list of `rows * seq_len` ints."""
    real_tokens: int = 0
    """Tokens that are not padding."""
    weights: list[float] = field(default_factory=list)
    """One float per row when documents carry weights (token-weighted mean of the documents a row
    holds), else empty."""

    @property
    def rows(self) -> int:
        return len(self.columns["input_ids"]) // self.seq_len if self.columns else 0

    @property
    def efficiency(self) -> float:
        """Share of the row slots holding real (non-pad) tokens."""
        slots = self.rows * self.seq_len
        return self.real_tokens / slots if slots else 0.0


def _pieces(doc: Sequence[int], eos_id: int, start: int, seq_len: int):
    """Cut `doc + [eos]` at row boundaries, given the row currently holds `start` tokens."""
    tokens = list(doc) + [eos_id]
    offset = 0
    while offset < len(tokens):
        room = seq_len - (start % seq_len)
        yield tokens[offset : offset + room]
        start += min(room, len(tokens) - offset)
        offset += room


def pack_documents(
    docs: Sequence[Sequence[int]], seq_len: int, eos_id: int, pad_id: int,
    weights: Sequence[float] | None = None,
) -> Layout:
    """Concatenate documents (each + EOS) into rows of exactly `seq_len` tokens."""
    ids: list[int] = []
    positions: list[int] = []
    labels: list[int] = []
    row_weight: list[float] = []  # running sum of weight * tokens for the current row
    layout = Layout(seq_len)
    for index, doc in enumerate(docs):
        for piece in _pieces(doc, eos_id, len(ids), seq_len):
            ids.extend(piece)
            positions.extend(range(len(piece)))
            labels.append(IGNORE_INDEX)
            labels.extend(piece[1:])
            if weights is not None:
                row_weight.append(weights[index] * len(piece))
                if len(ids) % seq_len == 0:
                    layout.weights.append(sum(row_weight) / seq_len)
                    row_weight.clear()
    layout.real_tokens = len(ids)
    tail = -len(ids) % seq_len
    if tail:
        ids.extend([pad_id] * tail)
        positions.extend(range(tail))
        labels.extend([IGNORE_INDEX] * tail)
        if weights is not None:
            layout.weights.append(sum(row_weight) / (seq_len - tail))
    layout.columns = {"input_ids": ids, "position_ids": positions, "labels": labels}
    return layout


def pad_documents(
    docs: Sequence[Sequence[int]], seq_len: int, eos_id: int, pad_id: int,
    weights: Sequence[float] | None = None,
) -> Layout:
    """One row per document (+ EOS); a longer document continues on further rows, each padded."""
    ids: list[int] = []
    mask: list[int] = []
    labels: list[int] = []
    layout = Layout(seq_len)
    for index, doc in enumerate(docs):
        for piece in _pieces(doc, eos_id, 0, seq_len):
            pad = seq_len - len(piece)
            ids.extend(piece + [pad_id] * pad)
            mask.extend([1] * len(piece) + [0] * pad)
            labels.append(IGNORE_INDEX)
            labels.extend(piece[1:] + [IGNORE_INDEX] * pad)
            layout.real_tokens += len(piece)
            if weights is not None:
                layout.weights.append(weights[index])
    layout.columns = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    return layout


@dataclass
class Framed:
    """Classification rows of varying length (no padding stored) as one flat id list plus offsets."""

    ids: list[int] = field(default_factory=list)
    """Every row's tokens, one after another."""
    offsets: list[int] = field(default_factory=lambda: [0])
    """Row i is ids[offsets[i]:offsets[i + 1]]."""
    real_tokens: int = 0
    """Tokens of the units themselves (special tokens not counted)."""
    truncated: int = 0
    """Units cut to fit the row length."""


def frame_documents(docs: Sequence[Sequence[int]], max_len: int, prefix: Sequence[int],
                    suffix: Sequence[int]) -> Framed:
    """One row per document in the model's own convention, `prefix + doc + suffix` (`[CLS] ... [SEP]`
    for BERT-likes, `... EOS` for decoders), the document cut so the row holds at most `max_len`
    tokens. Rows are not padded: the trainer pads each batch to its longest row, masked."""
    room = max_len - len(prefix) - len(suffix)
    if room < 1:
        raise ValueError(f"rows of {max_len} tokens leave no room beside {len(prefix) + len(suffix)} special tokens")
    framed = Framed()
    for doc in docs:
        piece = list(doc[:room])
        framed.ids.extend([*prefix, *piece, *suffix])
        framed.offsets.append(len(framed.ids))
        framed.real_tokens += len(piece)
        framed.truncated += len(doc) > room
    return framed
