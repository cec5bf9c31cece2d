"""Report assembly without disk or matplotlib: curves, chart grouping, best checkpoint, Markdown."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from application.runs.report import best_checkpoint, build_report, chart_plan, curves

ROWS = [{"step": 2, "loss": 3.0, "lr": 0.1, "tokens_per_s": 900.0},
        {"step": 1, "loss": 4.0, "lr": 0.05},
        {"step": 2, "eval_loss": 3.5, "eval_accuracy": 0.5, "is_best": True},
        {"step": 4, "loss": 2.0, "lr": 0.1},
        {"step": 4, "eval_loss": 3.7, "eval_accuracy": 0.75}]


class MemoryStorage:
    def __init__(self, uri="memory://run", objects=None):
        self.uri, self.objects = uri, dict(objects or {})

    def exists(self, key):
        return key in self.objects

    def list(self, prefix=""):
        return sorted(k for k in self.objects if k.startswith(prefix))

    def read_bytes(self, key):
        return self.objects[key]

    def write_bytes(self, key, data):
        self.objects[key] = data


def test_curves_are_in_step_order_and_skip_non_metrics():
    series = curves(ROWS)
    assert series["loss"] == ([1, 2, 4], [4.0, 3.0, 2.0])
    assert series["eval_loss"] == ([2, 4], [3.5, 3.7])
    assert "tokens_per_s" not in series and "is_best" not in series


def test_loss_and_eval_loss_share_a_chart_other_metrics_get_their_own():
    plan = chart_plan(curves(ROWS))
    assert [(name, sorted(series)) for name, _, _, series in plan] == [
        ("loss.png", ["eval_loss", "loss"]), ("lr.png", ["lr"]), ("eval_accuracy.png", ["eval_accuracy"])]
    assert chart_plan(curves([{"step": 1, "eval_pass@1": 0.25}]))[0][0] == "eval_pass_1.png"


def test_best_checkpoint_from_the_summary_or_from_metrics():
    kept = {"checkpoints/step-000002"}
    assert best_checkpoint({}, ROWS, kept) == {"metric": "eval_loss", "value": 3.5, "step": 2,
                                               "checkpoint": "checkpoints/step-000002"}
    recorded = {"best": {"metric": "eval_accuracy", "value": 0.75, "step": 4}}
    assert best_checkpoint(recorded, ROWS, kept)["checkpoint"] is None  # pruned: said so, not invented
    assert best_checkpoint({}, [{"step": 1, "loss": 2.0}], set()) is None


def test_report_markdown_names_every_part_and_writes_it_last():
    run = MemoryStorage(objects={
        "summary.json": json.dumps({"steps": 4, "eval_loss_before": 4.5, "eval_loss_after": 3.7}).encode(),
        "metrics.jsonl": ("".join(json.dumps(r) + "\n" for r in ROWS) + '{"step": 5, "lo').encode(),  # torn tail
        "config.resolved.json": json.dumps({"training": {"lr": 0.1}}).encode(),
        "run_manifest.json": json.dumps({"dataset": {"uri": "s3://b/ds", "stats": {"task": "generation"}},
                                         "collection": {"uri": "s3://b/col",
                                                        "sources": [{"repo": "r", "commit": "abc"}]}}).encode(),
        "checkpoints/step-000002/model.safetensors": b"x",
        "eval/humaneval/summary.json": json.dumps({"pass@1": 0.125, "problems": 8, "samples": 8}).encode(),
        "eval/dataset-test.json": json.dumps({"loss": 1.5, "perplexity": 4.48}).encode(),
    })
    out = MemoryStorage("memory://report")
    drawn = []
    result = build_report(run, out, plot=lambda title, ylabel, series: drawn.append(series) or b"PNG",
                          now=lambda: datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert list(out.objects) == ["loss.png", "lr.png", "eval_accuracy.png", "report.md"]
    assert drawn[0]["loss"] == ([1, 2, 4], [4.0, 3.0, 2.0])
    md = out.objects["report.md"].decode()
    for part in ("eval_loss 3.5 at step 2: `checkpoints/step-000002`", "![loss](loss.png)",
                 "**humaneval**: pass@1 0.125", "**dataset-test**: loss 1.5, perplexity 4.48",
                 "dataset: `s3://b/ds`", "r @ abc", "lr: 0.1", "| eval_loss_after | 3.7 |"):
        assert part in md, part
    assert result.figures == ["loss.png", "lr.png", "eval_accuracy.png"]
