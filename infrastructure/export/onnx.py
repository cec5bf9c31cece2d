"""ONNX for generation: input_ids, attention_mask, position_ids and the past keys/values in;
logits and the present keys/values out (the layout optimum and onnxruntime-genai use), so a
runtime decodes token by token without recomputing the prefix.

Exported with torch's maintained exporter (`torch.onnx.export(dynamo=True)`). optimum-onnx, the
usual tool for this, is not usable here: its only release (0.1.0) requires transformers < 4.58
and optimum 2.1 (checked 2026-11-30), and this project runs transformers 5.
Checked before publishing: logits on two batch shapes (one left-padded), and 16 greedy tokens
decoded through onnxruntime with the cache equal to transformers' `generate`.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from domain.errors import ExportError

GREEDY_TOKENS = 16
PROMPT_LENGTH = 8


def _cache_wrapper(model):
    """`model` as a module over flat tensors: (ids, mask, positions, k0, v0, k1, ...) -> (logits, k0', v0', ...)."""
    import torch
    from transformers import DynamicCache

    class WithCache(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, position_ids, *past):
            cache = DynamicCache(config=self.inner.config)
            for layer in range(len(past) // 2):
                cache.update(past[2 * layer], past[2 * layer + 1], layer)
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             past_key_values=cache, use_cache=True)
            present = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
            return (out.logits, *present)

    return WithCache(model).eval()


def cache_shape(config, batch: int, length: int) -> tuple[int, int, int, int]:
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return batch, heads, length, head_dim


def past_names(layers: int) -> list[str]:
    return [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def _export(model, path: Path) -> None:
    import torch

    layers = model.config.num_hidden_layers
    names = past_names(layers)
    batch, past, total = 2, 3, 3 + 5
    ids = torch.randint(0, model.config.vocab_size, (batch, 5))
    example = (ids, torch.ones(batch, total, dtype=torch.long), torch.arange(past, total).expand(batch, 5),
               *[torch.randn(cache_shape(model.config, batch, past)) for _ in names])
    b, s, p, t = (torch.export.Dim(n) for n in ("batch", "sequence", "past_sequence", "total_sequence"))
    dynamic = {"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: t}, "position_ids": {0: b, 1: s},
               "past": tuple({0: b, 2: p} for _ in names)}
    program = torch.onnx.export(
        _cache_wrapper(model), example, dynamo=True, verbose=False, dynamic_shapes=dynamic,
        input_names=["input_ids", "attention_mask", "position_ids", *names],
        output_names=["logits", *[n.replace("past_key_values", "present") for n in names]])
    program.save(str(path))


def onnx_greedy(session, config, prompt, steps: int) -> list[int]:
    """Greedy decoding through onnxruntime with the KV cache: the prompt once, then one token per run."""
    import numpy as np

    names = past_names(config.num_hidden_layers)
    past = {n: np.zeros(cache_shape(config, 1, 0), dtype=np.float32) for n in names}
    current, seen, out = prompt, 0, []
    for _ in range(steps):
        n = current.shape[1]
        feeds = {"input_ids": current, "attention_mask": np.ones((1, seen + n), dtype=np.int64),
                 "position_ids": np.arange(seen, seen + n, dtype=np.int64)[None], **past}
        logits, *present = session.run(None, feeds)
        out.append(int(logits[0, -1].argmax()))
        past, seen, current = dict(zip(names, present)), seen + n, np.array([[out[-1]]], dtype=np.int64)
    return out


def _logit_drift(session, model, batch, mask) -> float:
    import numpy as np
    import torch

    from infrastructure.export.source import max_abs_diff

    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    empty = {n: np.zeros(cache_shape(model.config, batch.shape[0], 0), dtype=np.float32)
             for n in past_names(model.config.num_hidden_layers)}
    ours = session.run(["logits"], {"input_ids": batch.numpy(), "attention_mask": mask.numpy(),
                                    "position_ids": positions.numpy(), **empty})[0]
    with torch.no_grad():
        theirs = model(input_ids=batch, attention_mask=mask, position_ids=positions).logits
    keep = mask.bool()  # a padded position's logits mean nothing
    return max_abs_diff(torch.from_numpy(ours)[keep], theirs[keep])


def export_onnx(folder: Path) -> dict:
    """Write `folder/model.onnx` for the causal LM saved in `folder`; return its parity figures."""
    missing = [m for m in ("onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"--onnx needs {' and '.join(missing)} (pip install -r requirements.txt)")
    import onnxruntime
    import torch

    from infrastructure.evaluation.loading import load_model
    from infrastructure.export.source import sample_batch

    model = load_model(folder)
    if not hasattr(model, "generate") or model.config.is_encoder_decoder:
        raise ExportError("--onnx: only decoder-only causal LMs are exported (with their KV cache)")
    path = Path(folder) / "model.onnx"
    _export(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = sample_batch(model)
    left_padded = torch.ones_like(batch)
    left_padded[1, :5] = 0
    drift = max(_logit_drift(session, model, batch, torch.ones_like(batch)),
                _logit_drift(session, model, batch, left_padded))
    prompt = batch[:1, :PROMPT_LENGTH]
    with torch.no_grad():
        reference = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                   max_new_tokens=GREEDY_TOKENS, min_new_tokens=GREEDY_TOKENS,
                                   pad_token_id=model.config.pad_token_id or 0)[0, PROMPT_LENGTH:].tolist()
    greedy = onnx_greedy(session, model.config, prompt.numpy(), GREEDY_TOKENS)
    return {"max_abs_diff": drift, "greedy_match": greedy == reference, "greedy_tokens": GREEDY_TOKENS,
            "greedy_onnx": greedy, "greedy_torch": reference, "file": "model.onnx",
            "inputs": ["input_ids", "attention_mask", "position_ids", "past_key_values.N.key/value"]}
