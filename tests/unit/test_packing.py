"""Packing and padding layouts, checked against an independent walk over the documents."""
from __future__ import annotations

import random

import pytest

from application.dataset.packing import frame_documents, pack_documents, pad_documents
from domain.layout import IGNORE_INDEX

EOS, PAD = 0, 1


def random_docs(seed: int, count: int = 40, longest: int = 50) -> list[list[int]]:
    rng = random.Random(seed)
    # ids >= 2: never EOS or PAD inside a document; some empty and some longer than a row
    return [[rng.randint(2, 999) for _ in range(rng.choice([0, 1, 3, rng.randint(1, longest)]))] for _ in range(count)]


def rows_of(layout, column: str) -> list[list[int]]:
    flat, n = layout.columns[column], layout.seq_len
    return [flat[i * n : (i + 1) * n] for i in range(layout.rows)]


def document_of_each_token(docs: list[list[int]]) -> list[int]:
    """Which document every token of the concatenated stream (docs + EOS each) belongs to."""
    return [d for d, doc in enumerate(docs) for _ in range(len(doc) + 1)]


@pytest.mark.parametrize("seq_len, seed", [(8, 0), (16, 1), (37, 2), (64, 3)])
def test_packed_rows_decode_back_to_the_documents_separated_by_eos(seq_len, seed):
    docs = random_docs(seed)
    layout = pack_documents(docs, seq_len, EOS, PAD)
    stream = layout.columns["input_ids"]
    assert len(stream) % seq_len == 0 and all(len(r) == seq_len for r in rows_of(layout, "input_ids"))
    real = stream[: layout.real_tokens]
    assert set(stream[layout.real_tokens :]) <= {PAD} and len(stream) - len(real) < seq_len
    assert real[-1] == EOS
    decoded, current = [], []
    for token in real:
        if token == EOS:
            decoded.append(current)
            current = []
        else:
            current.append(token)
    assert decoded == docs


@pytest.mark.parametrize("seq_len, seed", [(8, 4), (16, 5), (37, 6)])
def test_position_ids_restart_at_every_document_and_every_row(seq_len, seed):
    docs = random_docs(seed)
    layout = pack_documents(docs, seq_len, EOS, PAD)
    owner = document_of_each_token(docs)
    positions = layout.columns["position_ids"]
    for t in range(layout.real_tokens):
        starts_segment = t % seq_len == 0 or owner[t] != owner[t - 1]
        if starts_segment:
            assert positions[t] == 0, t
        else:
            assert positions[t] == positions[t - 1] + 1, t


@pytest.mark.parametrize("seq_len, seed", [(8, 7), (16, 8), (37, 9), (5, 10)])
def test_no_label_crosses_a_document_boundary_after_the_model_shifts_labels(seq_len, seed):
    docs = random_docs(seed)
    layout = pack_documents(docs, seq_len, EOS, PAD)
    owner = document_of_each_token(docs)
    ids, labels = layout.columns["input_ids"], layout.columns["labels"]
    targets = 0
    for row in range(layout.rows):
        base = row * seq_len
        assert labels[base] == IGNORE_INDEX  # nothing in the row precedes its first token
        # Inside the model, logits at t-1 are scored against labels[t] (shift by one).
        for t in range(base + 1, base + seq_len):
            if labels[t] == IGNORE_INDEX:
                continue
            targets += 1
            assert labels[t] == ids[t]
            assert t < layout.real_tokens and owner[t] == owner[t - 1], f"target at {t} crosses documents"
    first_tokens = {i for i in range(len(owner)) if i == 0 or owner[i] != owner[i - 1]}
    assert all(labels[i] == IGNORE_INDEX for i in first_tokens)
    # every other real token is a target unless it opens a row
    row_starts = {i for i in range(0, layout.real_tokens, seq_len)}
    assert targets == layout.real_tokens - len(first_tokens | row_starts)


def test_only_the_last_row_is_padded_and_its_padding_is_never_a_target():
    docs = [[5, 6, 7], [8, 9]]  # 3+1 + 2+1 = 7 tokens
    layout = pack_documents(docs, 4, EOS, PAD)
    assert rows_of(layout, "input_ids") == [[5, 6, 7, EOS], [8, 9, EOS, PAD]]
    assert rows_of(layout, "labels") == [[-100, 6, 7, EOS], [-100, 9, EOS, -100]]
    assert rows_of(layout, "position_ids") == [[0, 1, 2, 3], [0, 1, 2, 0]]
    assert layout.real_tokens == 7 and layout.efficiency == pytest.approx(7 / 8)


def test_row_weight_is_the_token_weighted_mean_of_its_documents():
    layout = pack_documents([[5, 6, 7], [8, 9]], 4, EOS, PAD, weights=[2.0, 0.5])
    # row 1: doc 0 (4 tokens, w=2); row 2: doc 1 (3 real tokens, w=0.5)
    assert layout.weights == pytest.approx([2.0, 0.5])
    layout = pack_documents([[5], [8, 9, 10, 11]], 4, EOS, PAD, weights=[3.0, 1.0])
    # row 1: 2 tokens of doc 0 and 2 of doc 1; row 2: the 3 remaining tokens of doc 1
    assert layout.weights == pytest.approx([2.0, 1.0])


def test_padded_rows_hold_one_document_piece_each_with_a_mask():
    layout = pad_documents([[5, 6], [7, 8, 9, 10, 11]], 4, EOS, PAD, weights=[1.5, 0.5])
    assert rows_of(layout, "input_ids") == [[5, 6, EOS, PAD], [7, 8, 9, 10], [11, EOS, PAD, PAD]]
    assert rows_of(layout, "attention_mask") == [[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]]
    assert rows_of(layout, "labels") == [[-100, 6, EOS, -100], [-100, 8, 9, 10], [-100, EOS, -100, -100]]
    assert layout.weights == [1.5, 0.5, 0.5]
    assert layout.real_tokens == 9 and "position_ids" not in layout.columns


def test_classification_rows_are_framed_cut_at_max_len_and_never_padded():
    CLS, SEP = 101, 102
    framed = frame_documents([[5, 6, 7, 8, 9], [4]], 5, [CLS], [SEP])
    rows = [framed.ids[a:b] for a, b in zip(framed.offsets, framed.offsets[1:])]
    assert rows == [[CLS, 5, 6, 7, SEP], [CLS, 4, SEP]]  # the cut keeps the end marker
    assert framed.truncated == 1 and framed.real_tokens == 4
    decoder = frame_documents([[5, 6, 7]], 3, [], [EOS])
    assert decoder.ids == [5, 6, EOS] and decoder.truncated == 1
    with pytest.raises(ValueError, match="no room"):
        frame_documents([[5]], 2, [CLS], [SEP])


def test_packing_real_token_share_stays_above_99_percent_on_many_documents():
    docs = random_docs(11, count=2000, longest=400)
    assert pack_documents(docs, 256, EOS, PAD).efficiency > 0.99
