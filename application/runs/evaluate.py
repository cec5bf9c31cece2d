"""evaluate: a model -> perplexity / classification metrics, or pass@k on a code benchmark.

The pure parts (the pass@k estimator, program assembly, stop sequences, classification
metrics) live here with the use cases; generation, model loading and the sandbox are passed in.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import xxhash

from application.train.metric_stats import average_precision, classification_scores, per_class_table
from domain.errors import EvaluationError
from domain.ports import Storage

# HumanEval's own stop sequences (Chen et al. 2021): a completion ends where the next
# top-level statement would begin.
DEFAULT_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")
PROBLEM_KEYS = ("task_id", "prompt", "test", "entry_point")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021).

    Computed as a running product, 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms the
    huge binomials (n=200, k=100 would overflow a float).

    Args:
        n: Samples generated. c: Samples that passed. k: Budget of attempts.
    """
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def truncate_at_stops(text: str, stops: Iterable[str]) -> str:
    """Cut a completion at the earliest stop sequence."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def build_program(problem: dict, completion: str) -> str:
    """What the harness runs: prompt + completion + the problem's tests + `check(entry_point)`."""
    return (f"{problem['prompt']}{completion}\n\n{problem['test']}\n\n"
            f"check({problem['entry_point']})\n")


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str],
                           scores: Sequence[float] | None = None) -> dict:
    """Accuracy, per-class and macro precision/recall/F1, the confusion matrix, and with two labels
    and `scores` (probability of label 1) the PR-AUC of label 1.

    `confusion[i][j]` counts examples of true class i predicted as class j. Per-class and macro
    figures come from `application.train.metric_stats`, the same code training's evaluation uses.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} labels but {len(y_pred)} predictions")
    size = len(labels)
    confusion = [[0] * size for _ in range(size)]
    for truth, guess in zip(y_true, y_pred, strict=True):
        confusion[truth][guess] += 1
    macro = classification_scores(confusion)
    metrics = {
        "examples": len(y_true),
        "accuracy": macro["accuracy"],
        "macro_precision": macro["precision"],
        "macro_recall": macro["recall"],
        "macro_f1": macro["f1"],
        "per_class": per_class_table(confusion, list(labels)),
        "labels": list(labels),
        "confusion_matrix": confusion,
    }
    if size == 2 and scores is not None:
        metrics["pr_auc"] = average_precision(list(scores), list(y_true))
    return metrics


class RunOutcome(Protocol):
    """What the sandbox reports for one program."""

    status: str
    seconds: float

    @property
    def passed(self) -> bool: ...

    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class BenchmarkRequest:
    """A behavioural evaluation: n completions per problem, each run against the tests."""

    benchmark: str = "humaneval"
    """`humaneval` or a JSONL file in the same format."""
    n: int = 1
    """Completions sampled per problem."""
    ks: tuple[int, ...] = (1,)
    """The k of each unbiased pass@k reported; each 1 <= k <= n."""
    temperature: float = 0.0
    """Sampling temperature; 0 = greedy."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    max_new_tokens: int = 256
    """Longest completion."""
    stops: tuple[str, ...] = DEFAULT_STOPS
    """A completion is cut at the first of these."""
    oracle: bool = False
    """Run the canonical solutions instead of a model's (checks the benchmark and the sandbox)."""
    limit: int | None = None
    """First N problems only; None = all."""
    workers: int = 4
    """Programs run in the sandbox at once."""
    timeout: float = 10.0
    """Wall-time limit of one program, seconds."""
    seed: int = 0
    """Base of every sample's sampling seed (see `sample_seeds`)."""

    def __post_init__(self):
        if self.n < 1:
            raise EvaluationError(f"--n {self.n}: need at least one sample per problem")
        bad = [k for k in self.ks if not 1 <= k <= self.n]
        if bad:
            raise EvaluationError(f"--k {bad[0]}: pass@k needs 1 <= k <= n (n={self.n})")
        if self.oracle and self.n != 1:
            raise EvaluationError("--oracle runs each canonical solution once: use --n 1")


def sample_seeds(seed: int, task_id: str, n: int) -> list[int]:
    """One sampling seed per (problem, sample), distinct across problems and samples.

    Restarting one seed per problem made sample k of every problem draw the same random numbers,
    so samples were correlated across problems and pass@k was biased. Each seed is recorded in
    samples.jsonl, so any single sample can be drawn again.
    """
    return [xxhash.xxh64_intdigest(f"{seed}\0{task_id}\0{i}".encode()) % 2**31 for i in range(n)]


@dataclass(frozen=True)
class BenchmarkResult:
    summary: dict
    samples: list[dict] = field(repr=False)


