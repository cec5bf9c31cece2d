"""Two projects on one base: each gets its own LoRA adapter, the adapters differ, and one loaded
base serves both in one process (peft multi-adapter), giving each adapter's own logits."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from peft import PeftModel

from infrastructure.evaluation.adapters import SharedBase
from infrastructure.evaluation.loading import load_model
from presentation.cli import cli
from tests.project_fixtures import make_base, make_source

pytestmark = pytest.mark.slow


def test_two_projects_adapters_differ_and_one_base_serves_both(tmp_path, monkeypatch):
    monkeypatch.setenv("CODETRAIN_HOME", str(tmp_path / "home"))
    base = make_base(tmp_path / "base")
    adapters = {}
    for name, language in (("py", "python"), ("go", "go")):
        source = make_source(tmp_path / f"src-{name}", (language,))
        runner = CliRunner()
        for args in (["add", name, str(source), "--base", str(base), "--set", "dataset.seq_len=32",
                      "--set", "training.max_steps=12", "--set", "training.lr=2e-2", "--set", "training.num_threads=1",
                      "--set", "training.micro_batch_size=2"],  # verified near-dup leaves few of the template snippets
                     ["train", name]):
            result = runner.invoke(cli, ["project", *args])
            assert result.exit_code == 0, result.output
        adapters[name] = tmp_path / "home" / "projects" / name / "runs" / "run-0001" / "final"

    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    alone = {}
    for name, folder in adapters.items():  # each adapter on a base of its own: the reference logits
        with torch.no_grad():
            alone[name] = PeftModel.from_pretrained(load_model(base, "causal-lm"), str(folder))(input_ids=ids).logits

    shared = SharedBase(base)
    embedding = shared.base.get_input_embeddings().weight
    served = {}
    for name in ("py", "go", "py"):  # switch back and forth without reloading
        with torch.no_grad():
            served[name] = shared.use(name, adapters[name])(input_ids=ids).logits
        assert shared.base.get_input_embeddings().weight is embedding  # the same loaded base throughout
    assert shared.adapters == ["py", "go"]
    assert (served["py"] - served["go"]).abs().max() > 1e-2  # the two projects' adapters differ
    for name in adapters:
        assert torch.allclose(served[name], alone[name], atol=1e-5), name
