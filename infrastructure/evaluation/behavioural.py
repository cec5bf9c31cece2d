"""A small behavioural check the trainer can run every N steps: greedy pass@1 on a few problems.

Loss says how well a model predicts the next token; pass@1 says whether its code runs and
passes tests. The two can disagree, which is why the trainer may log both.
"""
from __future__ import annotations

from application.runs.evaluate import DEFAULT_STOPS, build_program, truncate_at_stops
from domain.ports import BehaviouralCheck
from infrastructure.evaluation.benchmarks import load_problems
from infrastructure.evaluation.generation import Completer, Sampling
from infrastructure.sandbox.supervisor import Limits, Sandbox


def pass_at_1(model, tokenizer, problems: list[dict], *, max_new_tokens: int = 128,
              stops: tuple[str, ...] = DEFAULT_STOPS, workers: int = 2, timeout: float = 5.0) -> dict:
    """Greedy pass@1 of `model` on `problems` (HumanEval format), run in the sandbox.

    The model is put in eval mode for generation and returned to the mode it was in.

    Returns:
        {"pass@1": share of problems solved, "problems": how many were tried}
    """
    was_training = model.training
    completer = Completer(model, tokenizer, Sampling(max_new_tokens=max_new_tokens, stops=stops))
    try:
        completions = [truncate_at_stops(completer.complete(p["prompt"], 1)[0], stops) for p in problems]
    finally:
        model.train(was_training)
    programs = [build_program(p, c) for p, c in zip(problems, completions, strict=True)]
    with Sandbox(Limits(wall_seconds=timeout)) as sandbox:
        passed = sum(result.passed for _, result in sandbox.run_many(programs, workers))
    return {"pass@1": passed / len(problems) if problems else 0.0, "problems": len(problems)}


def behavioural_check(benchmark: str, problems: int, max_new_tokens: int) -> BehaviouralCheck:
    """The check the trainer runs every `eval.behavioural_every_steps`: pass@1 on the first
    `problems` problems of `benchmark` (loaded once, here)."""
    chosen = load_problems(benchmark)[:problems]
    return lambda model, tokenizer: pass_at_1(model, tokenizer, chosen, max_new_tokens=max_new_tokens)
