"""The evaluate use cases that read a finished run, driven through FakeStorage and small fakes."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from application.runs.evaluate import BenchmarkRequest, DatasetEvalRequest
from application.runs.evaluate_run import evaluate_run_on_benchmark, evaluate_run_on_dataset
from domain.errors import StorageError
from domain.layout import RUN_MANIFEST, RUN_SUMMARY, STATS
from tests.unit.fakes import FakeStorage


def storages(**named: FakeStorage):
    return lambda uri: named[uri]


def finished_run(dataset_uri: str) -> FakeStorage:
    run = FakeStorage("fake://run")
    run.write_bytes("final/model.txt", b"weights")
    run.write_bytes(RUN_MANIFEST, json.dumps({"dataset": {"uri": dataset_uri}}).encode())
    run.write_bytes(RUN_SUMMARY, b"{}")
    return run


class LabelScorer:
    """A ModelScorer that predicts label 1 for everything, and remembers what it was loaded from."""

    task = "sequence-classification"
    threshold = None  # no tuned cut-off: argmax

    def __init__(self, folder: Path, data_dir: Path):
        self.model_text = (folder / "model.txt").read_text()
        self.stats = json.loads((data_dir / STATS).read_text())

    def perplexity(self, split, max_batches, batch_size):
        raise AssertionError("a classifier has no perplexity")

    def predict(self, split, max_batches, batch_size):
        return [0, 1, 1], [1, 1, 1], [[0.4, 0.6], [0.2, 0.8], [0.1, 0.9]]  # truth, predicted, probabilities


def test_dataset_evaluation_finds_the_runs_model_and_dataset_and_writes_metrics():
    data = FakeStorage("fake://data", {STATS: json.dumps({"task": "classification",
                                                         "label_map": {"no": 0, "yes": 1}}).encode()})
    run, out = finished_run("fake://data"), FakeStorage("fake://out")
    loaded = []

    def load_scorer(folder, data_dir):
        loaded.append(LabelScorer(folder, data_dir))
        return loaded[-1]

    result = evaluate_run_on_dataset(DatasetEvalRequest(split="test"), run="fake://run", model=None, dataset=None,
                                     output="fake://out", open_storage=storages(**{"fake://run": run,
                                     "fake://data": data, "fake://out": out}), load_scorer=load_scorer)
    assert loaded[0].model_text == "weights" and loaded[0].stats["task"] == "classification"
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["model"] == "fake://run" and result["dataset"] == "fake://data"
    assert out.read_json("dataset-test.json") == result


def test_an_unfinished_run_is_refused_in_one_line():
    run = finished_run("fake://data")
    run.delete(RUN_SUMMARY)
    with pytest.raises(StorageError) as error:
        evaluate_run_on_dataset(DatasetEvalRequest(), run="fake://run", model=None, dataset=None, output="fake://out",
                                open_storage=storages(**{"fake://run": run}), load_scorer=LabelScorer)
    assert "\n" not in str(error.value) and RUN_SUMMARY in str(error.value)


@dataclass
class Outcome:
    passed: bool
    status: str = "ok"
    seconds: float = 0.0
    reason: str = ""


class InProcessSandbox:
    """The Sandbox port without isolation: runs each program with exec (test programs only)."""

    isolation, warning, limits = "none", "not isolated", Outcome(True)
    memory_bound = "none: test programs only"

    def run_many(self, programs, workers):
        for index, program in enumerate(programs):
            try:
                exec(program, {})
                yield index, Outcome(True)
            except AssertionError:
                yield index, Outcome(False, status="failed", reason="assertion")


PROBLEMS = [{"task_id": f"t/{k}", "prompt": f"def f{k}(x):\n", "entry_point": f"f{k}",
             "canonical_solution": f"    return x + {k}\n",
             "test": f"def check(f):\n    assert f(1) == {1 + k}\n"} for k in range(3)]


def test_benchmark_of_a_run_scores_its_completions_and_writes_the_summary():
    run, out = finished_run("fake://data"), FakeStorage("fake://out")
    folders = []

    def completer(folder):
        folders.append((folder / "model.txt").read_text())
        return lambda prompt, n, seeds=None: ["    return x + 1\n"] * n  # right for t/0 only

    result = evaluate_run_on_benchmark(
        BenchmarkRequest(benchmark="toy.jsonl"), run="fake://run", model=None, output="fake://out",
        open_storage=storages(**{"fake://run": run, "fake://out": out}), load_problems=lambda name: PROBLEMS,
        completer=completer, sandbox=InProcessSandbox())
    assert folders == ["weights"]
    assert result.summary["pass@1"] == pytest.approx(1 / 3)
    assert out.read_json("toy/summary.json")["isolation"] == "none"
    assert out.written[-1] == "toy/summary.json"


def test_oracle_benchmark_needs_no_model():
    out = FakeStorage("fake://out")
    result = evaluate_run_on_benchmark(
        BenchmarkRequest(benchmark="toy.jsonl", oracle=True), run=None, model=None, output="fake://out",
        open_storage=storages(**{"fake://out": out}), load_problems=lambda name: PROBLEMS,
        completer=lambda folder: pytest.fail("the oracle loads no model"), sandbox=InProcessSandbox())
    assert result.summary["pass@1"] == 1.0 and out.exists("toy-oracle/summary.json")
