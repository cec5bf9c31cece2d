"""Run-folder files on a real disk: the metrics tracker and the checkpoint manager."""
from __future__ import annotations

import csv
import json

import pytest

from domain.errors import TrainingError
from infrastructure.training.checkpoints import CheckpointManager
from infrastructure.training.metrics import MetricsTracker, check_sinks


def test_metrics_are_on_disk_as_they_are_logged_and_a_resume_drops_later_rows(tmp_path):
    tracker = MetricsTracker(tmp_path, ["eval_loss", "eval_perplexity"])
    for step, loss in enumerate([4.0, 3.0, 2.0, 1.0], start=1):
        tracker.log({"step": step, "loss": loss, "lr": 0.1})
    tracker.log({"step": 4, "eval_loss": 1.5, "eval_perplexity": 4.48})
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 5  # before close: flushed per row
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert rows[0]["loss"] == "4.0" and rows[-1]["eval_loss"] == "1.5" and rows[-1]["loss"] == ""
    summary = tracker.summary()
    assert summary["loss"] == {"count": 4, "mean": 2.5, "std": pytest.approx(1.118034), "min": 1.0, "max": 4.0}
    state = tracker.state()
    tracker.close()

    resumed = MetricsTracker(tmp_path, ["eval_loss", "eval_perplexity"], resume_step=2)
    resumed.load_state(state)
    resumed.log({"step": 3, "loss": 2.0, "lr": 0.1})
    resumed.close()
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    assert [r["step"] for r in csv.DictReader((tmp_path / "metrics.csv").open())] == ["1", "2", "3"]


def test_enabled_sinks_that_are_not_installed_fail_in_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name in ("tensorboard", "mlflow") else real(name))
    with pytest.raises(TrainingError, match="tensorboard is not installed"):
        check_sinks(tensorboard=True, mlflow=False)
    with pytest.raises(TrainingError, match="mlflow is not installed"):
        check_sinks(tensorboard=False, mlflow=True)
    check_sinks(tensorboard=False, mlflow=False)


def test_checkpoints_are_sealed_renamed_and_pruned(tmp_path):
    warnings = []
    manager = CheckpointManager(tmp_path / "checkpoints", keep_best=1, mode="max", warn=warnings.append)

    def write(folder):
        (folder / "weights.bin").write_bytes(b"x" * 100)

    for step, metric in [(1, 0.5), (2, 0.9), (3, 0.7), (4, None)]:
        manager.save(step, metric, write)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step-000002", "step-000004"]  # best (0.9) and latest
    assert manager.resolve("best").name == "step-000002" and manager.resolve("latest").name == "step-000004"
    record = json.loads((tmp_path / "checkpoints" / "step-000002" / "checkpoint.json").read_text())
    assert record["files"]["weights.bin"]["size"] == 100 and record["metric"] == 0.9

    (tmp_path / "checkpoints" / "step-000004" / "weights.bin").write_bytes(b"y" * 100)  # same size, other bytes
    assert manager.resolve("latest").name == "step-000002"
    assert "checksum" in warnings[-1]
    with pytest.raises(TrainingError, match="no complete checkpoint"):
        CheckpointManager(tmp_path / "empty", 1, "min").resolve("latest")


def test_rows_not_written_still_count_in_the_running_statistics(tmp_path):
    tracker = MetricsTracker(tmp_path, ["eval_loss"])
    for step in range(1, 11):
        tracker.log({"step": step, "loss": float(step)}, write=step % 5 == 0)
    tracker.close()
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert tracker.summary()["loss"]["count"] == 10 and tracker.summary()["loss"]["mean"] == 5.5