def check_problems(problems: list[dict], source: str, oracle: bool) -> None:
    for number, problem in enumerate(problems, 1):
        needed = PROBLEM_KEYS + (("canonical_solution",) if oracle else ())
        missing = [key for key in needed if not isinstance(problem.get(key), str)]
        if missing:
            raise EvaluationError(f"{source}: problem {number} has no {missing[0]!r}")
    if not problems:
        raise EvaluationError(f"{source}: no problems")


def run_benchmark(
    request: BenchmarkRequest,
    *,
    problems: list[dict],
    complete: Callable[..., list[str]] | None,
    execute: Callable[[Iterable[str]], Iterator[tuple[int, RunOutcome]]],
    output: Storage,
    prefix: str = "",
    describe: dict | None = None,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> BenchmarkResult:
    """Generate (or take the canonical) completions, run them sandboxed, score pass@k.

    Args:
        complete: (prompt, n, seeds=...) -> n raw completions, sample i drawn with seeds[i] (seeds is
            None for greedy decoding); None with `request.oracle`.
        execute: programs (a lazy iterable) -> (index, outcome) pairs in any order.
        output: Where `{prefix}samples.jsonl` and `{prefix}summary.json` (last) go.
        describe: Extra facts for the summary (model, sandbox isolation, limits).
    """
    problems = problems[: request.limit] if request.limit else problems
    check_problems(problems, request.benchmark, request.oracle)
    samples: list[dict] = []
    total = len(problems) * (1 + request.n)  # one generation step per problem, one run per sample
    progress = {"generated": 0, "ran": 0}  # both sides advance the same bar

    def programs() -> Iterator[str]:
        # A generator: the sandbox starts on the first problems while later ones are generated.
        for problem in problems:
            seeds = sample_seeds(request.seed, problem["task_id"], request.n) if request.temperature > 0 else None
            if request.oracle:
                completions = [problem["canonical_solution"]]
            else:
                raw = complete(problem["prompt"], request.n, seeds=seeds)
                completions = [truncate_at_stops(c, request.stops) for c in raw]
            for i, completion in enumerate(completions):
                samples.append({"task_id": problem["task_id"], "sample": i, "seed": seeds[i] if seeds else None,
                                "completion": completion})
                yield build_program(problem, completion)
            progress["generated"] += 1
            on_progress(sum(progress.values()), total)

    runs = execute(programs())
    interrupted = False
    try:
        for index, outcome in runs:
            samples[index].update(passed=outcome.passed, status=outcome.status, reason=outcome.reason,
                                  seconds=round(outcome.seconds, 3))
            progress["ran"] += 1
            on_progress(sum(progress.values()), total)
    except KeyboardInterrupt:  # Ctrl-C: running programs are killed, finished samples are kept
        interrupted = True
        if hasattr(runs, "close"):
            runs.close()  # a generator suspended here ends its runs too
    finished = [s for s in samples if "passed" in s]
    summary = summarize(request, problems, finished, describe or {}, interrupted)
    output.write_bytes(f"{prefix}samples.jsonl", "".join(json.dumps(s) + "\n" for s in finished).encode())
    output.write_bytes(f"{prefix}summary.json", json.dumps(summary, indent=2).encode())
    return BenchmarkResult(summary=summary, samples=finished)


def summarize(request: BenchmarkRequest, problems: list[dict], samples: list[dict], describe: dict,
              interrupted: bool = False) -> dict:
    """pass@k averaged over problems, plus counts of how runs ended. After an interruption pass@k
    is over the problems whose n samples all finished; `samples` counts every finished one."""
    requested = len(problems)
    if interrupted:
        ran = Counter(s["task_id"] for s in samples)
        problems = [p for p in problems if ran[p["task_id"]] == request.n]
    passed = {p["task_id"]: 0 for p in problems}
    for sample in samples:
        if sample["task_id"] in passed:
            passed[sample["task_id"]] += bool(sample["passed"])
    statuses: dict[str, int] = {}
    for sample in samples:
        statuses[sample["status"]] = statuses.get(sample["status"], 0) + 1
    scores = {f"pass@{k}": sum(pass_at_k(request.n, c, k) for c in passed.values()) / len(passed)
              if passed else None for k in request.ks}
    return {
        "benchmark": request.benchmark,
        "oracle": request.oracle,
        "interrupted": interrupted,
        "problems": len(problems),
        "problems_requested": requested,
        "samples": len(samples),
        "samples_passed": sum(passed.values()),
        "problems_solved": sum(1 for c in passed.values() if c),
        **scores,
        "statuses": statuses,
        "request": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(request).items()
                    if k != "benchmark"},
        **describe,
    }


