"""Exporting a trained model: LoRA folded into the base (peft), or the adapter alone.

Every merge is checked: the merged model's logits on a sample batch must match the adapter
model's, in fp32, both in memory and after a reload of what was written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from infrastructure.evaluation.loading import is_adapter, load_model, load_tokenizer, model_task, resolve_base

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


class ExportSource:
    """The model to export: a run's final/ (or any model folder), loaded in fp32."""

    def __init__(self, folder: Path, base: str | None = None):
        self.folder = Path(folder)
        self.adapter = is_adapter(self.folder)
        self.task = model_task(self.folder)
        self.model = load_model(self.folder, self.task, base=base)
        base = resolve_base(self.folder, base) if self.adapter else None
        self.tokenizer = load_tokenizer(self.folder, base)

    def save_adapter(self, target: Path) -> None:
        self.model.save_pretrained(str(target))
        self.tokenizer.save_pretrained(str(target))

    def save_full(self, target: Path) -> None:
        self.model.save_pretrained(str(target), safe_serialization=True)
        self.tokenizer.save_pretrained(str(target))

    def merge_into(self, target: Path, after_merge: Callable | None = None) -> dict:
        """Fold the adapter into the base, save it to `target`, return the parity figures.

        Args:
            after_merge: Test hook applied to the merged model before it is compared
                (e.g. to corrupt a weight and prove the check catches it).
        """
        batch = sample_batch(self.model)
        reference = logits(self.model, batch)  # before merging: merge_and_unload works in place
        merged = self.model.merge_and_unload()
        if after_merge is not None:
            after_merge(merged)
        in_memory = max_abs_diff(logits(merged, batch), reference)
        merged.save_pretrained(str(target), safe_serialization=True)
        self.tokenizer.save_pretrained(str(target))
        reloaded = load_model(target, self.task)
        on_disk = max_abs_diff(logits(reloaded, batch), reference)
        return {"max_abs_diff": max(in_memory, on_disk), "in_memory": in_memory, "reloaded": on_disk,
                "batch_shape": list(SAMPLE_SHAPE)}


def export_onnx(folder: Path) -> dict:
    """Write `folder/model.onnx` (input_ids -> logits, dynamic batch and length) for the model
    saved in `folder`, and compare onnxruntime's logits with torch's on two batch shapes."""
    import importlib.util

    import torch

    from domain.errors import ExportError

    missing = [m for m in ("onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"--onnx needs {' and '.join(missing)} (pip install -r requirements.txt)")
    import onnxruntime

    model = load_model(folder)

    class Logits(torch.nn.Module):  # one tensor in, one out: what an ONNX consumer expects
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids):
            return self.inner(input_ids=input_ids, use_cache=False).logits

    wrapped = Logits(model).eval()
    batch = sample_batch(model)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence")}
    program = torch.onnx.export(wrapped, (batch,), dynamo=True, verbose=False, input_names=["input_ids"],
                                output_names=["logits"], dynamic_shapes={"input_ids": dims})
    program.save(str(Path(folder) / "model.onnx"))
    session = onnxruntime.InferenceSession(str(Path(folder) / "model.onnx"), providers=["CPUExecutionProvider"])
    other = sample_batch(model, seed=1)[:1, :17]  # another shape: the axes really are dynamic
    diffs = [max_abs_diff(torch.from_numpy(session.run(None, {"input_ids": ids.numpy()})[0]),
                          logits(wrapped.inner, ids)) for ids in (batch, other)]
    return {"max_abs_diff": max(diffs), "batch_shapes": [list(batch.shape), list(other.shape)], "file": "model.onnx"}
