"""Early stopping, plateau cuts, running statistics, classification scores, the lr schedule."""
from __future__ import annotations

import math
import statistics

import pytest

from application.train.early_stopping import EarlyStopping, PlateauCuts
from application.train.metric_stats import RunningStats, classification_scores


def test_early_stopping_triggers_after_patience_evaluations_without_improvement():
    stopper = EarlyStopping("min", patience=2, min_delta=0.01)
    decisions = [stopper.update(v, step) for step, v in [(1, 3.0), (2, 2.0), (3, 1.995), (4, 2.5)]]
    assert decisions == [False, False, False, True]
    assert (stopper.best, stopper.best_step) == (2.0, 2)


def test_early_stopping_resets_on_improvement_and_never_stops_without_patience():
    stopper = EarlyStopping("max", patience=2)
    assert [stopper.update(v, s) for s, v in enumerate([0.5, 0.4, 0.6, 0.5, 0.7])] == [False] * 5
    never = EarlyStopping("min")
    assert not any(never.update(1.0, s) for s in range(10))


def test_early_stopping_state_round_trips():
    stopper = EarlyStopping("min", patience=3)
    stopper.update(1.0, 5)
    stopper.update(2.0, 6)
    assert EarlyStopping(**stopper.state()) == stopper


def test_plateau_cuts_the_scale_after_patience():
    cuts = PlateauCuts("min", factor=0.5, patience=1)
    for value in [1.0, 1.1, 1.2]:
        cuts.update(value)
    assert cuts.scale == 0.5
    cuts.update(0.5)
    assert cuts.scale == 0.5


def test_running_stats_match_the_statistics_module():
    values = [3.0, 1.5, 4.25, -2.0, 8.0, 0.5]
    stats = RunningStats()
    for v in values:
        stats.add(v)
    assert stats.mean == pytest.approx(statistics.fmean(values))
    assert stats.std == pytest.approx(statistics.pstdev(values))
    assert (stats.min, stats.max, stats.count) == (-2.0, 8.0, 6)
    assert RunningStats(**stats.state()).summary() == stats.summary()


def test_classification_scores_macro_average():
    # truth rows, predicted columns: class 0 perfect, class 1 half right, class 2 never predicted
    confusion = [[4, 0, 0], [1, 1, 0], [0, 2, 0]]
    scores = classification_scores(confusion)
    assert scores["accuracy"] == pytest.approx(5 / 8)
    p = [4 / 5, 1 / 3, 0.0]
    r = [1.0, 0.5, 0.0]
    f = [2 * a * b / (a + b) if a + b else 0.0 for a, b in zip(p, r)]
    assert scores["precision"] == pytest.approx(sum(p) / 3)
    assert scores["recall"] == pytest.approx(sum(r) / 3)
    assert scores["f1"] == pytest.approx(sum(f) / 3)


def test_lr_schedule_warms_up_then_follows_its_shape():
    from infrastructure.training.setup import lr_factor

    flat = PlateauCuts("min")
    assert [lr_factor(s, 4, 20, "cosine", flat) for s in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lr_factor(12, 4, 20, "cosine", flat) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(20, 4, 20, "linear", flat) == 0.0
    flat.scale = 0.25
    assert lr_factor(10, 4, 20, "reduce_on_plateau", flat) == 0.25
