"""`train` on a plain saved DatasetDict (no stats.json): what is missing is derived, or named in one
line; and the vocabulary check for a hub-name model resolved offline from the Hugging Face cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.errors import TrainingError
from presentation.container import Container
from tests.instruct_fixtures import write_train_config
from tests.train_fixtures import build_generation_dataset, read_metrics, snippets, tiny_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """A tiny GPT-2 saved like a hub model: weights, config and its own tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from infrastructure.data.tokenization import train_bpe_tokenizer

    folder = tmp_path_factory.mktemp("pretrained")
    tokenizer = train_bpe_tokenizer(snippets("python", 30) + snippets("go", 30), 300)
    config = GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=64, vocab_size=len(tokenizer),
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    GPT2LMHeadModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def train(dataset: Path, tmp_path: Path, pretrained: Path | None):
    model = {"name_or_path": str(pretrained)} if pretrained else {}
    config = tiny_config(dataset, tmp_path / "run", model=model, training={"max_steps": 3, "micro_batch_size": 2})
    return Container().train(config, log=lambda message: None)


def test_a_plain_dataset_dict_of_text_is_tokenized_and_packed_with_the_models_tokenizer(tmp_path, pretrained):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_dict({"text": snippets("python", 40)}),
                 "test": Dataset.from_dict({"text": snippets("go", 8)})}).save_to_disk(str(tmp_path / "plain"))
    result = train(tmp_path / "plain", tmp_path, pretrained)
    manifest = json.loads((tmp_path / "run" / "run_manifest.json").read_text())
    plain = manifest["dataset"]["stats"]["plain_dataset"]
    assert plain["derived"] == ["input_ids (tokenized text)", "labels", "position_ids (packed)",
                                "validation (5% of the train rows, held out)"]
    assert manifest["dataset"]["stats"]["packed"] is True and manifest["dataset"]["stats"]["seq_len"] == 64
    assert result.summary["steps"] == 3 and read_metrics(tmp_path / "run")


def test_ragged_input_ids_without_labels_are_padded_and_labelled(tmp_path, pretrained):
    from datasets import Dataset, DatasetDict
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(pretrained))
    ids = tokenizer(snippets("python", 30), add_special_tokens=False)["input_ids"]
    assert len({len(i) for i in ids}) > 1
    DatasetDict({"train": Dataset.from_dict({"input_ids": ids})}).save_to_disk(str(tmp_path / "plain"))
    train(tmp_path / "plain", tmp_path, pretrained)
    stats = json.loads((tmp_path / "run" / "run_manifest.json").read_text())["dataset"]["stats"]
    assert stats["plain_dataset"]["derived"] == ["attention_mask (padding)", "labels",
                                                 "validation (5% of the train rows, held out)"]


def test_what_cannot_be_derived_is_named_in_one_line(tmp_path, pretrained):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_dict({"code": ["x = 1"] * 4})}).save_to_disk(str(tmp_path / "plain"))
    with pytest.raises(TrainingError, match=r"plain DatasetDict needs an input_ids or a text column \(has code\)"):
        train(tmp_path / "plain", tmp_path, pretrained)
    DatasetDict({"train": Dataset.from_dict({"text": ["x = 1"] * 4})}).save_to_disk(str(tmp_path / "plain2"))
    with pytest.raises(TrainingError, match=r"plain DatasetDict \(no stats.json\) needs model.name_or_path"):
        train(tmp_path / "plain2", tmp_path, None)


def hub_cache(root: Path, name: str, files: dict[str, str]) -> Path:
    """The Hugging Face cache layout of one model snapshot (what a past download leaves)."""
    repo = root / f"models--{name.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    for rel, text in files.items():
        (snapshot / rel).write_text(text)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    return snapshot


def test_a_hub_name_model_whose_vocab_size_mismatches_the_dataset_is_refused(tmp_path):
    dataset = build_generation_dataset(tmp_path / "ds", vocab_size=300)  # a 300-token tokenizer
    cache = tmp_path / "hub"
    hub_cache(cache, "someone/tiny-coder", {"config.json": json.dumps(
        {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 8000, "n_layer": 1,
         "n_embd": 32, "n_head": 2, "n_positions": 64})})
    config = write_train_config(tmp_path / "config.yaml", dataset, tmp_path / "run",
                                model={"name_or_path": "someone/tiny-coder"})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--config", str(config)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    line, = done.stderr.strip().splitlines()
    assert line == ("Error: model.name_or_path someone/tiny-coder has vocab_size 8000 (embedding rows) and no "
                    "tokenizer, but the dataset's tokenizer has 300 tokens: its ids would mean nothing to the "
                    "model; rebuild it with `python main.py dataset --tokenizer someone/tiny-coder`")
