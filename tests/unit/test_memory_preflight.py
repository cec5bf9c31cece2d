"""The memory preflight's arithmetic and decision, and that train_model refuses before it reads
any data (the dataset is a FakeStorage that records what was read)."""
from __future__ import annotations

import json

import pytest

from application.train.config import TrainConfig
from application.train.memory import GB, ModelShape, activation_bytes, check_memory, estimate_memory
from application.train.pipeline import train_model
from domain.errors import TrainingError
from domain.layout import STATS
from tests.unit.fakes import FakeStorage, FakeTrainer

FULL = ModelShape(parameters=1_000_000, trainable=1_000_000, layers=2, hidden=64, intermediate=256, vocab=500,
                  weight_bytes=4_000_000)
LORA = ModelShape(parameters=1_010_000, trainable=10_000, layers=2, hidden=64, intermediate=256, vocab=500,
                  weight_bytes=4_040_000)


def test_weights_gradients_and_two_adamw_moments_per_trainable_parameter():
    full = estimate_memory(FULL, micro_batch=4, seq_len=128, precision="no")
    assert (full.weights, full.gradients, full.optimizer) == (4_000_000, 4_000_000, 8_000_000)
    lora = estimate_memory(LORA, micro_batch=4, seq_len=128, precision="no")
    assert (lora.gradients, lora.optimizer) == (40_000, 80_000)  # only the adapter is trained
    assert full.total == full.weights + full.gradients + full.optimizer + full.activations


def test_activations_scale_with_tokens_and_shrink_with_bf16_and_checkpointing():
    one = activation_bytes(FULL, 1, 128, 4, False)
    assert activation_bytes(FULL, 8, 128, 4, False) == pytest.approx(8 * one, rel=1e-6)
    assert activation_bytes(FULL, 1, 256, 4, False) == pytest.approx(2 * one, rel=1e-6)
    assert activation_bytes(FULL, 1, 128, 2, False) < one
    assert activation_bytes(FULL, 1, 128, 4, True) < one


def test_refusal_names_memory_the_estimate_and_what_is_available():
    estimate = estimate_memory(FULL, micro_batch=4096, seq_len=1024, precision="no")
    with pytest.raises(TrainingError, match=r"not enough memory: this training needs about [\d.]+ GB .* but 2.00 GB "
                                            r"is available on cpu"):
        check_memory(estimate, 2 * GB, "cpu", None)
    small = estimate_memory(FULL, micro_batch=1, seq_len=16, precision="no")
    check_memory(small, 2 * GB, "cpu", None)  # fits: no error
    with pytest.raises(TrainingError, match=r"allowed by training.memory_limit_gb=0.001"):
        check_memory(small, 2 * GB, "cpu", 0.001)


class RecordingStorage(FakeStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: list[str] = []

    def read_bytes(self, key: str) -> bytes:
        self.read.append(key)
        return super().read_bytes(key)

    def download_file(self, key, local_path):
        self.read.append(key)
        return super().download_file(key, local_path)


def test_train_model_refuses_before_reading_any_data_and_prints_the_device():
    data = RecordingStorage("fake://dataset")
    data.objects.update({"train/rows.json": b"[]", STATS: json.dumps({"task": "generation", "seq_len": 2048}).encode()})
    config = TrainConfig(data={"path": data.uri}, output={"dir": "fake://run"}, training={"micro_batch_size": 512})
    trainer, lines = FakeTrainer(), []
    with pytest.raises(TrainingError, match="memory"):
        train_model(config, dataset=data, output=FakeStorage("fake://run"), run_training=trainer, log=lines.append,
                    memory_probe=lambda config, stats: (FULL, "cpu", "auto: no CUDA or MPS device", GB))
    assert data.read == [STATS] and trainer.given == []
    assert lines == ["device: cpu (auto: no CUDA or MPS device)"]
