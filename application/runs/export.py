"""export: a run's final model -> a merged model (LoRA folded in) or the adapter alone.

A merge is only published when the merged model reproduces the adapter model's logits
(max |diff| <= tolerance, fp32). Output is staged, then renamed (local) or uploaded with
`export.json` last (remote), so a reader never sees half an export.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from application.artifacts import publish_tree
from application.runs.reading import final_model
from domain.errors import ExportError
from domain.ports import Storage
from domain.layout import EXPORT_MANIFEST, LABELS, THRESHOLD, atomic_path

MODES = ("auto", "merge", "adapter-only")
SIDECARS = (LABELS, THRESHOLD)  # files beside a model's weights that loading it needs
DTYPES = ("float32", "bfloat16", "float16")
# Largest max |logit difference| a GGUF may show against the exported model (fp32 logits):
# f16 keeps 11 significant bits per weight; q8_0 8 bits plus one scale per 32 weights.
GGUF_TOLERANCES = {"f16": 5e-2, "q8_0": 2.5e-1}


class Source(Protocol):
    """A loaded model folder that can write itself out (infrastructure/export.ExportSource)."""

    adapter: bool
    task: str

    def save_adapter(self, target: Path) -> None: ...

    def save_full(self, target: Path, dtype: str | None = None) -> str: ...

    def merge_into(self, target: Path, after_merge: Callable[[object], None] | None = None,
                   dtype: str | None = None) -> dict: ...

    def write_gguf(self, target: Path, kind: str) -> dict: ...


@dataclass(frozen=True)
class ExportRequest:
    """What to write."""

    mode: str = "auto"
    """`merge` folds a LoRA adapter into its base; `adapter-only` writes the adapter; `auto`
    merges an adapter and copies a full model as it is."""
    onnx: bool = False
    """Also write `model.onnx` (attention mask and KV cache), checked against the exported model's
    logits and greedy generation."""
    tolerance: float = 1e-4
    """Largest max |logit difference| a merge (or ONNX export) may show, fp32."""
    dtype: str | None = None
    """Dtype of the written weights; None keeps the base model's."""
    gguf: str | None = None
    """Also write a GGUF file, `f16` or `q8_0`, checked by loading it back."""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ExportError(f"export mode {self.mode!r}: use one of {', '.join(MODES)}")
        whole = [flag for flag, on in (("--onnx", self.onnx), ("--gguf", self.gguf)) if on]
        if whole and self.mode == "adapter-only":
            raise ExportError(f"{whole[0]} exports a whole model: use it with --merge (or no mode flag), "
                              f"not --adapter-only")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ExportError(f"--dtype {self.dtype}: use one of {', '.join(DTYPES)}")
        if self.gguf is not None and self.gguf not in GGUF_TOLERANCES:
            raise ExportError(f"--gguf {self.gguf}: use one of {', '.join(GGUF_TOLERANCES)}")


def check_parity(figures: dict, tolerance: float, what: str) -> None:
    """Refuse an export whose logits drift from the model it was made from."""
    diff = figures["max_abs_diff"]
    if not diff <= tolerance:  # also true for NaN
        raise ExportError(
            f"{what} parity check failed: max |logit difference| {diff:.3g} > tolerance {tolerance:g} "
            f"(in memory {figures.get('in_memory', diff):.3g}, after reload {figures.get('reloaded', diff):.3g}); "
            f"nothing was written")


def write_model(request: ExportRequest, source: Source, target: Path,
                after_merge: Callable[[object], None] | None) -> dict:
    """Write the model into `target`; returns what was done, with parity figures."""
    if request.mode == "adapter-only":
        if not source.adapter:
            raise ExportError("--adapter-only: this model was fully fine-tuned, it has no adapter to export")
        source.save_adapter(target)
        return {"written": "adapter"}
    if not source.adapter:
        dtype = source.save_full(target, dtype=request.dtype)  # nothing to merge: the weights are already whole
        return {"written": "full", "dtype": dtype}
    figures = source.merge_into(target, after_merge, dtype=request.dtype)
    check_parity(figures, request.tolerance, "merge")
    return {"written": "merged", "dtype": figures.pop("dtype", None),
            "parity": {**figures, "tolerance": request.tolerance}}


def write_gguf(request: ExportRequest, source: Source, target: Path) -> dict:
    """The GGUF file, refused (nothing published) unless transformers reads it back to the same
    tokenization and to logits within the storage type's tolerance."""
    figures = source.write_gguf(target, request.gguf)
    check_parity(figures, GGUF_TOLERANCES[request.gguf], f"GGUF {request.gguf}")
    if not figures["tokenizer_round_trip"]:
        raise ExportError("GGUF check failed: the tokenizer rebuilt from the file splits code differently; "
                          "nothing was written")
    return {**figures, "type": request.gguf, "tolerance": GGUF_TOLERANCES[request.gguf]}


def export_model(
    request: ExportRequest,
    *,
    output: Storage,
    open_source: Callable[[Path], Source],
    run: Storage | None = None,
    model_folder: Path | None = None,
    export_onnx: Callable[[Path], dict] | None = None,
    after_merge: Callable[[object], None] | None = None,
) -> dict:
    """Export a run's final/ (or `model_folder`) into `output`; returns the manifest.

    Args:
        open_source: Loads a model folder (full or adapter).
        export_onnx: Writes model.onnx into a folder holding the exported model and returns
            its parity figures; needed only for `request.onnx`.
        after_merge: Test hook passed to the merge (see ExportSource.merge_into).
    """
    root = output.local_root()
    if root is not None and root.exists() and any(root.iterdir()):
        raise ExportError(f"{output.uri} already exists and is not empty; choose another --output")
    with tempfile.TemporaryDirectory(prefix="codetrain-export-") as tmp:
        folder = model_folder or final_model(run, Path(tmp))
        source = open_source(Path(folder))
        # Local: stage next to the target (same file system) so publishing is one rename.
        with (atomic_path(root) if root is not None else nullcontext(Path(tmp) / "export")) as staging:
            staging.mkdir(parents=True)
            manifest = {"format": "codetrain-export/1", "source": run.uri if run is not None else str(folder),
                        "task": source.task, **write_model(request, source, staging, after_merge)}
            for name in SIDECARS:  # a classifier's label names and tuned cut-off travel with its weights
                if (Path(folder) / name).is_file():
                    shutil.copyfile(Path(folder) / name, staging / name)
            if (staging / THRESHOLD).is_file():
                manifest["threshold"] = json.loads((staging / THRESHOLD).read_text())
            if request.gguf:
                manifest["gguf"] = write_gguf(request, source, staging)
            if request.onnx:
                figures = export_onnx(staging)
                check_parity(figures, request.tolerance, "ONNX")
                if not figures.get("greedy_match", True):
                    raise ExportError(f"ONNX check failed: greedy generation differs from transformers' "
                                      f"({figures['greedy_onnx']} vs {figures['greedy_torch']}); nothing was written")
                manifest["onnx"] = {**figures, "tolerance": request.tolerance}
            manifest["files"] = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
            (staging / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2))
            if root is None:
                publish_tree(staging, output, marker=EXPORT_MANIFEST)
            # Local: staged beside the target, so leaving atomic_path publishes it in one rename
            # (it replaces an empty target folder too).
    return manifest