@dataclass(frozen=True)
class DatasetEvalRequest:
    """Loss / perplexity or classification metrics of a model on one split of a dataset."""

    split: str = "test"
    """train, validation or test."""
    max_batches: int | None = None
    """Stop after this many batches; None = the whole split."""
    batch_size: int = 8
    """Rows per forward pass."""
    threshold: float | str | None = None
    """Two-class models: predict label 1 when its probability is at least this; `argmax` = the likelier
    label; None = the cut-off training tuned (final/threshold.json, `eval.threshold: tune`), else argmax."""

    def __post_init__(self):
        if self.threshold is not None and self.threshold != "argmax":
            try:
                value = float(self.threshold)
            except ValueError:
                value = -1.0
            if not 0.0 < value <= 1.0:
                raise EvaluationError(f"--threshold {self.threshold}: expected a probability in (0, 1] or 'argmax'")
            object.__setattr__(self, "threshold", value)


def decision_rule(request: DatasetEvalRequest, labels: list[str], tuned: dict | None) -> dict:
    """How a classifier's predictions are made: {"threshold": cut-off on label 1 or None (argmax),
    "source": why}. A cut-off needs two labels."""
    if request.threshold is not None and request.threshold != "argmax" and len(labels) != 2:
        raise EvaluationError(f"--threshold {request.threshold}: a cut-off needs a two-label model "
                              f"(this one has {len(labels)})")
    if request.threshold == "argmax" or len(labels) != 2:
        return {"threshold": None, "source": "argmax"}
    if request.threshold is not None:
        return {"threshold": request.threshold, "source": "--threshold"}
    if tuned:
        return {"threshold": float(tuned["threshold"]),
                "source": f"tuned on the {tuned.get('tuned_on', 'validation')} rows (F1 {tuned.get('f1', 0):.4f} there)"}
    return {"threshold": None, "source": "argmax"}


def output_location(run: str | None, output: str | None) -> str:
    """Where evaluation results go: `--output`, else the run's `eval/` folder."""
    if output:
        return output
    if not run:
        raise EvaluationError("--output is needed when there is no --run to write into")
    return f"{run.rstrip('/')}/eval"


def benchmark_label(request: BenchmarkRequest) -> str:
    """Folder name for a benchmark's results: `humaneval`, `humaneval-oracle`, `mybench`..."""
    name = request.benchmark.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".gz").removesuffix(".jsonl")
    return f"{name}-oracle" if request.oracle else name


def evaluate_dataset(
    request: DatasetEvalRequest,
    *,
    stats: dict,
    model_task: str,
    perplexity: Callable[[str, int | None, int], dict],
    predict: Callable[[str, int | None, int], tuple[list[int], list[int], list[list[float]]]],
    output: Storage,
    key: str = "dataset_eval.json",
    describe: dict | None = None,
    tuned: dict | None = None,
) -> dict:
    """Perplexity for a causal-LM dataset; accuracy/P/R/F1/confusion for a classification one,
    predicted by `decision_rule` (`tuned`: the model's final/threshold.json, if any)."""
    task = stats.get("task", "generation")
    classify = task in ("classification", "security")
    if classify != (model_task == "sequence-classification"):
        raise EvaluationError(f"a {model_task} model cannot be evaluated on a {task!r} dataset")
    if classify:
        label_map = stats.get("label_map")
        if not label_map:
            raise EvaluationError(f"dataset task {task!r} but stats.json has no label_map")
        # {name: id} from the dataset verb, or a list of names in id order
        labels = ([name for name, _ in sorted(label_map.items(), key=lambda item: item[1])]
                  if isinstance(label_map, dict) else [str(name) for name in label_map])
        decision = decision_rule(request, labels, tuned)
        y_true, y_pred, probabilities = predict(request.split, request.max_batches, request.batch_size)
        if decision["threshold"] is not None:
            y_pred = [int(p[1] >= decision["threshold"]) for p in probabilities]
        metrics = classification_metrics(y_true, y_pred, labels,
                                         [p[1] for p in probabilities] if len(labels) == 2 else None)
        metrics["decision"] = decision
    else:
        metrics = perplexity(request.split, request.max_batches, request.batch_size)
        metrics["perplexity"] = math.exp(min(metrics["loss"], 50.0))  # exp(50) ~ 5e21: "useless"
        # The loss is over labels != -100: in an instruct dataset, completions and assistant turns only.
        metrics["targets"] = "completion and assistant tokens" if task == "instruct" else "all tokens"
    result = {"task": task, "split": request.split, **metrics, **(describe or {})}
    output.write_bytes(key, json.dumps(result, indent=2).encode())
    return result
