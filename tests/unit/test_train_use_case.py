"""train_model driven through the fakes alone: the dataset and the run live in FakeStorages (so the
run is mirrored as a remote one is) and a FakeTrainer stands in for the torch loop."""
from __future__ import annotations

import json

import pytest

from application.train.config import TrainConfig
from application.train.pipeline import train_model
from domain.errors import StorageError, TrainingError
from domain.layout import RESOLVED_CONFIG, RUN_MANIFEST, RUN_SUMMARY, STATS
from tests.unit.fakes import FakeStorage, FakeTrainer

DATASET_STATS = {"task": "generation", "rows": {"train": 2},
                 "collection": {"uri": "fake://collection", "sources": [{"repo": "fake/red"}]}}


def dataset() -> FakeStorage:
    storage = FakeStorage("fake://dataset")
    storage.write_bytes("train/rows.json", b"[]")
    storage.write_bytes("tokenizer/tokenizer.json", b"{}")
    storage.write_bytes(STATS, json.dumps(DATASET_STATS).encode())
    return storage


def train(data: FakeStorage, run: FakeStorage, trainer: FakeTrainer, **options):
    config = TrainConfig(data={"path": data.uri}, output={"dir": run.uri})
    return train_model(config, dataset=data, output=run, run_training=trainer, log=lambda line: None, **options)


def test_train_fetches_the_dataset_records_lineage_and_publishes_the_summary_last():
    run, trainer = FakeStorage("fake://run"), FakeTrainer()
    result = train(dataset(), run, trainer)
    given = trainer.given[0]
    assert given["dataset_files"] == [STATS, "tokenizer/tokenizer.json", "train/rows.json"]
    assert given["run_files"] == [RESOLVED_CONFIG, RUN_MANIFEST]  # written before training starts
    assert given["resume"] is None
    assert result.summary == {"steps": 1, "final": "fake://run/final", "resumed_from": None}
    assert run.written[-1] == RUN_SUMMARY
    assert run.read_json(RUN_SUMMARY)["final"] == "fake://run/final"  # remote paths, not the temp folder
    assert run.read_bytes("final/model.txt") == b"model after step 1"
    manifest = run.read_json(RUN_MANIFEST)
    assert manifest["dataset"] == {"uri": "fake://dataset", "stats": DATASET_STATS}
    assert manifest["collection"] == {"uri": "fake://collection", "sources": [{"repo": "fake/red"}]}
    assert run.read_json(RESOLVED_CONFIG)["data"]["path"] == "fake://dataset"


def test_checkpoints_go_up_as_they_are_saved_and_reach_on_checkpoint():
    run, seen = FakeStorage("fake://run"), []

    def on_checkpoint(folder):
        seen.append((folder.name, run.exists(f"checkpoints/{folder.name}/checkpoint.json")))

    train(dataset(), run, FakeTrainer(), on_checkpoint=on_checkpoint)
    assert seen == [("step-000001", True)]  # mirrored before the caller hears of it


def test_resume_latest_fetches_the_remote_checkpoints_and_passes_resume_through():
    data, run, trainer = dataset(), FakeStorage("fake://run"), FakeTrainer()
    train(data, run, trainer)
    result = train(data, run, trainer, resume="latest")
    resumed = trainer.given[1]
    assert resumed["resume"] == "latest"
    assert "checkpoints/step-000001/weights.txt" in resumed["run_files"]
    assert result.summary["resumed_from"] == "latest"
    assert run.list("checkpoints") == ["checkpoints/step-000001/checkpoint.json", "checkpoints/step-000001/weights.txt",
                                       "checkpoints/step-000002/checkpoint.json", "checkpoints/step-000002/weights.txt"]


def test_resume_without_a_checkpoint_is_refused_before_training():
    trainer = FakeTrainer()
    with pytest.raises(TrainingError, match="no complete checkpoint"):
        train(dataset(), FakeStorage("fake://run"), trainer, resume="latest")
    assert trainer.given == []


def test_a_dataset_without_stats_is_refused_in_one_line():
    data, trainer = dataset(), FakeTrainer()
    data.delete(STATS)
    with pytest.raises(StorageError) as error:
        train(data, FakeStorage("fake://run"), trainer)
    message = str(error.value)
    assert "\n" not in message and "fake://dataset" in message and STATS in message
    assert trainer.given == []
