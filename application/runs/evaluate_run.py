"""evaluate a finished run: find its model (and the dataset it was trained on), then score it.

The scoring itself is `application/runs/evaluate.py`; the model loading, generation and sandbox
arrive as ports, so the composition root only builds adapters and calls one of these.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from application.artifacts import fetch_tree, read_json
from application.runs.evaluate import (
    BenchmarkRequest, BenchmarkResult, DatasetEvalRequest, RunOutcome, benchmark_label, evaluate_dataset,
    run_benchmark,
)
from application.runs.reading import choose_dataset, final_model
from domain.layout import STATS
from domain.ports import Storage


class Sandbox(Protocol):
    """Runs programs isolated, several at once (infrastructure/sandbox/supervisor.Sandbox)."""

    isolation: str
    warning: str
    limits: object  # a dataclass of the limits applied; its fields go into the summary
    memory_bound: str  # how the memory of one run is bounded (cgroup, or rlimits x processes)

    def run_many(self, programs: Iterable[str], workers: int) -> Iterator[tuple[int, RunOutcome]]: ...


class ModelScorer(Protocol):
    """A model loaded to score the splits of one dataset folder (infrastructure/evaluation/scoring)."""

    task: str  # `causal-lm` or `sequence-classification`
    threshold: dict | None  # a two-class classifier's tuned cut-off (final/threshold.json), if any

    def perplexity(self, split: str, max_batches: int | None, batch_size: int) -> dict: ...

    def predict(self, split: str, max_batches: int | None,
                batch_size: int) -> tuple[list[int], list[int], list[list[float]]]: ...


def evaluate_run_on_benchmark(
    request: BenchmarkRequest,
    *,
    run: str | None,
    model: str | None,
    output: str,
    open_storage: Callable[[str], Storage],
    load_problems: Callable[[str], list[dict]],
    completer: Callable[[Path], Callable[[str, int], list[str]]],
    sandbox: Sandbox,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> BenchmarkResult:
    """pass@k of a run's final model, a model folder, or (`--oracle`) the canonical solutions.

    Args:
        run, model: Where the model is: a run URI or a local model folder, as the user gave them.
        completer: Model folder -> its `complete(prompt, n)`.
    """
    with tempfile.TemporaryDirectory(prefix="codetrain-eval-") as tmp:
        folder = None if request.oracle else (final_model(open_storage(run), Path(tmp)) if run else Path(model))
        return run_benchmark(
            request, problems=load_problems(request.benchmark),
            complete=None if folder is None else completer(folder),
            execute=lambda programs: sandbox.run_many(programs, request.workers),
            output=open_storage(output), prefix=f"{benchmark_label(request)}/",
            describe={"model": run or model, "isolation": sandbox.isolation,
                      "sandbox_warning": sandbox.warning, "limits": sandbox.limits.__dict__,
                      "memory_bound": sandbox.memory_bound},
            on_progress=on_progress)


def evaluate_run_on_dataset(
    request: DatasetEvalRequest,
    *,
    run: str | None,
    model: str | None,
    dataset: str | None,
    output: str,
    open_storage: Callable[[str], Storage],
    load_scorer: Callable[[Path, Path], ModelScorer],
) -> dict:
    """Score a run's final model (or a model folder) on a split of `dataset`, else of the
    dataset the run was trained on.

    Args:
        load_scorer: (model folder, local dataset folder) -> the loaded model.
    """
    with tempfile.TemporaryDirectory(prefix="codetrain-eval-") as tmp:
        folder = final_model(open_storage(run), Path(tmp)) if run else Path(model)
        data = open_storage(choose_dataset(dataset, open_storage(run) if run else None))
        data_dir = fetch_tree(data, Path(tmp) / "dataset", STATS, "dataset")
        scorer = load_scorer(folder, data_dir)
        return evaluate_dataset(
            request, stats=read_json(data, STATS), model_task=scorer.task,
            perplexity=scorer.perplexity, predict=scorer.predict,
            output=open_storage(output), key=f"dataset-{request.split}.json",
            describe={"model": run or model, "dataset": data.uri}, tuned=scorer.threshold)
