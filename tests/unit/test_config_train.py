"""The typed training config: cross-section rules, each refused in one line naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from application.train.config import load_train_config
from domain.errors import ConfigError


def load(tmp_path, text: str, *overrides: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_train_config(path, list(overrides))


@pytest.mark.parametrize("overrides, needles", [
    (["eval.metric=eval_accuracy"], ["eval.metric", "eval_accuracy", "causal-lm"]),
    (["model.load_in_4bit=true"], ["4/8-bit", "adapter.type=lora"]),
    (["model.load_in_4bit=true", "adapter.type=lora", "adapter.merge_on_export=true"], ["merge_on_export"]),
    (["training.scheduler=reduce_on_plateau"], ["reduce_on_plateau", "eval.every_steps"]),
    (["checkpoints.keep_best=0"], ["checkpoints.keep_best", "(got 0)"]),
    (["model.architecture.dropout=1.5"], ["model.architecture.dropout", "(got 1.5)"]),
    (["tracking.comet=true"], ["tracking.comet", "unknown key"]),
])
def test_inconsistent_settings_are_one_line_errors(tmp_path, overrides, needles):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, "training:\n  lr: 0.001\n", *overrides)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "c.yaml"))
    for needle in needles:
        assert needle in message


def test_classification_metrics_and_plateau_with_evaluation_are_accepted(tmp_path):
    config = load(tmp_path, "model:\n  task: sequence-classification\neval:\n  metric: eval_f1\n  mode: max\n",
                  "eval.every_steps=10", "training.scheduler=reduce_on_plateau",
                  "model.load_in_4bit=true", "adapter.type=lora")
    assert (config.eval.metric, config.eval.mode, config.training.scheduler) == ("eval_f1", "max", "reduce_on_plateau")


def test_the_demo_config_is_valid():
    config = load_train_config(Path(__file__).resolve().parents[2] / "training_config.yaml")
    assert config.checkpoints.every_steps and config.eval.every_steps
    assert config.model.architecture.dropout == 0.0


@pytest.mark.parametrize("override, suggestion", [
    ("training.learning_rate=1e-3", "did you mean training.lr?"),
    ("adapter.lora_r=16", "did you mean adapter.r?"),
    ("lora_alpha=32", "did you mean adapter.alpha?"),
    ("training.micro_batch_sise=4", "did you mean training.micro_batch_size?"),
    ("checkpoints.keep_bestt=3", "did you mean checkpoints.keep_best?"),
])
def test_unknown_keys_name_the_key_meant(override, suggestion):
    with pytest.raises(ConfigError, match="unknown key") as error:
        load_train_config(None, [override])
    assert suggestion in str(error.value)


def test_comma_lists_for_list_keys():
    config = load_train_config(None, ["adapter.type=lora", "adapter.target_modules=q_proj, v_proj"])
    assert config.adapter.target_modules == ["q_proj", "v_proj"]
    assert load_train_config(None, ["adapter.target_modules=all-linear"]).adapter.target_modules == "all-linear"
