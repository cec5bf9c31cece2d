"""Imbalanced classification: class loss weights, balanced sampling, per-batch padding, baselines."""
from __future__ import annotations

import math

import pytest

from application.train.metric_stats import unigram_cross_entropy
from infrastructure.training.setup import class_weights


def test_auto_class_weights_give_each_class_the_same_total_weight():
    weights = class_weights("auto", [990, 10])
    assert weights == pytest.approx([1000 / (2 * 990), 1000 / (2 * 10)])
    assert 990 * weights[0] == pytest.approx(10 * weights[1])
    assert class_weights("auto", [5, 0, 5]) == [1.0, 0.0, 1.0]  # absent from train: no weight
    assert class_weights("none", [1, 2]) is None and class_weights([1, 3], [9, 1]) == [1.0, 3.0]


def test_a_weight_list_of_the_wrong_length_is_refused_in_one_line():
    from domain.errors import TrainingError

    with pytest.raises(TrainingError, match="3 weights but the dataset has 2 labels"):
        class_weights([1, 2, 3], [5, 5])


def test_balanced_sampling_draws_a_rare_class_as_often_as_a_common_one():
    from datasets import Dataset

    from infrastructure.training.data import DataPosition, MicroBatches

    labels = [1 if i % 50 == 0 else 0 for i in range(1000)]  # 2% positive
    split = Dataset.from_dict({"input_ids": [[5, 6, 7][: 1 + i % 3] for i in range(1000)], "labels": labels})
    batches = MicroBatches(split, 10, seed=3, pad_id=0, sampling="balanced", class_weights=[1.0, 4.0])
    stream = batches.stream(DataPosition())
    drawn = [next(stream)[0] for _ in range(100)]
    share = sum(int(b["labels"].sum()) for b in drawn) / 1000
    assert 0.4 < share < 0.6
    first = drawn[0]
    assert first["class_weight"].tolist() == [4.0 if y else 1.0 for y in first["labels"].tolist()]
    again = MicroBatches(split, 10, seed=3, pad_id=0, sampling="balanced").stream(DataPosition())
    assert next(again)[0]["labels"].tolist() == first["labels"].tolist()  # same seed, same draw


def test_rows_of_varying_length_are_padded_per_batch_with_a_mask():
    from datasets import Dataset

    from infrastructure.training.data import sequential_batches

    split = Dataset.from_dict({"input_ids": [[101, 7, 102], [101, 7, 8, 9, 102], [101, 102]], "labels": [0, 1, 0]})
    first, second = sequential_batches(split, 2, pad_id=0)
    assert first["input_ids"].tolist() == [[101, 7, 102, 0, 0], [101, 7, 8, 9, 102]]
    assert first["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert second["input_ids"].tolist() == [[101, 102]]  # padded to its own longest row only


def test_unigram_baseline_is_the_cross_entropy_of_smoothed_training_frequencies():
    # training targets: token 0 three times, token 1 once; vocabulary 3 -> p = (4/7, 2/7, 1/7)
    loss = unigram_cross_entropy([3, 1, 0], [1, 1, 0])
    assert loss == pytest.approx(-(math.log(4 / 7) + math.log(2 / 7)) / 2)
    assert unigram_cross_entropy([3, 1, 0], [0, 0, 0]) == 0.0
