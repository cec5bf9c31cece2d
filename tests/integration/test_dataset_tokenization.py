"""Tokenizer training, loading and batched (multi-process) encoding on real tokenizers."""
from __future__ import annotations

import random

import pytest

from application.dataset.tasks import FIM_TOKENS
from domain.errors import DatasetError
from infrastructure.data.tokenization import (
    load_tokenizer, tokenize_texts, tokenizer_fingerprint, train_bpe_tokenizer,
)
from tests.dataset_fixtures import random_module

rng = random.Random(6)
TEXTS = [random_module(rng) for _ in range(1500)]  # 2 batches of up to 1000, so workers share the work


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(TEXTS[:200], 500, FIM_TOKENS)


def test_multi_process_encoding_equals_one_process_and_the_plain_call(tokenizer):
    one = tokenize_texts(tokenizer, TEXTS, num_proc=1)
    assert tokenize_texts(tokenizer, TEXTS, num_proc=2) == one
    assert one == tokenizer(TEXTS, add_special_tokens=False)["input_ids"]


def test_trained_tokenizer_keeps_special_tokens_whole_and_inside_its_vocabulary(tokenizer):
    assert tokenizer.eos_token_id == 0 and tokenizer.pad_token_id == 1
    ids = tokenize_texts(tokenizer, [f"{FIM_TOKENS[0]}x = 1{FIM_TOKENS[2]}y{FIM_TOKENS[1]}"])[0]
    sentinel_ids = tokenizer.convert_tokens_to_ids(list(FIM_TOKENS))
    assert ids[0] == sentinel_ids[0] and set(sentinel_ids) <= set(ids)
    assert max(sentinel_ids) < len(tokenizer) <= 500


def test_a_saved_tokenizer_loads_back_gains_missing_sentinels_and_has_a_fingerprint(tokenizer, tmp_path):
    plain = train_bpe_tokenizer(TEXTS[:50], 400)
    plain.save_pretrained(str(tmp_path / "tok"))
    before = tokenizer_fingerprint(str(tmp_path / "tok"))
    loaded = load_tokenizer(tmp_path / "tok", FIM_TOKENS)
    assert len(loaded) == len(plain) + 3
    assert tokenize_texts(loaded, [FIM_TOKENS[1]])[0] == [loaded.convert_tokens_to_ids(FIM_TOKENS[1])]
    (tmp_path / "tok" / "tokenizer_config.json").write_text("{}")
    assert tokenizer_fingerprint(str(tmp_path / "tok")) != before
    with pytest.raises(DatasetError, match="--tokenizer"):
        load_tokenizer(tmp_path / "missing")
