"""Greedy completion speed of a small model: torch threads 1 vs 2, our stop criterion vs
transformers' `stop_strings`. Interleaved rounds, medians, ratios.

The model is the demo architecture (2-layer, 128-wide GPT-2, 256 positions) built from a config,
with a tokenizer trained on HumanEval prompts; 8 prompts, 64 new tokens, HumanEval stops.
Run: .venv/bin/python bench/generation_speed.py [rounds]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.runs.evaluate import DEFAULT_STOPS  # noqa: E402
from infrastructure.evaluation.benchmarks import load_problems  # noqa: E402
from infrastructure.evaluation.generation import Completer, Sampling  # noqa: E402
from infrastructure.data.tokenization import train_bpe_tokenizer  # noqa: E402


class TransformersStops(Completer):
    """The same completer, stopping with transformers' own `stop_strings` criterion."""

    def complete(self, prompt: str, n: int) -> list[str]:
        import torch

        encoded = self.tokenizer(prompt, return_tensors="pt")
        ids = encoded["input_ids"][:, -(256 - 64):]
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=64,
                                      do_sample=False, pad_token_id=self.tokenizer.pad_token_id,
                                      stop_strings=list(DEFAULT_STOPS), tokenizer=self.tokenizer)
        return [self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)]


def main(rounds: int = 3) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    problems = load_problems("humaneval")
    tokenizer = train_bpe_tokenizer([p["prompt"] + p["canonical_solution"] for p in problems], 2000)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_layer=2, n_embd=128, n_head=4, n_positions=256,
                                       bos_token_id=0, eos_token_id=0, pad_token_id=1)).eval()
    prompts = [p["prompt"] for p in problems[:8]]
    sampling = Sampling(max_new_tokens=64, stops=DEFAULT_STOPS)
    setups = {"ours, 1 thread": (Completer, 1), "ours, 2 threads": (Completer, 2),
              "transformers stop_strings, 1 thread": (TransformersStops, 1)}
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, (cls, threads) in setups.items():
            torch.set_num_threads(threads)
            completer = cls(model, tokenizer, sampling)
            start = time.perf_counter()
            for prompt in prompts:
                completer.complete(prompt, 1)
            times[name].append((time.perf_counter() - start) / len(prompts))
    base = statistics.median(times["ours, 1 thread"])
    print(f"greedy completion, 64 new tokens max, {len(prompts)} HumanEval prompts, {rounds} interleaved rounds")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:38s} median {1000 * median:7.1f} ms/prompt  x{median / base:.2f} vs ours, 1 thread")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
