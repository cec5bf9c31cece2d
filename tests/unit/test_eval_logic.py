"""Pure evaluation logic: stop sequences, program assembly, metrics, the benchmark use case."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from application.runs.evaluate import (BenchmarkRequest, DatasetEvalRequest, build_program, classification_metrics,
                                  evaluate_dataset, run_benchmark, truncate_at_stops)
from domain.errors import EvaluationError


class MemoryStorage:
    """A fake Storage: keys in a dict."""

    uri = "memory://"

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def write_bytes(self, key, data):
        self.objects[key] = data

    def read_bytes(self, key):
        return self.objects[key]


@dataclass
class Outcome:
    passed: bool
    status: str = ""
    seconds: float = 0.01
    reason: str = ""


PROBLEMS = [
    {"task_id": f"T/{i}", "prompt": f"def f{i}(x):\n", "test": "def check(f):\n    assert f(1) == 2\n",
     "entry_point": f"f{i}", "canonical_solution": "    return x + 1\n"}
    for i in range(3)
]


def python_execute(programs):
    """Runs programs in-process: enough to score a fake model's completions here."""
    for index, program in enumerate(programs):
        try:
            exec(program, {})
            yield index, Outcome(True, "passed")
        except Exception as exc:  # noqa: BLE001 - any failure of the program is a failed sample
            yield index, Outcome(False, "failed", reason=type(exc).__name__)


def test_truncate_at_the_earliest_stop():
    text = "    return 1\n\ndef other():\n    pass\n#tail"
    assert truncate_at_stops(text, ["\n#", "\ndef "]) == "    return 1\n"
    assert truncate_at_stops("    return 1\n", ["\ndef "]) == "    return 1\n"


def test_program_is_prompt_completion_tests_and_check_call():
    program = build_program(PROBLEMS[0], "    return x + 1\n")
    assert program.startswith("def f0(x):\n    return x + 1\n")
    assert program.rstrip().endswith("check(f0)")
    exec(program, {})  # the canonical program passes its own test


def test_classification_metrics_by_hand():
    # truth: 3 safe (0), 2 vulnerable (1); predicted one safe as vulnerable, one vulnerable as safe
    metrics = classification_metrics([0, 0, 0, 1, 1], [0, 0, 1, 1, 0], ["safe", "vulnerable"])
    assert metrics["confusion_matrix"] == [[2, 1], [1, 1]]
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["per_class"]["safe"]["precision"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["vulnerable"]["recall"] == pytest.approx(1 / 2)
    assert metrics["per_class"]["vulnerable"]["f1"] == pytest.approx(0.5)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)


def test_a_never_predicted_class_has_zero_precision_not_nan():
    metrics = classification_metrics([0, 1], [0, 0], ["a", "b"])
    assert metrics["per_class"]["b"]["precision"] == 0.0
    assert metrics["per_class"]["b"]["f1"] == 0.0


