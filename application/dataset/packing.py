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
Arrow. Packed rows also list their segments' lengths (`seq_lengths`, the column TRL's own
packing writes), so TRL's padding-free collator rebuilds the same `position_ids`.

Instruction rows (`pack_masked`, `pad_masked`) carry a trained/untrained flag per token: their
labels are -100 on every untrained token (prompts, system and user turns). A conversation cut
in two would lose its prompt, so these documents are never split across rows: they are placed
whole, best-fit decreasing.
"""
from __future__ import annotations

from bisect import bisect_left, insort
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
    segments: list[list[int]] = field(default_factory=list)
    """Packed rows: the lengths of each row's segments (document pieces, then padding), in order."""

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
    if weights is None:
        return pad_stream(packed_stream(docs, seq_len, eos_id, 0), seq_len, pad_id)
    ids: list[int] = []
    positions: list[int] = []
    labels: list[int] = []
    row_weight: list[float] = []  # running sum of weight * tokens for the current row
    layout = Layout(seq_len)
    for index, doc in enumerate(docs):
        for piece in _pieces(doc, eos_id, len(ids), seq_len):
            _add_segment(layout.segments, len(ids) % seq_len == 0, len(piece))
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
        layout.segments[-1].append(tail)
        ids.extend([pad_id] * tail)
        positions.extend(range(tail))
        labels.extend([IGNORE_INDEX] * tail)
        if weights is not None:
            layout.weights.append(sum(row_weight) / (seq_len - tail))
    layout.columns = {"input_ids": ids, "position_ids": positions, "labels": labels}
    return layout


def _add_segment(segments: list[list[int]], new_row: bool, length: int) -> None:
    if new_row:
        segments.append([])
    segments[-1].append(length)


def stream_offsets(docs: Sequence[Sequence[int]], chunk: int) -> list[tuple[int, int, int]]:
    """(first doc, stop doc, stream offset) of chunks of `chunk` documents: where each chunk's
    tokens (documents + EOS) start in the packed stream, so chunks can be packed apart."""
    out, offset = [], 0
    for first in range(0, len(docs), chunk):
        stop = min(first + chunk, len(docs))
        out.append((first, stop, offset))
        offset += sum(len(d) + 1 for d in docs[first:stop])
    return out


def packed_stream(docs: Sequence[Sequence[int]], seq_len: int, eos_id: int, start: int) -> dict[str, list[int]]:
    """The packed columns of `docs` laid at stream offset `start`, unpadded: `pack_documents`
    of all documents equals these chunks concatenated, then its tail padding."""
    ids: list[int] = []
    positions: list[int] = []
    labels: list[int] = []
    for doc in docs:
        for piece in _pieces(doc, eos_id, start + len(ids), seq_len):
            ids.extend(piece)
            positions.extend(range(len(piece)))
            labels.append(IGNORE_INDEX)
            labels.extend(piece[1:])
    return {"input_ids": ids, "position_ids": positions, "labels": labels}


def pad_stream(columns: dict[str, list[int]], seq_len: int, pad_id: int) -> Layout:
    """A packed stream padded to whole rows (the last row only)."""
    layout = Layout(seq_len, columns=columns, real_tokens=len(columns["input_ids"]))
    tail = -layout.real_tokens % seq_len
    columns["input_ids"].extend([pad_id] * tail)
    columns["position_ids"].extend(range(tail))
    columns["labels"].extend([IGNORE_INDEX] * tail)
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


MaskedDoc = tuple[Sequence[int], Sequence[bool]]  # token ids, and whether each token is trained


def _masked_labels(ids: Sequence[int], trained: Sequence[bool]) -> list[int]:
    """Each trained token is its own target; the first token never is (nothing precedes it)."""
    return [IGNORE_INDEX] + [t if keep else IGNORE_INDEX for t, keep in zip(ids[1:], trained[1:])]


def best_fit(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins of document indices, each bin's lengths summing to at most `capacity`.

    Best-fit decreasing: longest first, each into the fullest bin it still fits. Every length
    must be at most `capacity`."""
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin number), sorted
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        at = bisect_left(free, (lengths[index], -1))
        if at < len(free):
            room, number = free.pop(at)
        else:
            room, number = capacity, len(bins)
            bins.append([])
        bins[number].append(index)
        if room - lengths[index] > 0:
            insort(free, (room - lengths[index], number))
    return bins


def pack_masked(docs: Sequence[MaskedDoc], seq_len: int, pad_id: int) -> Layout:
    """Whole documents (each at most `seq_len` tokens) packed best-fit into rows; each row padded."""
    ids: list[int] = []
    positions: list[int] = []
    labels: list[int] = []
    layout = Layout(seq_len)
    for row in best_fit([len(doc) for doc, _ in docs], seq_len):
        layout.segments.append([])
        for index in row:
            doc, trained = docs[index]
            ids.extend(doc)
            positions.extend(range(len(doc)))
            labels.extend(_masked_labels(doc, trained))
            layout.segments[-1].append(len(doc))
        tail = seq_len - sum(layout.segments[-1])
        if tail:
            layout.segments[-1].append(tail)
            ids.extend([pad_id] * tail)
            positions.extend(range(tail))
            labels.extend([IGNORE_INDEX] * tail)
    layout.real_tokens = sum(len(doc) for doc, _ in docs)
    layout.columns = {"input_ids": ids, "position_ids": positions, "labels": labels}
    return layout


def pad_masked(docs: Sequence[MaskedDoc], seq_len: int, pad_id: int) -> Layout:
    """One document (at most `seq_len` tokens) per row, right-padded, with `attention_mask`."""
    ids: list[int] = []
    mask: list[int] = []
    labels: list[int] = []
    layout = Layout(seq_len)
    for doc, trained in docs:
        pad = seq_len - len(doc)
        ids.extend(list(doc) + [pad_id] * pad)
        mask.extend([1] * len(doc) + [0] * pad)
        labels.extend(_masked_labels(doc, trained) + [IGNORE_INDEX] * pad)
        layout.real_tokens += len(doc)
    layout.columns = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    return layout
