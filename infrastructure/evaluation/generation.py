"""Sampling completions from a causal LM with transformers' `generate`."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampling:
    """How completions are drawn."""

    temperature: float = 0.0
    """0 means greedy decoding (then only one distinct sample exists)."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    max_new_tokens: int = 256
    """Longest completion."""
    stops: tuple[str, ...] = ()
    """Generation stops once every sequence holds one of these (the caller still cuts at the first one:
    a sequence may run on while others finish)."""
    seed: int = 0
    """Seed for sampling, so the same request draws the same samples."""


def context_length(model) -> int | None:
    """Longest sequence the model has position embeddings for (None: no fixed limit known)."""
    config = model.config
    return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)


def fit_context(ids, mask, max_new_tokens: int, limit: int | None):
    """Prompt and completion budget that fit the context: the prompt loses its *start* first
    (the end, where the function to complete is, matters most), and the completion gets at
    most half the context."""
    if limit is None or ids.shape[1] + max_new_tokens <= limit:
        return ids, mask, max_new_tokens
    new_tokens = min(max_new_tokens, limit // 2)
    keep = limit - new_tokens
    return ids[:, -keep:], mask[:, -keep:], new_tokens


def _stop_on_text(tokenizer, stops: tuple[str, ...], start: int):
    """Stop each sequence once its decoded completion holds a stop string.

    transformers' own `stop_strings` criterion measured 1.3x (bench/generation_speed.py) to 2.5x
    (the 8000-token demo model) slower per prompt here; decoding the completion each step is
    cheap at these lengths.
    """
    import torch
    from transformers import StoppingCriteria

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            return torch.tensor([any(stop in text for stop in stops) for text in texts], device=input_ids.device)

    return StopOnText()


class Completer:
    """`complete(prompt, n)` -> n completions (text after the prompt) from one model."""

    def __init__(self, model, tokenizer, sampling: Sampling):
        self.model, self.tokenizer, self.sampling = model.eval(), tokenizer, sampling

    def complete(self, prompt: str, n: int, seeds: list[int] | None = None) -> list[str]:
        """n completions; with `seeds`, sample i is drawn alone under seeds[i] (reproducible one by one,
        independent across problems), else all n in one batch under `sampling.seed`."""
        if seeds is not None and self.sampling.temperature > 0:
            return [self._generate(prompt, 1, seed)[0] for seed in seeds[:n]]
        return self._generate(prompt, n, self.sampling.seed)

    def _generate(self, prompt: str, n: int, seed: int) -> list[str]:
        import torch
        from transformers import set_seed

        s = self.sampling
        encoded = self.tokenizer(prompt, return_tensors="pt")
        ids, mask, new_tokens = fit_context(encoded["input_ids"], encoded["attention_mask"], s.max_new_tokens,
                                            context_length(self.model))
        greedy = s.temperature <= 0
        kwargs = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        if s.stops:
            kwargs.update(stopping_criteria=[_stop_on_text(self.tokenizer, s.stops, ids.shape[1])])
        set_seed(seed)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens,
                num_return_sequences=1 if greedy else n, pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        start = ids.shape[1]
        texts = [self.tokenizer.decode(row[start:], skip_special_tokens=True) for row in out]
        return texts * n if greedy else texts  # greedy: n identical samples, generated once


def completer_for(folder, request, seed: int = 0, threads: int | None = None, base: str | None = None) -> Completer:
    """A Completer over the model in `folder` (full or adapter), sampling as `request` says."""
    from infrastructure.evaluation.loading import is_adapter, load_model, load_tokenizer, resolve_base

    model = load_model(folder, "causal-lm", threads, base=base)
    base = resolve_base(folder, base) if is_adapter(folder) else None
    tokenizer = load_tokenizer(folder, base)
    sampling = Sampling(temperature=request.temperature, top_p=request.top_p,
                        max_new_tokens=request.max_new_tokens, stops=tuple(request.stops), seed=seed)
    return Completer(model, tokenizer, sampling)


class TextGenerator:
    """One loaded model streaming completions as they are generated (the `generate` verb).

    A chat model (its tokenizer holds a chat template) receives messages rendered through that
    template; any other model continues the prompt text.
    """

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.chat = bool(getattr(tokenizer, "chat_template", None))

    def encode(self, prompt):
        if isinstance(prompt, str):
            return self.tokenizer(prompt, return_tensors="pt")
        return self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt",
                                                  return_dict=True)

    def stream(self, prompt, request):
        """Pieces of the completion, yielded while `model.generate` runs in a worker thread
        (transformers' TextIteratorStreamer)."""
        from threading import Thread

        import torch
        from transformers import TextIteratorStreamer, set_seed

        encoded = self.encode(prompt)
        ids, mask, new_tokens = fit_context(encoded["input_ids"], encoded["attention_mask"],
                                            request.max_new_tokens, context_length(self.model))
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = dict(do_sample=False) if request.temperature <= 0 else dict(
            do_sample=True, temperature=request.temperature, top_p=request.top_p)
        if request.stops:  # also stop the model, not only the printing
            sampling["stopping_criteria"] = [_stop_on_text(self.tokenizer, tuple(request.stops), ids.shape[1])]
        set_seed(request.seed)

        def run():
            with torch.no_grad():
                self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens,
                                    pad_token_id=self.tokenizer.pad_token_id, streamer=streamer, **sampling)

        worker = Thread(target=run, daemon=True)
        worker.start()
        try:
            yield from streamer
        finally:
            worker.join()


def text_generator(folder, adapter=None, threads: int | None = None) -> TextGenerator:
    """A TextGenerator over the model in `folder` (full or adapter), with `adapter` applied on top."""
    from infrastructure.evaluation.loading import adapter_base, is_adapter, load_model, load_tokenizer

    base = adapter_base(folder) if is_adapter(folder) else None
    model = load_model(folder, "causal-lm", threads, adapter=adapter)
    return TextGenerator(model, load_tokenizer(adapter, folder, base))
