"""TensorBoard and MLflow, when enabled, receive exactly the metrics written to metrics.jsonl; MLflow
also the report's charts and the final evaluation."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from infrastructure.training.metrics import MetricsTracker

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


def test_tensorboard_and_mlflow_file_store_hold_the_logged_metrics(tmp_path):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = (tmp_path / "mlruns").as_uri()
    tracker = MetricsTracker(tmp_path, ["eval_loss"], tensorboard=True, mlflow_uri=store)
    losses = [4.0, 3.25, 2.5]
    for step, loss in enumerate(losses, start=1):
        tracker.log({"step": step, "loss": loss, "lr": 0.01 * step})
    tracker.log({"step": 3, "eval_loss": 2.75})
    tracker.close()
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in logged if "loss" in r] == losses

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == list(enumerate(losses, start=1))
    assert [(e.step, e.value) for e in events.Scalars("eval/loss")] == [(3, 2.75)]

    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs(experiment_ids=["0"])
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == list(enumerate(losses, start=1))
    assert run.info.status == "FINISHED"


def test_a_training_run_with_both_sinks_enabled_fills_them(tmp_path):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from infrastructure.plots import drawn_series
    from infrastructure.training.loop import run_training
    from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config

    dataset = build_generation_dataset(tmp_path / "ds")
    run_dir = tmp_path / "run"
    config = tiny_config(dataset, run_dir, training={"max_steps": 4, "log_every_steps": 1},
                         tracking={"tensorboard": True, "mlflow": True})
    summary = run_training(config, dataset, run_dir, lambda line: None)
    losses = [(r["step"], r["loss"]) for r in read_metrics(run_dir) if "loss" in r]
    assert len(losses) == 4

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    steps, values = [s for s, _ in losses], [v for _, v in losses]
    scalars = events.Scalars("train/loss")
    assert [e.step for e in scalars] == steps
    assert [e.value for e in scalars] == pytest.approx(values, rel=1e-6)  # TensorBoard keeps float32
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    (run,) = client.search_runs(experiment_ids=["0"])
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == steps
    assert [m.value for m in history] == pytest.approx(values, rel=1e-9)

    # the report's charts are the run's artifacts, drawn from the very losses logged
    charts = {a.path for a in client.list_artifacts(run.info.run_id, "charts")}
    assert {"charts/loss.png", "charts/lr.png"} <= charts
    png = Path(client.download_artifacts(run.info.run_id, "charts/loss.png", str(tmp_path / "fetched")))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn_series(png.read_bytes())["loss"] == [[float(s) for s in steps], pytest.approx(values, rel=1e-9)]
    final = {k: v for k, v in run.data.metrics.items() if k.startswith("final/")}
    assert final == pytest.approx({"final/loss": summary["eval_after"]["eval_loss"],
                                   "final/perplexity": summary["eval_after"]["eval_perplexity"]}, rel=1e-9)


@pytest.mark.slow
def test_one_run_fills_offline_wandb_mlflow_params_and_grouped_tensorboard_tags(tmp_path, monkeypatch):
    """W&B in offline mode (no network, no account) writes inside the run folder; MLflow gets the
    resolved config as params and the run name; TensorBoard tags are grouped; logged loss is the
    mean over the logging interval."""
    pytest.importorskip("wandb")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from infrastructure.training.loop import run_training
    from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)  # nothing may land in the current directory
    dataset = build_generation_dataset(tmp_path / "ds")
    run_dir = tmp_path / "runs" / "lora-demo"
    config = tiny_config(dataset, run_dir, training={"max_steps": 6, "log_every_steps": 3},
                         eval={"every_steps": 3, "max_batches": 2},
                         tracking={"tensorboard": True, "mlflow": True, "wandb": True})
    summary = run_training(config, dataset, run_dir, lambda line: None)

    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    assert list(offline.glob("*.wandb"))  # the run's event log, for `wandb sync`
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "runs"]

    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    (run,) = client.search_runs(experiment_ids=["0"])
    assert run.info.run_name == "lora-demo"
    assert run.data.params["training.max_steps"] == "6" and run.data.params["model.architecture.type"] == "gpt2"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"metrics.jsonl", "summary.json"}

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "eval/loss", "system/tokens_per_s"} <= tags and "loss" not in tags
    rows = [r for r in read_metrics(run_dir) if "loss" in r]
    assert [r["step"] for r in rows] == [3, 6]
    # the written loss is the interval mean: both rows together average to the run's mean step loss
    assert sum(r["loss"] for r in rows) / 2 == pytest.approx(summary["metrics"]["loss"]["mean"], rel=1e-9)
    assert all(r["tokens_per_s"] > 0 for r in rows)
