"""`eval.threshold: tune`: a two-class classifier trained with balanced sampling gets the cut-off
that maximises the rare class's F1 on validation, written to final/ and used by `evaluate`."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from application.train.metric_stats import best_f1_threshold
from presentation.cli import cli
from tests.eval_fixtures import tiny_tokenizer


def security_dataset(folder, tokenizer):
    from datasets import Dataset, DatasetDict

    def rows(count, every):
        texts = [("data = pickle.loads(blob)\n" if k % every == 0 else f"total = add_{k}(a, b)\n") for k in range(count)]
        return [{"input_ids": tokenizer(t)["input_ids"], "labels": int(k % every == 0)} for k, t in enumerate(texts)]

    DatasetDict({"train": Dataset.from_list(rows(60, 6)), "validation": Dataset.from_list(rows(30, 10)),
                 "test": Dataset.from_list(rows(30, 10))}).save_to_disk(str(folder))
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    (folder / "stats.json").write_text(json.dumps({"task": "security", "label_map": {"clean": 0, "vulnerable": 1},
                                                   "pad_token_id": 0}))
    return folder


def test_tune_writes_the_validation_best_f1_cut_off_and_evaluate_uses_it(tmp_path):
    tokenizer = tiny_tokenizer()
    data = security_dataset(tmp_path / "ds", tokenizer)
    config = {
        "model": {"task": "sequence-classification",
                  "architecture": {"type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2,
                                   "max_position_embeddings": 64}},
        "data": {"path": str(data), "sampling": "balanced"},
        "training": {"max_steps": 12, "micro_batch_size": 6, "lr": 5e-3, "warmup_steps": 1, "seed": 3,
                     "log_every_steps": 4, "progress_bar": False, "num_threads": 1},
        "eval": {"metric": "eval_pr_auc", "mode": "max", "threshold": "tune"},
        "output": {"dir": str(tmp_path / "run")},
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    trained = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "train.yaml")])
    assert trained.exit_code == 0, trained.output
    assert "decision threshold for 'vulnerable': probability >= " in trained.output

    tuned = json.loads((tmp_path / "run" / "final" / "threshold.json").read_text())
    last = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
            if "eval_best_threshold" in line][-1]
    assert tuned["threshold"] == last["eval_best_threshold"] and tuned["f1"] == last["eval_best_f1"]
    assert tuned["label"] == "vulnerable" and tuned["tuned_on"] == "validation"

    # The cut-off is the best-F1 one of the trained model's own validation probabilities.
    evaluated = CliRunner().invoke(cli, ["evaluate", "--run", str(tmp_path / "run"), "--split", "validation",
                                         "--threshold", "argmax", "--output", str(tmp_path / "val")])
    assert evaluated.exit_code == 0, evaluated.output
    from infrastructure.evaluation.loading import load_model
    from infrastructure.evaluation.scoring import load_split, predictions

    model = load_model(tmp_path / "run" / "final", "sequence-classification")
    truth, _, probabilities = predictions(model, load_split(data, "validation"), 8, pad_id=0)
    best = best_f1_threshold([p[1] for p in probabilities], truth)
    assert best[0] == pytest.approx(tuned["threshold"], abs=1e-6)

    evaluated = CliRunner().invoke(cli, ["evaluate", "--run", str(tmp_path / "run"), "--split", "test"])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads((tmp_path / "run" / "eval" / "dataset-test.json").read_text())
    assert result["decision"]["threshold"] == tuned["threshold"]
    assert "predicted 'vulnerable' at probability >= " in evaluated.output
    scores = [p[1] for p in predictions(model, load_split(data, "test"), 8, pad_id=0)[2]]
    flagged = sum(s >= tuned["threshold"] for s in scores)
    assert sum(row[1] for row in result["confusion_matrix"]) == flagged


def test_tune_without_a_rare_example_in_validation_says_so_and_writes_nothing(tmp_path):
    from datasets import load_from_disk

    tokenizer = tiny_tokenizer()
    data = security_dataset(tmp_path / "ds", tokenizer)
    splits = load_from_disk(str(data))
    clean = splits["validation"].filter(lambda row: row["labels"] == 0)
    from datasets import DatasetDict

    DatasetDict({"train": splits["train"], "validation": clean, "test": splits["test"]}).save_to_disk(str(tmp_path / "ds2"))
    (tmp_path / "ds2" / "stats.json").write_text((data / "stats.json").read_text())
    tokenizer.save_pretrained(str(tmp_path / "ds2" / "tokenizer"))
    config = {
        "model": {"task": "sequence-classification",
                  "architecture": {"type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2,
                                   "max_position_embeddings": 64}},
        "data": {"path": str(tmp_path / "ds2")},
        "training": {"max_steps": 2, "micro_batch_size": 6, "progress_bar": False, "num_threads": 1},
        "eval": {"threshold": "tune"},
        "output": {"dir": str(tmp_path / "run")},
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    trained = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "train.yaml")])
    assert trained.exit_code == 0, trained.output
    assert "the validation rows have no 'vulnerable' example to tune on; predictions stay argmax" in trained.output
    assert not (tmp_path / "run" / "final" / "threshold.json").exists()