def test_benchmark_scores_a_fake_model_and_writes_samples_then_summary():
    # The "model" answers right on problem 0 always, on problem 1 in one of two samples, never on 2.
    answers = {"def f0(x):\n": ["    return x + 1\n"] * 2,
               "def f1(x):\n": ["    return x + 1\n\ndef junk(): pass", "    return x\n"],
               "def f2(x):\n": ["    return 0\n"] * 2}
    storage = MemoryStorage()
    progress = []
    result = run_benchmark(BenchmarkRequest(n=2, ks=(1, 2)), problems=PROBLEMS,
                           complete=lambda prompt, n, seeds=None: answers[prompt][:n], execute=python_execute,
                           output=storage, prefix="he/", on_progress=lambda d, t: progress.append((d, t)))
    assert result.summary["pass@1"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert result.summary["pass@2"] == pytest.approx((1 + 1 + 0) / 3)
    assert result.summary["problems_solved"] == 2
    rows = [json.loads(line) for line in storage.objects["he/samples.jsonl"].decode().splitlines()]
    assert len(rows) == 6 and rows[2]["completion"] == "    return x + 1\n"  # stop sequence applied
    assert json.loads(storage.objects["he/summary.json"]) == result.summary
    assert progress[-1] == (9, 9)


def test_oracle_uses_canonical_solutions_and_needs_them():
    result = run_benchmark(BenchmarkRequest(oracle=True), problems=PROBLEMS, complete=None,
                           execute=python_execute, output=MemoryStorage())
    assert result.summary["pass@1"] == 1.0
    no_solution = [{k: v for k, v in PROBLEMS[0].items() if k != "canonical_solution"}]
    with pytest.raises(EvaluationError, match="canonical_solution"):
        run_benchmark(BenchmarkRequest(oracle=True), problems=no_solution, complete=None,
                      execute=python_execute, output=MemoryStorage())


@pytest.mark.parametrize("kwargs,message", [({"n": 2, "ks": (3,)}, "--k 3"), ({"n": 0}, "--n 0"),
                                            ({"oracle": True, "n": 2}, "--n 1")])
def test_bad_requests_are_user_errors(kwargs, message):
    with pytest.raises(EvaluationError, match=message):
        BenchmarkRequest(**kwargs)


def test_dataset_eval_picks_metrics_by_task():
    storage = MemoryStorage()
    ppl = evaluate_dataset(DatasetEvalRequest(), stats={"task": "generation"}, model_task="causal-lm",
                           perplexity=lambda split, mb, bs: {"loss": 2.0, "tokens": 10},
                           predict=None, output=storage)
    assert ppl["perplexity"] == pytest.approx(7.389056, rel=1e-6)
    cls = evaluate_dataset(DatasetEvalRequest(), stats={"task": "security", "label_map": {"safe": 0, "vuln": 1}},
                           model_task="sequence-classification",
                           perplexity=None, output=storage,
                           predict=lambda split, mb, bs: ([0, 1, 1], [0, 1, 0], [[.6, .4], [.2, .8], [.7, .3]]))
    assert cls["labels"] == ["safe", "vuln"] and cls["accuracy"] == pytest.approx(2 / 3)
    # vuln ranked: 0.8 (hit, precision 1), 0.4 (miss), 0.3 (hit, precision 2/3): AP = (1 + 2/3) / 2
    assert cls["pr_auc"] == pytest.approx(5 / 6)
    assert cls["per_class"]["vuln"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert json.loads(storage.objects["dataset_eval.json"])["confusion_matrix"] == [[1, 0], [1, 1]]


def test_dataset_eval_refuses_a_model_of_the_other_kind():
    with pytest.raises(EvaluationError, match="causal-lm model cannot be evaluated on a 'classification'"):
        evaluate_dataset(DatasetEvalRequest(), stats={"task": "classification", "label_map": ["a", "b"]},
                         model_task="causal-lm", perplexity=None, predict=None, output=MemoryStorage())


def test_output_and_label_names():
    from application.runs.evaluate import benchmark_label, output_location

    assert output_location("s3://b/runs/r1/", None) == "s3://b/runs/r1/eval"
    assert output_location(None, "out") == "out"
    with pytest.raises(EvaluationError, match="--output"):
        output_location(None, None)
    assert benchmark_label(BenchmarkRequest(oracle=True)) == "humaneval-oracle"
    assert benchmark_label(BenchmarkRequest(benchmark="/x/my-bench.jsonl.gz")) == "my-bench"


def test_evaluate_and_training_report_the_same_macro_scores_when_a_label_is_absent():
    from application.train.metric_stats import classification_scores

    # Label "c" has no example and is never predicted: it stays out of both macro averages.
    metrics = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b", "c"])
    trained = classification_scores(metrics["confusion_matrix"])
    assert metrics["macro_f1"] == pytest.approx(trained["f1"]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert metrics["macro_precision"] == pytest.approx(trained["precision"])
    assert metrics["macro_recall"] == pytest.approx(trained["recall"])
    assert metrics["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_average_precision_sees_a_classifier_that_never_ranks_the_rare_class_first():
    from application.train.metric_stats import average_precision

    truth = [0] * 99 + [1]
    assert average_precision([0.5] * 100, truth) == pytest.approx(0.01)  # all tied: the positive share
    assert average_precision([0.0] * 99 + [1.0], truth) == 1.0
    assert average_precision([1.0] + [0.5] * 98 + [0.9], truth) == pytest.approx(0.5)  # second in rank
    assert average_precision([0.3, 0.2], [0, 0]) == 0.0
