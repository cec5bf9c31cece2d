"""Exact resume, same-seed reproducibility and corrupt-checkpoint fallback on a real tiny GPT-2."""
from __future__ import annotations

import json

import pytest

from domain.errors import TrainingError
from infrastructure.training.state import read_trainer_state
from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config

TIMING = {"tokens_per_s", "cpu_percent", "rss_mb", "gpu_mem_mb"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_generation_dataset(tmp_path_factory.mktemp("ds") / "ds")


def train(config, run_dir, log=lambda line: None, **kwargs):
    from infrastructure.training.loop import run_training

    return run_training(config, config_dataset(config), run_dir, log, **kwargs)


def config_dataset(config):
    from pathlib import Path

    return Path(config.data.path)


def comparable(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def assert_same_rows(got, expected, tol=1e-6):
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for a, b in zip(comparable(got), comparable(expected)):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], abs=tol, rel=tol), (a["step"], key)


def resume_config(dataset, run_dir, seed=7):
    # 30 steps x 2 micro-batches of 4 rows = 240 rows: more than one epoch (189 rows), so the
    # stop at step 13 is mid-epoch and the resumed run crosses an epoch boundary. Dropout is on,
    # so a resumed run only matches when the RNG state came back too.
    return tiny_config(dataset, run_dir, training={"max_steps": 30, "gradient_accumulation_steps": 2, "seed": seed},
                       eval={"every_steps": 5, "max_batches": 2})


def assert_self_contained(checkpoint, dataset):
    """Loads without this project and without unpickling: tokenizer, weights, training state."""
    import json

    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    model = AutoModelForCausalLM.from_pretrained(str(checkpoint))
    assert len(tokenizer) == model.config.vocab_size > 1  # not the 1-token GPT2Tokenizer fallback
    assert tokenizer.get_vocab() == AutoTokenizer.from_pretrained(str(dataset / "tokenizer")).get_vocab()
    assert json.loads((checkpoint / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert not [p.name for p in checkpoint.iterdir() if p.suffix in (".pt", ".bin", ".pkl", ".pth")]
    for path in checkpoint.glob("*.safetensors"):
        assert load_file(str(path))  # safetensors: data only, no code
    for path in checkpoint.glob("*.pt"):  # none today; if one appears it must still be data only
        torch.load(path, weights_only=True)


def test_interrupted_then_resumed_run_logs_exactly_what_the_uninterrupted_run_logs(dataset, tmp_path):
    full = train(resume_config(dataset, tmp_path / "full"), tmp_path / "full")
    expected = read_metrics(tmp_path / "full")

    part_dir = tmp_path / "part"
    part = train(resume_config(dataset, part_dir), part_dir, stop_when=lambda step: step == 13)
    assert part["interrupted"] and part["steps"] == 13 and not (part_dir / "final").exists()
    checkpoint = part_dir / "checkpoints" / "step-000013"
    assert read_trainer_state(checkpoint)["position"] == {"epoch": 0, "micro": 26}  # 13 steps x 2 micro-batches
    assert_self_contained(checkpoint, dataset)

    lines = []
    resumed = train(resume_config(dataset, part_dir), part_dir, log=lines.append, resume="latest")
    assert any("resuming from" in line and "step-000013" in line for line in lines)
    assert resumed["steps"] == 30 and not resumed["interrupted"]
    assert_same_rows(read_metrics(part_dir), expected)
    assert resumed["eval_loss_before"] == full["eval_loss_before"]
    assert resumed["eval_loss_after"] == pytest.approx(full["eval_loss_after"], abs=1e-6)
    assert resumed["metrics"]["loss"]["mean"] == pytest.approx(full["metrics"]["loss"]["mean"], abs=1e-6)
    csv_lines = (part_dir / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(expected)  # header + the same rows, none duplicated by the resume


def test_same_seed_gives_the_same_metrics_and_another_seed_does_not(dataset, tmp_path):
    runs = []
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        config = tiny_config(dataset, tmp_path / name, training={"max_steps": 6, "seed": seed})
        train(config, tmp_path / name)
        runs.append(read_metrics(tmp_path / name))
    assert comparable(runs[0]) == comparable(runs[1])
    assert [r.get("loss") for r in runs[0]] != [r.get("loss") for r in runs[2]]


def test_corrupt_latest_checkpoint_is_skipped_with_a_warning_and_the_previous_one_used(dataset, tmp_path):
    config = tiny_config(dataset, tmp_path / "run", training={"max_steps": 6},
                         checkpoints={"every_steps": 2, "keep_best": 5})
    train(config, tmp_path / "run")
    root = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["step-000002", "step-000004", "step-000006"]
    weights = root / "step-000006" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy cut short, as a full disk leaves it

    lines = []
    summary = train(config, tmp_path / "run", log=lines.append, resume="latest")
    warning = next(line for line in lines if "corrupt checkpoint" in line)
    assert "step-000006" in warning and "truncated" in warning
    assert any("resuming from" in line and "step-000004" in line for line in lines)
    assert summary["steps"] == 6 and (tmp_path / "run" / "final").is_dir()

    record = json.loads((root / "step-000006" / "checkpoint.json").read_text())
    (root / "step-000006" / "checkpoint.json").write_text(json.dumps({**record, "files": {"gone.bin": {"size": 1, "xxh64": "0"}}}))
    with pytest.raises(TrainingError, match="not a usable checkpoint"):
        train(config, tmp_path / "run", resume=str(root / "step-000006"))


def test_reduce_on_plateau_cuts_the_rate_and_resumes_with_its_cuts(dataset, tmp_path):
    def config(run_dir):
        # A rate this high makes evaluations stop improving, so the plateau rule has to act.
        return tiny_config(dataset, run_dir, training={"max_steps": 12, "lr": 0.3, "warmup_steps": 0,
                                                       "scheduler": "reduce_on_plateau", "plateau_patience": 0},
                           eval={"every_steps": 1, "max_batches": 1})

    train(config(tmp_path / "full"), tmp_path / "full")
    rates = [r["lr"] for r in read_metrics(tmp_path / "full") if "lr" in r]
    assert rates[0] == pytest.approx(0.3) and rates[-1] < 0.3
    assert all(round(r / 0.3, 9) in {0.5 ** k for k in range(12)} for r in rates)  # only whole cuts

    train(config(tmp_path / "part"), tmp_path / "part", stop_when=lambda step: step == 6)
    train(config(tmp_path / "part"), tmp_path / "part", resume="latest")
    assert_same_rows(read_metrics(tmp_path / "part"), read_metrics(tmp_path / "full"))
