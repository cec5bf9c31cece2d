"""How fast the sandbox scores HumanEval: oracle + broken solutions, 164 programs each.

Interleaved rounds of: namespaces isolation at 1, 2 and 4 workers, user-namespace isolation (what
runs without root get) and resource-limits-only isolation at 2 workers (what kernel isolation costs). Prints medians and ratios.
Run: .venv/bin/python bench/sandbox_throughput.py [rounds]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.runs.evaluate import build_program  # noqa: E402
from infrastructure.evaluation.benchmarks import load_problems  # noqa: E402
from infrastructure.sandbox.supervisor import Limits, Sandbox  # noqa: E402


def main(rounds: int = 3) -> None:
    problems = load_problems("humaneval")
    programs = [build_program(p, p["canonical_solution"]) for p in problems]
    programs += [build_program(p, "    return None\n") for p in problems]
    setups = {"namespaces x1": ("namespaces", 1), "namespaces x2": ("namespaces", 2),
              "namespaces x4": ("namespaces", 4), "userns x2": ("userns", 2), "rlimits x2": ("rlimits", 2)}
    boxes = {name: Sandbox(Limits(wall_seconds=10), isolation=mode) for name, (mode, _) in setups.items()}
    times: dict[str, list[float]] = {name: [] for name in setups}
    try:
        for _ in range(rounds):
            for name, (_, workers) in setups.items():
                start = time.perf_counter()
                results = dict(boxes[name].run_many(programs, workers))
                times[name].append(time.perf_counter() - start)
                passed = sum(r.passed for r in results.values())
                assert passed == len(problems), f"{name}: {passed} passed, expected {len(problems)}"
    finally:
        for box in boxes.values():
            box.close()
    base = statistics.median(times["namespaces x2"])
    print(f"{len(programs)} sandboxed programs (164 oracle + 164 broken), {rounds} interleaved rounds")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:15s} median {median:6.2f} s  {1000 * median / len(programs):5.1f} ms/program  "
              f"x{median / base:.2f} vs namespaces x2")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
