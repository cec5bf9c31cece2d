"""export: a run's final model -> a merged model (LoRA folded in) or the adapter alone.

A merge is only published when the merged model reproduces the adapter model's logits
(max |diff| <= tolerance, fp32). Output is staged, then renamed (local) or uploaded with
`export.json` last (remote), so a reader never sees half an export.
"""
from __future__ import annotations

import json
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from application.artifacts import publish_tree
from application.runs.reading import final_model
from domain.errors import ExportError
from domain.ports import Storage
from domain.layout import EXPORT_MANIFEST, atomic_path

MODES = ("auto", "merge", "adapter-only")


class Source(Protocol):
    """A loaded model folder that can write itself out (infrastructure/export.ExportSource)."""

    adapter: bool
    task: str

    def save_adapter(self, target: Path) -> None: ...

    def save_full(self, target: Path) -> None: ...

    def merge_into(self, target: Path, after_merge: Callable[[object], None] | None = None) -> dict: ...


@dataclass(frozen=True)
class ExportRequest:
    """What to write."""

    mode: str = "auto"
    """`merge` folds a LoRA adapter into its base; `adapter-only` writes the adapter; `auto`
    merges an adapter and copies a full model as it is."""
    onnx: bool = False
    """Also write `model.onnx`, checked against the exported model's logits."""
    tolerance: float = 1e-4
    """Largest max |logit difference| a merge (or ONNX export) may show, fp32."""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ExportError(f"export mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.onnx and self.mode == "adapter-only":
            raise ExportError("--onnx exports a whole model: use it with --merge (or no mode flag), not --adapter-only")


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
        source.save_full(target)  # nothing to merge: the weights are already whole
        return {"written": "full"}
    figures = source.merge_into(target, after_merge)
    check_parity(figures, request.tolerance, "merge")
    return {"written": "merged", "parity": {**figures, "tolerance": request.tolerance}}


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
            if request.onnx:
                figures = export_onnx(staging)
                check_parity(figures, request.tolerance, "ONNX")
                manifest["onnx"] = {**figures, "tolerance": request.tolerance}
            manifest["files"] = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
            (staging / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2))
            if root is None:
                publish_tree(staging, output, marker=EXPORT_MANIFEST)
            # Local: staged beside the target, so leaving atomic_path publishes it in one rename
            # (it replaces an empty target folder too).
    return manifest
