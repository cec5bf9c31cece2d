"""Early stopping, retention, the checkpoint hook, precision and example weights on a real tiny GPT-2."""
from __future__ import annotations

from pathlib import Path

import pytest

from application.train.checkpoint_policy import CheckpointInfo, checkpoints_to_delete
from domain.errors import TrainingError
from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_generation_dataset(tmp_path_factory.mktemp("ds") / "ds")


def train(config, run_dir, log=lambda line: None, **kwargs):
    from infrastructure.training.loop import run_training

    return run_training(config, Path(config.data.path), run_dir, log, **kwargs)


def test_early_stopping_stops_at_the_first_evaluation_without_improvement(dataset, tmp_path):
    # min_delta larger than any possible gain: the second evaluation cannot count as better.
    config = tiny_config(dataset, tmp_path, training={"max_steps": 40},
                         eval={"every_steps": 2, "early_stopping_patience": 1, "early_stopping_min_delta": 100.0})
    lines = []
    summary = train(config, tmp_path, log=lines.append)
    assert summary["stopped_early"] and summary["steps"] == 4
    assert any("early stopping at step 4" in line for line in lines)
    assert summary["best"]["step"] == 2
    assert (tmp_path / "checkpoints" / "step-000004").is_dir() and (tmp_path / "final").is_dir()


def test_run_keeps_the_best_checkpoints_plus_the_latest_and_calls_the_hook(dataset, tmp_path):
    config = tiny_config(dataset, tmp_path, training={"max_steps": 12, "lr": 0.02},
                         eval={"every_steps": 2}, checkpoints={"every_steps": 2, "keep_best": 2})
    seen = []

    def hook(folder: Path):
        seen.append((folder.name, sorted(p.name for p in folder.parent.iterdir())))

    train(config, tmp_path, on_checkpoint=hook)
    evals = {r["step"]: r["eval_loss"] for r in read_metrics(tmp_path) if "eval_loss" in r}
    every = [CheckpointInfo(f"step-{s:06d}", s, evals[s]) for s in range(2, 13, 2)]
    expected = sorted({c.name for c in every} - set(checkpoints_to_delete(every, 2, "min")))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == expected
    assert [name for name, _ in seen] == [c.name for c in every]
    assert all(len(listing) <= 3 and name in listing for name, listing in seen)  # called after pruning


def test_fp16_on_cpu_fails_at_start_up_with_the_reason(dataset, tmp_path):
    config = tiny_config(dataset, tmp_path, training={"precision": "fp16"})
    with pytest.raises(TrainingError, match="fp16 needs a CUDA GPU"):
        train(config, tmp_path)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_bf16_autocast_trains_on_cpu_and_rounds_differently_from_fp32(dataset, tmp_path):
    losses = {}
    for precision in ("no", "bf16"):
        config = tiny_config(dataset, tmp_path / precision, training={"max_steps": 4, "precision": precision})
        summary = train(config, tmp_path / precision)
        assert summary["eval_loss_after"] < summary["eval_loss_before"]
        losses[precision] = [r["loss"] for r in read_metrics(tmp_path / precision) if "loss" in r]
    assert losses["bf16"] != losses["no"]  # autocast really ran in bfloat16
    assert losses["bf16"] == pytest.approx(losses["no"], abs=0.05)


def test_example_weights_scale_the_loss_only_when_enabled(tmp_path):
    weighted = build_generation_dataset(tmp_path / "ds", weights=True, docs=60)
    losses = {}
    for use in (True, False):
        config = tiny_config(weighted, tmp_path / str(use), training={"max_steps": 2}, data={"use_weights": use})
        train(config, tmp_path / str(use))
        losses[use] = [r["loss"] for r in read_metrics(tmp_path / str(use)) if "loss" in r]
    assert losses[True] != losses[False]


def test_padded_rows_with_attention_mask_train(tmp_path):
    padded = build_generation_dataset(tmp_path / "ds", pack=False, docs=60)
    config = tiny_config(padded, tmp_path / "run", training={"max_steps": 6})
    summary = train(config, tmp_path / "run")
    assert summary["eval_loss_after"] < summary["eval_loss_before"]


def test_lora_with_gradient_checkpointing_trains_only_the_adapter(dataset, tmp_path):
    config = tiny_config(dataset, tmp_path, model={"gradient_checkpointing": True},
                         adapter={"type": "lora", "r": 4, "alpha": 8, "dropout": 0.0},
                         training={"max_steps": 4, "lr": 0.02})
    summary = train(config, tmp_path)
    assert summary["parameters"]["trainable"] < summary["parameters"]["total"] / 4
    assert all(row["grad_norm"] > 0 for row in read_metrics(tmp_path) if "grad_norm" in row)
    assert (tmp_path / "final" / "adapter_model.safetensors").exists()


def test_merged_lora_export_is_a_plain_transformers_model(dataset, tmp_path):
    from transformers import AutoModelForCausalLM

    config = tiny_config(dataset, tmp_path, adapter={"type": "lora", "r": 4, "alpha": 8, "merge_on_export": True},
                         training={"max_steps": 3, "lr": 0.02})
    summary = train(config, tmp_path)
    final = tmp_path / "final"
    assert not (final / "adapter_config.json").exists() and (final / "tokenizer.json").exists()
    model = AutoModelForCausalLM.from_pretrained(str(final))
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert summary["eval_loss_after"] < summary["eval_loss_before"]


def test_training_numbers_are_never_called_validation(dataset, tmp_path):
    """No validation rows: refused in one line, or evaluated on train when asked and named so."""
    import shutil

    from datasets import DatasetDict, load_from_disk

    no_validation = tmp_path / "ds"
    data = load_from_disk(str(dataset))
    DatasetDict({"train": data["train"], "validation": data["validation"].select([]),
                 "test": data["test"]}).save_to_disk(str(no_validation), num_shards={"train": 1, "validation": 1, "test": 1})
    for extra in ("stats.json", "tokenizer"):
        copy = shutil.copytree if (dataset / extra).is_dir() else shutil.copy
        copy(dataset / extra, no_validation / extra)
    with pytest.raises(TrainingError, match="no validation rows.*eval.on_train=true"):
        train(tiny_config(no_validation, tmp_path / "refused", data={"path": str(no_validation)}), tmp_path / "refused")
    lines = []
    summary = train(tiny_config(no_validation, tmp_path / "run", eval={"on_train": True, "max_batches": 2}),
                    tmp_path / "run", log=lines.append)
    assert summary["eval_split"] == "training-split"
    assert any(line.startswith("training-split loss after training") for line in lines)
    assert not any("validation loss" in line for line in lines)


def test_a_causal_run_reports_its_loss_beside_the_unigram_baseline(dataset, tmp_path):
    lines = []
    summary = train(tiny_config(dataset, tmp_path, training={"max_steps": 30}), tmp_path, log=lines.append)
    assert summary["unigram_loss"] > 0 and summary["loss_vs_unigram"] == pytest.approx(
        summary["eval_loss_after"] / summary["unigram_loss"])
    assert any(line.startswith("validation loss ") and " vs unigram " in line for line in lines)
