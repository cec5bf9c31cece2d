"""Sampling completions from a causal LM with transformers' `generate`."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampling:
    """How completions are drawn.

    Attributes:
        temperature: 0 means greedy decoding (then only one distinct sample exists).
        top_p: Nucleus sampling mass.
        max_new_tokens: Longest completion.
        stops: Generation stops once every sequence holds one of these (the caller still cuts
            at the first one: a sequence may run on while others finish).
        seed: Seed for sampling, so the same request draws the same samples.
    """

    temperature: float = 0.0
    top_p: float = 0.95
    max_new_tokens: int = 256
    stops: tuple[str, ...] = ()
    seed: int = 0


class Completer:
    """`complete(prompt, n)` -> n completions (text after the prompt) from one model."""

    def __init__(self, model, tokenizer, sampling: Sampling):
        self.model, self.tokenizer, self.sampling = model.eval(), tokenizer, sampling

    def complete(self, prompt: str, n: int) -> list[str]:
        import torch
        from transformers import set_seed

        s = self.sampling
        encoded = self.tokenizer(prompt, return_tensors="pt")
        greedy = s.temperature <= 0
        kwargs = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        if s.stops:
            kwargs.update(stop_strings=list(s.stops), tokenizer=self.tokenizer)
        set_seed(s.seed)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"],
                max_new_tokens=s.max_new_tokens, num_return_sequences=1 if greedy else n,
                pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        start = encoded["input_ids"].shape[1]
        texts = [self.tokenizer.decode(row[start:], skip_special_tokens=True) for row in out]
        return texts * n if greedy else texts  # greedy: n identical samples, generated once


def completer_for(folder, request, seed: int = 0) -> Completer:
    """A Completer over the model in `folder` (full or adapter), sampling as `request` says."""
    from infrastructure.evaluation.loading import adapter_base, is_adapter, load_model, load_tokenizer

    base = adapter_base(folder) if is_adapter(folder) else None
    model = load_model(folder, "causal-lm")
    tokenizer = load_tokenizer(folder, base)
    sampling = Sampling(temperature=request.temperature, top_p=request.top_p,
                        max_new_tokens=request.max_new_tokens, stops=tuple(request.stops), seed=seed)
    return Completer(model, tokenizer, sampling)
