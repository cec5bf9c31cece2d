"""Exporting a trained model: LoRA folded into the base (peft), or the adapter alone.

Every merge is checked: the merged model's logits on a sample batch must match the adapter
model's in fp32, and what was written must reload to the same logits in its dtype. Weights are
written in the base model's dtype (a bf16 base exports bf16) unless another one is asked for.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from infrastructure.evaluation.loading import (is_adapter, load_model, load_tokenizer, model_task, resolve_base,
                                               saved_dtype)
from infrastructure.data.tokenization import save_tokenizer

SAMPLE_SHAPE = (2, 32)  # rows x tokens of the parity batch: enough to exercise every layer


def sample_batch(model, seed: int = 0):
    """Deterministic token ids over the model's vocabulary (no dataset needed)."""
    import torch

    vocab = model.get_input_embeddings().weight.shape[0]
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, SAMPLE_SHAPE, generator=generator)


def logits(model, batch):
    import torch

    with torch.no_grad():
        return model(input_ids=batch).logits.float()


def max_abs_diff(a, b) -> float:
    """Largest absolute difference; NaN anywhere counts as infinitely different."""
    diff = (a - b).abs().max().item()
    return float("inf") if diff != diff else diff


def written_drift(reloaded, model) -> float:
    """Largest difference between the reloaded weights and `model`'s cast to their dtype, one tensor
    at a time (no second copy of the model): 0 unless writing lost something."""
    mine = model.state_dict()
    return max((max_abs_diff(t.float(), mine[k].to(t.dtype).float()) for k, t in reloaded.state_dict().items()
                if k in mine), default=0.0)


def save_weights(model, target: Path, dtype: str) -> None:
    """`model` saved in `dtype` without casting it in place (it stays fp32 for the checks that follow)."""
    import torch

    cast = {k: v.to(getattr(torch, dtype)) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.save_pretrained(str(target), state_dict=cast, safe_serialization=True)
    # save_pretrained records the dtype of the in-memory parameters (fp32): record the written one.
    config = Path(target) / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "dtype": dtype}, indent=2) + "\n")


class ExportSource:
    """The model to export: a run's final/ (or any model folder), loaded in fp32 for the checks and
    written in the base model's dtype (or the one asked for)."""

    def __init__(self, folder: Path, base: str | None = None):
        self.folder = Path(folder)
        self.adapter = is_adapter(self.folder)
        self.task = model_task(self.folder)
        self.base_dtype = saved_dtype(self.folder)
        self.model = load_model(self.folder, self.task, base=base)
        base = resolve_base(self.folder, base) if self.adapter else None
        self.tokenizer = load_tokenizer(self.folder, base)
        self.exported = None if self.adapter else self.model  # the fp32 model that was written

    def save_adapter(self, target: Path) -> None:
        self.model.save_pretrained(str(target))
        save_tokenizer(self.tokenizer, target)

    def save_full(self, target: Path, dtype: str | None = None) -> str:
        dtype = dtype or self.base_dtype
        save_weights(self.model, target, dtype)
        save_tokenizer(self.tokenizer, target)
        return dtype

    def merge_into(self, target: Path, after_merge: Callable | None = None, dtype: str | None = None) -> dict:
        """Fold the adapter into the base (fp32), save it to `target` in `dtype`, return the parity figures.

        The merge is checked in fp32 against the adapter model (`in_memory`); what was written is
        checked by reloading it against the merged model cast to the same dtype (`reloaded`: 0
        unless the write lost something; compared weight by weight). `cast` is the cost of the dtype itself, for information.

        Args:
            after_merge: Test hook applied to the merged model before it is compared
                (e.g. to corrupt a weight and prove the check catches it).
        """
        dtype = dtype or self.base_dtype
        batch = sample_batch(self.model)
        reference = logits(self.model, batch)  # before merging: merge_and_unload works in place
        merged = self.model.merge_and_unload()
        if after_merge is not None:
            after_merge(merged)
        in_memory = max_abs_diff(logits(merged, batch), reference)
        save_weights(merged, target, dtype)
        save_tokenizer(self.tokenizer, target)
        self.exported = merged
        reloaded = load_model(target, self.task, dtype="auto")
        on_disk = written_drift(reloaded, merged)
        written = logits(reloaded, batch)
        return {"max_abs_diff": max(in_memory, on_disk), "in_memory": in_memory, "reloaded": on_disk,
                "cast": max_abs_diff(written, reference), "batch_shape": list(SAMPLE_SHAPE),
                "dtype": str(reloaded.dtype).removeprefix("torch.")}

    def write_gguf(self, target: Path, kind: str) -> dict:
        """`target/<name>-<kind>.gguf` from the exported (merged) fp32 model, read back by transformers."""
        from infrastructure.export.gguf import check_gguf, gguf_file_name, write_gguf

        batch = sample_batch(self.exported)
        path = write_gguf(self.exported, self.tokenizer, Path(target) / gguf_file_name(kind), kind)
        return check_gguf(path, logits(self.exported, batch), self.tokenizer, batch)
