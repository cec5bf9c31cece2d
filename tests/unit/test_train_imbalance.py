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


def test_the_tuned_threshold_is_the_best_f1_cut_off_of_a_brute_force_search():
    import random

    from application.train.metric_stats import best_f1_threshold

    rng = random.Random(5)
    for _ in range(50):
        truth = [int(rng.random() < 0.1) for _ in range(60)]
        scores = [round(rng.random(), 2) for _ in truth]  # rounded: ties happen
        if not any(truth):
            assert best_f1_threshold(scores, truth) is None
            continue

        def f1_at(cut):
            tp = sum(s >= cut and y for s, y in zip(scores, truth))
            predicted = sum(s >= cut for s in scores)
            return 2 * tp / (predicted + sum(truth))

        threshold, f1 = best_f1_threshold(scores, truth)
        assert threshold in scores and f1 == pytest.approx(f1_at(threshold))
        assert f1 == pytest.approx(max(f1_at(cut) for cut in set(scores)))
    # The rare class ranked first but scored below 0.5 (a 50/50-prior model at a 1% rate): argmax finds
    # none of it, the tuned cut-off all of it.
    assert best_f1_threshold([0.3, 0.2, 0.1, 0.05], [1, 0, 0, 0]) == (0.3, 1.0)


def test_evaluate_predicts_with_the_tuned_cut_off_unless_told_otherwise():
    from application.runs.evaluate import DatasetEvalRequest, decision_rule
    from domain.errors import EvaluationError

    two, ten = ["clean", "vulnerable"], [str(k) for k in range(10)]
    tuned = {"threshold": 0.93, "tuned_on": "validation", "f1": 0.5}
    assert decision_rule(DatasetEvalRequest(), two, tuned)["threshold"] == 0.93
    assert "validation" in decision_rule(DatasetEvalRequest(), two, tuned)["source"]
    assert decision_rule(DatasetEvalRequest(threshold="argmax"), two, tuned) == {"threshold": None, "source": "argmax"}
    assert decision_rule(DatasetEvalRequest(threshold="0.2"), two, tuned)["threshold"] == 0.2
    assert decision_rule(DatasetEvalRequest(), two, None)["threshold"] is None
    assert decision_rule(DatasetEvalRequest(), ten, None)["threshold"] is None
    with pytest.raises(EvaluationError, match="needs a two-label model"):
        decision_rule(DatasetEvalRequest(threshold=0.5), ten, None)
    for bad in ("high", "0", "1.5"):
        with pytest.raises(EvaluationError, match=f"--threshold {bad}: expected a probability"):
            DatasetEvalRequest(threshold=bad)


def test_a_tuned_threshold_is_refused_for_a_causal_lm():
    from application.train.config import TrainConfig

    with pytest.raises(ValueError, match="eval.threshold=tune applies to sequence-classification only"):
        TrainConfig.model_validate({"eval": {"threshold": "tune"}})
