"""Retention and resume choice over checkpoint records (no disk)."""
from __future__ import annotations

from application.train.checkpoint_policy import CheckpointInfo, checkpoints_to_delete, choose_checkpoint, is_better


def records(*pairs):
    return [CheckpointInfo(f"step-{s:06d}", s, m) for s, m in pairs]


def test_keeps_the_n_lowest_plus_the_latest_in_min_mode():
    ckpts = records((10, 3.0), (20, 2.0), (30, 2.5), (40, 1.5), (50, 2.8))
    assert checkpoints_to_delete(ckpts, keep_best=2, mode="min") == ["step-000010", "step-000030"]


def test_keeps_the_n_highest_plus_the_latest_in_max_mode():
    ckpts = records((10, 0.3), (20, 0.9), (30, 0.5), (40, 0.7), (50, 0.1))
    assert checkpoints_to_delete(ckpts, keep_best=2, mode="max") == ["step-000010", "step-000030"]


def test_latest_is_kept_even_without_a_metric_and_unscored_ones_go():
    ckpts = records((10, None), (20, 1.0), (30, None))
    assert checkpoints_to_delete(ckpts, keep_best=1, mode="min") == ["step-000010"]


def test_nothing_is_deleted_when_everything_fits():
    assert checkpoints_to_delete(records((10, 1.0), (20, 2.0)), keep_best=3, mode="min") == []
    assert checkpoints_to_delete([], keep_best=1, mode="min") == []


def test_ties_keep_the_earlier_checkpoint():
    ckpts = records((10, 1.0), (20, 1.0), (30, 5.0))
    assert checkpoints_to_delete(ckpts, keep_best=1, mode="min") == ["step-000020"]


def test_choose_latest_and_best():
    ckpts = records((10, 0.2), (20, 0.9), (30, 0.5))
    assert choose_checkpoint(ckpts, "latest", "max").step == 30
    assert choose_checkpoint(ckpts, "best", "max").step == 20
    assert choose_checkpoint(ckpts, "best", "min").step == 10
    assert choose_checkpoint(records((10, None), (20, None)), "best", "min").step == 20
    assert choose_checkpoint([], "latest", "min") is None


def test_is_better_respects_mode_and_min_delta():
    assert is_better(1.0, None, "min")
    assert is_better(0.9, 1.0, "min") and not is_better(0.95, 1.0, "min", min_delta=0.1)
    assert is_better(1.2, 1.0, "max") and not is_better(1.05, 1.0, "max", min_delta=0.1)
