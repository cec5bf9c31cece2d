"""Export decisions with a fake model source: modes, the parity gate, staging and publish order."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from application.runs.export import ExportRequest, check_parity, export_model
from domain.errors import ExportError


class FakeSource:
    """Writes marker files instead of weights; `drift` is the merge's logit difference."""

    def __init__(self, adapter: bool, drift: float = 0.0):
        self.adapter, self.task, self.drift = adapter, "causal-lm", drift

    def save_adapter(self, target: Path) -> None:
        (target / "adapter_model.safetensors").write_text("adapter")

    def save_full(self, target: Path, dtype=None) -> str:
        (target / "model.safetensors").write_text("full")
        return dtype or "float32"

    def merge_into(self, target: Path, after_merge=None, dtype=None) -> dict:
        (target / "model.safetensors").write_text("merged")
        return {"max_abs_diff": self.drift, "in_memory": self.drift, "reloaded": self.drift}


class RecordingStorage:
    """A remote-like Storage (no local root) that records the order of uploads."""

    uri = "s3://bucket/export"

    def __init__(self):
        self.uploaded: list[str] = []

    def local_root(self):
        return None

    def upload_file(self, path: Path, key: str) -> None:
        self.uploaded.append(key)


class LocalTarget:
    def __init__(self, root: Path):
        self.root, self.uri = root, str(root)

    def local_root(self):
        return self.root


@pytest.mark.parametrize("diff", [1e-3, float("nan"), float("inf")])
def test_parity_gate_refuses_drift_and_nan(diff):
    with pytest.raises(ExportError, match="parity check failed"):
        check_parity({"max_abs_diff": diff}, 1e-4, "merge")
    check_parity({"max_abs_diff": 5e-5}, 1e-4, "merge")


def test_merge_is_staged_then_renamed_into_place(tmp_path):
    target = tmp_path / "out"
    manifest = export_model(ExportRequest(), output=LocalTarget(target), open_source=lambda f: FakeSource(True),
                            model_folder=tmp_path)
    assert manifest["written"] == "merged" and manifest["parity"]["tolerance"] == 1e-4
    assert (target / "model.safetensors").read_text() == "merged"
    assert json.loads((target / "export.json").read_text())["files"] == ["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_a_drifting_merge_leaves_no_output_at_all(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(ExportError, match=r"0.001 > tolerance 0.0001"):
        export_model(ExportRequest(), output=LocalTarget(target),
                     open_source=lambda f: FakeSource(True, drift=1e-3), model_folder=tmp_path)
    assert not target.exists() and not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())


def test_remote_export_uploads_the_manifest_last(tmp_path):
    storage = RecordingStorage()
    export_model(ExportRequest(mode="adapter-only"), output=storage, open_source=lambda f: FakeSource(True),
                 model_folder=tmp_path)
    assert storage.uploaded == ["adapter_model.safetensors", "export.json"]


def test_full_model_is_copied_and_adapter_only_refused(tmp_path):
    manifest = export_model(ExportRequest(mode="merge"), output=LocalTarget(tmp_path / "a"),
                            open_source=lambda f: FakeSource(False), model_folder=tmp_path)
    assert manifest["written"] == "full" and "parity" not in manifest
    with pytest.raises(ExportError, match="no adapter"):
        export_model(ExportRequest(mode="adapter-only"), output=LocalTarget(tmp_path / "b"),
                     open_source=lambda f: FakeSource(False), model_folder=tmp_path)
